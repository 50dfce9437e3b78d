package warehouse_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

const dir = "warehouses/codeai/builds"

func record(t *testing.T, n int, created time.Time) *warehouse.Record {
	t.Helper()
	sha := fmt.Sprintf("%040x", n+1)
	rec, err := warehouse.New(sha, "ghcr.io/code-dot-org/code-dot-org:git-"+sha,
		"sha256:"+strings.Repeat(fmt.Sprintf("%x", n%16), 64), warehouse.PackagingHelm,
		"https://github.com/code-dot-org/code-dot-org.git", "k8s/helm", created)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

type gitops struct {
	srv  *gittest.Server
	url  string
	bare string
}

func newGitops(t *testing.T) *gitops {
	srv := gittest.New(t)
	g := &gitops{srv: srv, url: srv.CreateRepo(t, "gitops.git"), bare: srv.Dir("gitops.git")}
	gittest.CommitFiles(t, g.bare, "main", map[string]string{"README.md": "gitops\n"}, "init")
	return g
}

func (g *gitops) publish(t *testing.T, rec *warehouse.Record, force bool) (warehouse.PublishResult, error) {
	t.Helper()
	return warehouse.Publish(context.Background(), g.remote(t), rec, warehouse.PublishOptions{
		Dir: dir, Branch: "main", ForceCurrent: force, MaxAttempts: 30, BaseDelay: 20 * time.Millisecond,
		Author: ciAuthor(),
	})
}

// ciAuthor signs the test's publishes, at a fixed time.
func ciAuthor() gitrepo.Signature {
	return gitrepo.Signature{Name: "ci", Email: "ci@example.com", When: time.Unix(1774174209, 0)}
}

// remote opens the GitOps repository as the CI publisher does.
func (g *gitops) remote(t *testing.T) *gitrepo.Remote {
	t.Helper()
	remote, err := gitrepo.Open(context.Background(), g.url, gitrepo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return remote
}

func (g *gitops) git(t *testing.T, args ...string) string { return gittest.Git(t, g.bare, args...) }

func TestPublishWritesBothFilesInOneCommit(t *testing.T) {
	g := newGitops(t)
	before := g.git(t, "rev-parse", "main")
	rec := record(t, 1, time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	res, err := g.publish(t, rec, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != warehouse.OutcomePublished || res.Attempts != 1 {
		t.Fatalf("outcome %s attempts %d", res.Outcome, res.Attempts)
	}
	if n := g.git(t, "rev-list", "--count", before+"..main"); n != "1" {
		t.Fatalf("%s new commits, want 1", n)
	}
	if res.Commit != g.git(t, "rev-parse", "main") {
		t.Fatalf("reported commit %s is not the tip", res.Commit)
	}
	hist := dir + "/" + warehouse.HistoricalName(rec.GitCommit)
	if files := g.git(t, "diff", "--name-only", before, "main"); files != dir+"/current.yaml\n"+hist {
		t.Fatalf("the commit changed:\n%s", files)
	}
	want := string(rec.Render())
	for _, p := range []string{hist, dir + "/current.yaml"} {
		if got := g.git(t, "show", "main:"+p) + "\n"; got != want {
			t.Fatalf("%s:\n%s\nwant the canonical record:\n%s", p, got, want)
		}
	}
	g.git(t, "fsck", "--strict")
}

func TestRepublishIsANoOp(t *testing.T) {
	g := newGitops(t)
	rec := record(t, 1, time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	if _, err := g.publish(t, rec, false); err != nil {
		t.Fatal(err)
	}
	tip := g.git(t, "rev-parse", "main")
	res, err := g.publish(t, rec, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != warehouse.OutcomeUnchanged || g.git(t, "rev-parse", "main") != tip || res.Commit != tip {
		t.Fatalf("re-publish: outcome %s, commit %s, tip moved: %v", res.Outcome, res.Commit, g.git(t, "rev-parse", "main") != tip)
	}
}

func TestConflictingHistoricalRecordIsRefused(t *testing.T) {
	g := newGitops(t)
	rec := record(t, 1, time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	if _, err := g.publish(t, rec, false); err != nil {
		t.Fatal(err)
	}
	tip := g.git(t, "rev-parse", "main")
	other := *rec
	other.Image.Digest = "sha256:" + strings.Repeat("e", 64)
	_, err := g.publish(t, &other, false)
	if !errors.Is(err, warehouse.ErrConflict) || !strings.Contains(err.Error(), warehouse.HistoricalName(rec.GitCommit)) {
		t.Fatalf("error %v, want ErrConflict naming the file", err)
	}
	if g.git(t, "rev-parse", "main") != tip {
		t.Fatal("a refused publish changed the remote")
	}
}

func TestOlderRecordLeavesCurrentAloneUnlessForced(t *testing.T) {
	g := newGitops(t)
	newer := record(t, 2, time.Date(2026, 3, 22, 12, 0, 0, 0, time.UTC))
	older := record(t, 1, time.Date(2026, 3, 22, 10, 0, 0, 0, time.UTC))
	if _, err := g.publish(t, newer, false); err != nil {
		t.Fatal(err)
	}
	res, err := g.publish(t, older, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != warehouse.OutcomeHistoricalOnly || res.CurrentHolds != newer.ReleaseID {
		t.Fatalf("outcome %s, current holds %s", res.Outcome, res.CurrentHolds)
	}
	if got := g.git(t, "show", "main:"+dir+"/current.yaml") + "\n"; got != string(newer.Render()) {
		t.Fatalf("current.yaml moved back to the older record:\n%s", got)
	}
	if _, err := g.publish(t, older, true); err != nil {
		t.Fatal(err)
	}
	if got := g.git(t, "show", "main:"+dir+"/current.yaml") + "\n"; got != string(older.Render()) {
		t.Fatalf("--force-current did not move current.yaml:\n%s", got)
	}
}

func TestConcurrentPublishersAllLand(t *testing.T) {
	g := newGitops(t)
	start := g.git(t, "rev-parse", "main")
	base := time.Date(2026, 3, 22, 10, 0, 0, 0, time.UTC)
	const n = 10
	recs := make([]*warehouse.Record, n)
	for i := range recs {
		recs[i] = record(t, i, base.Add(time.Duration(i)*time.Minute))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = g.publish(t, recs[i], false)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("publisher %d: %v", i, err)
		}
	}
	if c := g.git(t, "rev-list", "--count", start+"..main"); c != fmt.Sprint(n) {
		t.Fatalf("%s commits, want %d", c, n)
	}
	if m := g.git(t, "rev-list", "--merges", "--count", "main"); m != "0" {
		t.Fatalf("%s merges: history must be linear", m)
	}
	for _, rec := range recs {
		g.git(t, "cat-file", "-e", "main:"+dir+"/"+warehouse.HistoricalName(rec.GitCommit))
	}
	if got := g.git(t, "show", "main:"+dir+"/current.yaml") + "\n"; got != string(recs[n-1].Render()) {
		t.Fatalf("current.yaml does not hold the newest record:\n%s", got)
	}
}

func TestPublishLocal(t *testing.T) {
	out := filepath.Join(t.TempDir(), "builds")
	rec := record(t, 1, time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	res, err := warehouse.PublishLocal(out, rec, false)
	if err != nil || res.Outcome != warehouse.OutcomePublished {
		t.Fatalf("outcome %s, err %v", res.Outcome, err)
	}
	for _, name := range []string{warehouse.CurrentName, warehouse.HistoricalName(rec.GitCommit)} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || string(data) != string(rec.Render()) {
			t.Fatalf("%s: %q %v", name, data, err)
		}
	}
	if res, err = warehouse.PublishLocal(out, rec, false); err != nil || res.Outcome != warehouse.OutcomeUnchanged {
		t.Fatalf("second local publish: %s %v", res.Outcome, err)
	}
	other := *rec
	other.Packaging.SourcePath = "k8s/other"
	if _, err := warehouse.PublishLocal(out, &other, false); !errors.Is(err, warehouse.ErrConflict) {
		t.Fatalf("conflicting local publish: %v", err)
	}
	if _, err := warehouse.ReadDir(out); err != nil {
		t.Fatalf("the local set does not read back: %v", err)
	}
}
