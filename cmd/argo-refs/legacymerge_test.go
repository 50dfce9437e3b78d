package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
)

func TestLegacyMergeCommand(t *testing.T) {
	p := newPublishEnv(t)
	rev := strings.Repeat("0c", 20)
	args := func(extra ...string) []string {
		return append([]string{"legacy-merge", "--repo", p.repo, "--env", "test", "--revision", rev, "--merged-at", "2026-03-22T12:34:56Z"}, extra...)
	}
	code, out, errOut := p.run(t, args("-o", "json"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct{ Outcome, Tag, MergedPath, Commit string }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Outcome != "published" || res.Commit != gittest.Git(t, p.bare, "rev-parse", "main") {
		t.Fatalf("result %q: %+v, %v", out, res, err)
	}
	want := "revision: " + rev + "\ntag: git-" + rev + "\nmergedAt: '2026-03-22T12:34:56Z'"
	if got := gittest.Git(t, p.bare, "show", "main:warehouses/codeai/legacy-gitflow/test/merged/git-"+rev+".yaml"); got != want {
		t.Fatalf("merged record:\n%s\nwant\n%s", got, want)
	}
	tip := gittest.Git(t, p.bare, "rev-parse", "main")
	// The workflow re-run: nothing to do, exit 0, no commit.
	code, out, _ = p.run(t, args())
	if code != exitOK || !strings.Contains(out, "already recorded") || gittest.Git(t, p.bare, "rev-parse", "main") != tip {
		t.Fatalf("re-run: exit %d, %q", code, out)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown env", []string{"legacy-merge", "--repo", p.repo, "--env", "main", "--revision", rev}, "levelbuilder"},
		{"short revision", []string{"legacy-merge", "--repo", p.repo, "--env", "test", "--revision", rev[:7]}, "short SHA"},
		{"future merge time", args("--merged-at", "2999-01-01T00:00:00Z"), "in the future"},
		{"no repo", []string{"legacy-merge", "--env", "test", "--revision", rev}, "--repo"},
	} {
		code, _, errOut := p.run(t, tc.args)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, errOut, exitUsage, tc.want)
		}
	}
	if gittest.Git(t, p.bare, "rev-parse", "main") != tip {
		t.Fatal("a refused call pushed")
	}
}
