package gittest_test

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
)

func TestServerServesCommitsAndCounts(t *testing.T) {
	srv := gittest.New(t)
	url := srv.CreateRepo(t, "repo.git")
	dir := srv.Dir("repo.git")
	first := gittest.CommitFiles(t, dir, "main", map[string]string{"a.txt": "one\n", "d/b.txt": "two\n"}, "first")
	second := gittest.CommitEntries(t, dir, "main", "second",
		gittest.Entry{Path: "run.sh", Data: "#!/bin/sh\n", Mode: gittest.ModeExecutable},
		gittest.Entry{Path: "link", Data: "/etc", Mode: gittest.ModeSymlink},
		gittest.Entry{Path: "a.txt", Delete: true},
	)
	if first == second || len(second) != 40 {
		t.Fatalf("commits %q, %q", first, second)
	}
	if got := gittest.Git(t, dir, "rev-parse", "main^"); got != first {
		t.Errorf("parent of main = %s, want %s", got, first)
	}
	if got := gittest.Git(t, dir, "ls-tree", "-r", "--format=%(objectmode) %(path)", "main"); got != "100644 d/b.txt\n120000 link\n100755 run.sh" {
		t.Errorf("tree of main:\n%s", got)
	}
	gittest.Git(t, dir, "fsck", "--strict")

	srv.ResetStats()
	clone := filepath.Join(t.TempDir(), "clone")
	gittest.Git(t, "", "clone", "--quiet", "--depth=1", "--filter=blob:none", url, clone)
	if got := gittest.Git(t, clone, "rev-parse", "HEAD"); got != second {
		t.Errorf("cloned HEAD = %s, want %s", got, second)
	}
	st := srv.Stats()
	if st.Service(gittest.ServiceInfoRefs).Requests < 1 || st.Service(gittest.ServiceUploadPack).Requests < 1 {
		t.Errorf("stats after clone: %+v", st)
	}
	if st.BytesSent <= 0 || st.Requests != st.Service(gittest.ServiceInfoRefs).Requests+st.Service(gittest.ServiceUploadPack).Requests {
		t.Errorf("stats after clone: %+v", st)
	}

	// Push over HTTP works without REMOTE_USER.
	if err := exec.Command("sh", "-c", "echo hi > "+filepath.Join(clone, "c.txt")).Run(); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, clone, "add", "c.txt")
	gittest.Git(t, clone, "commit", "--quiet", "-m", "third")
	gittest.Git(t, clone, "push", "--quiet", "origin", "HEAD:main")
	if got := gittest.Git(t, dir, "log", "--format=%s", "-1", "main"); got != "third" {
		t.Errorf("server main subject = %q, want third", got)
	}
	if srv.Stats().Service(gittest.ServiceReceivePack).Requests != 1 {
		t.Errorf("receive-pack requests: %+v", srv.Stats())
	}
}

func TestBasicAuth(t *testing.T) {
	srv := gittest.New(t, gittest.WithBasicAuth("user", "s3cret"))
	srv.CreateRepo(t, "repo.git")
	gittest.CommitFiles(t, srv.Dir("repo.git"), "main", map[string]string{"a": "a"}, "init")
	base := strings.TrimPrefix(srv.URL, "http://")

	cmd := exec.Command("git", "ls-remote", "http://user:wrong@"+base+"/repo.git")
	cmd.Env = gittest.Env()
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("ls-remote with a wrong password succeeded: %s", out)
	}
	if got := gittest.Git(t, "", "ls-remote", "http://user:s3cret@"+base+"/repo.git", "refs/heads/main"); !strings.HasSuffix(got, "refs/heads/main") {
		t.Errorf("ls-remote = %q", got)
	}
	res, err := http.Get(srv.URL + "/repo.git/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous status = %d, want 401", res.StatusCode)
	}
}

func TestWithoutFilterAndMiddleware(t *testing.T) {
	var seen []string
	srv := gittest.New(t, gittest.WithoutFilter(), gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = append(seen, r.URL.Path)
			next.ServeHTTP(w, r)
		})
	}))
	url := srv.CreateRepo(t, "repo.git")
	gittest.CommitFiles(t, srv.Dir("repo.git"), "main", map[string]string{"a": "a"}, "init")
	res, err := http.Get(url + "/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	adv := string(body)
	if !strings.Contains(adv, "shallow") || strings.Contains(adv, " filter") {
		t.Errorf("advertisement should have shallow and no filter:\n%q", adv)
	}
	if len(seen) != 1 || seen[0] != "/repo.git/info/refs" {
		t.Errorf("middleware saw %q", seen)
	}
}
