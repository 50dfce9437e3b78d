package warehouse_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse"
)

const legacyDir = warehouse.DefaultLegacyGitflowDir

func merge(t *testing.T, n int, at time.Time) *warehouse.LegacyMerge {
	t.Helper()
	m, err := warehouse.NewLegacyMerge(fmt.Sprintf("%040x", n+1), at)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (g *gitops) recordMerge(t *testing.T, m *warehouse.LegacyMerge, env string) (warehouse.LegacyResult, error) {
	t.Helper()
	return warehouse.PublishLegacyMerge(context.Background(), g.remote(t), m, warehouse.LegacyPublishOptions{
		Dir: legacyDir, Env: env, Branch: "main", MaxAttempts: 30, BaseDelay: 20 * time.Millisecond,
		Author: ciAuthor(),
	})
}

var t0 = time.Date(2026, 3, 22, 12, 34, 56, 0, time.UTC)

func TestLegacyMergeWritesBothFilesInOneCommit(t *testing.T) {
	g := newGitops(t)
	before := g.git(t, "rev-parse", "main")
	m := merge(t, 0x0cc4, t0)
	res, err := g.recordMerge(t, m, "test")
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != warehouse.OutcomePublished || res.CurrentHolds != m.Tag || res.Commit != g.git(t, "rev-parse", "main") {
		t.Fatalf("result %+v", res)
	}
	if n := g.git(t, "rev-list", "--count", before+"..main"); n != "1" {
		t.Fatalf("%s commits, want 1", n)
	}
	merged := legacyDir + "/test/merged/" + m.Tag + ".yaml"
	if files := g.git(t, "diff", "--name-only", before, "main"); files != legacyDir+"/test/current.yaml\n"+merged {
		t.Fatalf("the commit changed:\n%s", files)
	}
	// The bytes the plan documents, written by hand: what a person or the
	// gate reads.
	want := "revision: " + m.Revision + "\ntag: git-" + m.Revision + "\nmergedAt: '2026-03-22T12:34:56Z'\n"
	for _, p := range []string{merged, legacyDir + "/test/current.yaml"} {
		if got := g.git(t, "show", "main:"+p) + "\n"; got != want {
			t.Fatalf("%s:\n%s\nwant\n%s", p, got, want)
		}
	}
	if msg := g.git(t, "log", "-1", "--format=%s", "main"); msg != "Record "+m.Tag+" merged into legacy test" {
		t.Fatalf("commit message %q", msg)
	}
}

func TestLegacyMergeRerunIsANoOpAndKeepsTheFirstMergeTime(t *testing.T) {
	g := newGitops(t)
	m := merge(t, 7, t0)
	if _, err := g.recordMerge(t, m, "production"); err != nil {
		t.Fatal(err)
	}
	tip := g.git(t, "rev-parse", "main")
	for _, again := range []*warehouse.LegacyMerge{m, merge(t, 7, t0.Add(time.Hour))} {
		res, err := g.recordMerge(t, again, "production")
		if err != nil || res.Outcome != warehouse.OutcomeUnchanged || !res.MergedAt.Equal(t0) {
			t.Fatalf("re-run: %+v, %v; want unchanged, merged at %s", res, err, t0)
		}
	}
	if g.git(t, "rev-parse", "main") != tip {
		t.Fatal("a re-run committed")
	}
}

func TestLegacyMergeCurrentNeverMovesBack(t *testing.T) {
	g := newGitops(t)
	newer, older := merge(t, 2, t0.Add(time.Hour)), merge(t, 1, t0)
	if _, err := g.recordMerge(t, newer, "levelbuilder"); err != nil {
		t.Fatal(err)
	}
	res, err := g.recordMerge(t, older, "levelbuilder")
	if err != nil || res.Outcome != warehouse.OutcomeHistoricalOnly || res.CurrentHolds != newer.Tag {
		t.Fatalf("older merge: %+v, %v", res, err)
	}
	if cur := g.git(t, "show", "main:"+legacyDir+"/levelbuilder/current.yaml"); !strings.Contains(cur, newer.Revision) {
		t.Fatalf("current.yaml moved back:\n%s", cur)
	}
	if g.git(t, "cat-file", "-t", "main:"+legacyDir+"/levelbuilder/merged/"+older.Tag+".yaml") != "blob" {
		t.Fatal("the older merge's record is missing")
	}
	// Another env is another directory: test knows nothing of levelbuilder.
	if out := g.git(t, "ls-tree", "-r", "--name-only", "main", legacyDir+"/test"); out != "" {
		t.Fatalf("test holds %s", out)
	}
}

func TestLegacyMergeConflictingFileIsRefused(t *testing.T) {
	for name, content := range map[string]string{
		"another revision": "revision: " + strings.Repeat("a", 40) + "\ntag: git-" + strings.Repeat("a", 40) + "\nmergedAt: '2026-03-22T12:34:56Z'\n",
		"not a record":     "hello: world\n",
	} {
		t.Run(name, func(t *testing.T) {
			g := newGitops(t)
			m := merge(t, 3, t0)
			gittest.CommitFiles(t, g.bare, "main", map[string]string{legacyDir + "/test/merged/" + m.Tag + ".yaml": content}, "by hand")
			tip := g.git(t, "rev-parse", "main")
			_, err := g.recordMerge(t, m, "test")
			if !errors.Is(err, warehouse.ErrConflict) || !strings.Contains(err.Error(), "merged/"+m.Tag+".yaml") {
				t.Fatalf("err = %v, want ErrConflict naming the file", err)
			}
			if g.git(t, "rev-parse", "main") != tip {
				t.Fatal("a conflicting write pushed")
			}
		})
	}
}

func TestLegacyMergeRefusesAnUnknownEnv(t *testing.T) {
	g := newGitops(t)
	if _, err := g.recordMerge(t, merge(t, 4, t0), "main"); err == nil || !strings.Contains(err.Error(), "levelbuilder") {
		t.Fatalf("err = %v, want the list of legacy envs", err)
	}
}

func TestLegacyMergeConcurrentWritersAllLand(t *testing.T) {
	g := newGitops(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = g.recordMerge(t, merge(t, 100+i, t0.Add(time.Duration(i)*time.Minute)), "staging")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	files := strings.Fields(g.git(t, "ls-tree", "-r", "--name-only", "main", legacyDir+"/staging/merged"))
	if len(files) != n {
		t.Fatalf("%d merge records on main, want %d", len(files), n)
	}
	if cur := g.git(t, "show", "main:"+legacyDir+"/staging/current.yaml"); !strings.Contains(cur, fmt.Sprintf("%040x", 100+n)) {
		t.Fatalf("current.yaml does not hold the latest merge:\n%s", cur)
	}
}

func TestParseLegacyMergeIsStrict(t *testing.T) {
	const rev = "0cc4cd87f40ae606d1822d5652b552f8c50a4668"
	good := "revision: " + rev + "\ntag: git-" + rev + "\nmergedAt: '2026-03-22T12:34:56Z'\n"
	if m, err := warehouse.ParseLegacyMerge("f", []byte(good)); err != nil || m.Revision != rev || string(m.Render()) != good {
		t.Fatalf("good record: %+v, %v", m, err)
	}
	for name, tc := range map[string]struct{ data, want string }{
		"empty":         {"", "is empty"},
		"missing key":   {"revision: " + rev + "\ntag: git-" + rev + "\n", "mergedAt"},
		"unknown key":   {good + "branch: test\n", "unknown key"},
		"wrong tag":     {strings.Replace(good, "tag: git-", "tag: v", 1), `expected "git-` + rev},
		"short sha":     {strings.ReplaceAll(good, rev, rev[:12]), "short SHA"},
		"not UTC":       {strings.Replace(good, "56Z", "56+02:00", 1), "non-UTC"},
		"two documents": {good + "---\n" + good, "more than one YAML document"},
		"CRLF":          {strings.ReplaceAll(good, "\n", "\r\n"), "CRLF"},
	} {
		_, err := warehouse.ParseLegacyMerge("legacy-gitflow/test/merged/x.yaml", []byte(tc.data))
		if !errors.Is(err, warehouse.ErrInvalidRecord) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "legacy-gitflow/test/merged/x.yaml") {
			t.Errorf("%s: err = %v, want ErrInvalidRecord naming the file and %q", name, err, tc.want)
		}
	}
}
