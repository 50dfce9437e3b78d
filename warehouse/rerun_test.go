package warehouse_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/warehouse"
)

// TestRerunWithANewTimeIsAlreadyPublished: a CI re-run publishes the same
// build with a later createdAt; the first record stands, nothing is
// committed, and the twins stay identical.
func TestRerunWithANewTimeIsAlreadyPublished(t *testing.T) {
	g := newGitops(t)
	first := record(t, 1, time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	if _, err := g.publish(t, first, false); err != nil {
		t.Fatal(err)
	}
	tip := g.git(t, "rev-parse", "main")
	rerun := *first
	rerun.CreatedAt = first.CreatedAt.Add(37 * time.Minute)
	res, err := g.publish(t, &rerun, false)
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if res.Outcome != warehouse.OutcomeUnchanged || g.git(t, "rev-parse", "main") != tip {
		t.Errorf("re-run: outcome %s, tip moved %v; want unchanged and no commit", res.Outcome, g.git(t, "rev-parse", "main") != tip)
	}
	cur := g.git(t, "show", "main:"+dir+"/current.yaml")
	if !strings.Contains(cur, "createdAt: '2026-03-22T10:10:09Z'") {
		t.Errorf("current.yaml no longer holds the first record:\n%s", cur)
	}
}

// TestRerunRepairsCurrent: the historical record exists (the same build,
// first published at another time) but current.yaml holds an older build:
// current.yaml takes the first record's bytes, so the twins stay equal.
func TestRerunRepairsCurrent(t *testing.T) {
	g := newGitops(t)
	older := record(t, 2, time.Date(2026, 3, 22, 9, 0, 0, 0, time.UTC))
	build := record(t, 1, time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	if _, err := g.publish(t, build, false); err != nil {
		t.Fatal(err)
	}
	if _, err := g.publish(t, older, true); err != nil { // forced back, as by hand
		t.Fatal(err)
	}
	rerun := *build
	rerun.CreatedAt = build.CreatedAt.Add(time.Hour)
	res, err := g.publish(t, &rerun, false)
	if err != nil || res.Outcome != warehouse.OutcomePublished {
		t.Fatalf("re-run: %s, %v; want current.yaml written", res.Outcome, err)
	}
	hist := g.git(t, "show", "main:"+dir+"/"+warehouse.HistoricalName(build.GitCommit))
	if cur := g.git(t, "show", "main:"+dir+"/current.yaml"); cur != hist {
		t.Errorf("current.yaml differs from its twin:\n%s\n---\n%s", cur, hist)
	}
	if !strings.Contains(hist, "2026-03-22T10:10:09Z") {
		t.Errorf("the historical record was rewritten:\n%s", hist)
	}
}

// TestRerunWithAnotherBuildIsRefused: the same commit with another digest
// (the tag was pushed again), image or packaging is refused, naming what
// differs; the remote is unchanged.
func TestRerunWithAnotherBuildIsRefused(t *testing.T) {
	g := newGitops(t)
	first := record(t, 1, time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	if _, err := g.publish(t, first, false); err != nil {
		t.Fatal(err)
	}
	tip := g.git(t, "rev-parse", "main")
	newDigest := "sha256:" + strings.Repeat("e", 64)
	for _, tc := range []struct {
		name   string
		change func(r *warehouse.Record)
		want   []string
	}{
		{"another digest", func(r *warehouse.Record) { r.Image.Digest = newDigest },
			[]string{first.Image.Digest, newDigest, "pushed again", "push the image " + first.Image.Digest + " back to the tag, or build from a new commit"}},
		{"another packaging", func(r *warehouse.Record) { r.Packaging.SourcePath = "k8s/kustomize/base" },
			[]string{"k8s/helm", "k8s/kustomize/base"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := *first
			other.CreatedAt = first.CreatedAt.Add(time.Minute)
			tc.change(&other)
			_, err := g.publish(t, &other, false)
			if !errors.Is(err, warehouse.ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if g.git(t, "rev-parse", "main") != tip {
				t.Fatal("a refused publish changed the remote")
			}
		})
	}
}
