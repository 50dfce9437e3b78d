package gitrepo_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// TestReadDirsReadsOnlyTheDirectories: two commits' chart directories,
// read from a repository whose other directories weigh far more, cost the
// source check's commit request per commit, one request per tree level for
// both, and one request for the blobs; nothing outside them is fetched.
func TestReadDirsReadsOnlyTheDirectories(t *testing.T) {
	srv := gittest.New(t)
	url := srv.CreateRepo(t, "source.git")
	dir := srv.Dir("source.git")
	heavy := map[string]string{}
	for i := 0; i < 40; i++ {
		heavy["web/assets/f"+string(rune('a'+i%26))+string(rune('a'+i/26))+".bin"] = strings.Repeat(string(rune('a'+i%26)), 20000)
	}
	gittest.CommitFiles(t, dir, "main", heavy, "assets")
	c1 := gittest.CommitFiles(t, dir, "main", map[string]string{
		"k8s/helm/Chart.yaml":                      "name: a\n",
		"k8s/helm/templates/deployment.yaml":       "kind: Deployment\n",
		"k8s/helm/charts/redis/Chart.yaml":         "name: redis\n",
		"k8s/helm/charts/redis/templates/svc.yaml": "kind: Service\n",
	}, "chart v1")
	c2 := gittest.CommitFiles(t, dir, "main", map[string]string{"k8s/helm/templates/deployment.yaml": "kind: Deployment # v2\n"}, "chart v2")

	r, err := gitrepo.Open(context.Background(), url, gitrepo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	reads := []gitrepo.DirRead{{Commit: plumbing.NewHash(c2), Dir: "k8s/helm"}, {Commit: plumbing.NewHash(c1), Dir: "k8s/helm"}}
	got, err := r.ReadDirs(context.Background(), reads, gitrepo.DirLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if d := string(got[reads[0]]["templates/deployment.yaml"]); d != "kind: Deployment # v2\n" {
		t.Errorf("new deployment.yaml = %q", d)
	}
	if d := string(got[reads[1]]["templates/deployment.yaml"]); d != "kind: Deployment\n" {
		t.Errorf("old deployment.yaml = %q", d)
	}
	if n := len(got[reads[1]]); n != 4 || string(got[reads[1]]["charts/redis/templates/svc.yaml"]) != "kind: Service\n" {
		t.Errorf("old chart has %d files: %v", n, got[reads[1]])
	}
	st := srv.Stats()
	if st.BytesSent > 40000 {
		t.Errorf("read %d bytes; the chart directories are a few hundred, the assets 800 KB", st.BytesSent)
	}
	// Per commit, the commit with the trees down to k8s/helm (one request
	// here, where tree:2 is allowed); then one request for both
	// directories' subtrees and one for the blobs.
	if up := st.Service(gittest.ServiceUploadPack).Requests; up != 4 {
		t.Errorf("%d upload-pack requests, want 4", up)
	}

	_, err = r.ReadDirs(context.Background(), []gitrepo.DirRead{{Commit: plumbing.NewHash(c2), Dir: "k8s/nothing"}}, gitrepo.DirLimits{})
	if !errors.Is(err, gitrepo.ErrPathNotFound) {
		t.Errorf("a missing directory: %v, want ErrPathNotFound", err)
	}
	_, err = r.ReadDirs(context.Background(), reads, gitrepo.DirLimits{MaxFiles: 3})
	if !errors.Is(err, gitrepo.ErrTooManyFiles) {
		t.Errorf("over the file limit: %v, want ErrTooManyFiles", err)
	}
}
