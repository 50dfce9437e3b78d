package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
)

func TestDemoTellsTheWholeStory(t *testing.T) {
	keep := t.TempDir()
	var out bytes.Buffer
	if err := Run(context.Background(), Options{Dir: keep, Out: &out}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	story := out.String()
	for _, want := range []string{
		"1. CI publishes the build-lock record",
		"2. Kargo promotes staging",
		"+targetRevision: ",
		"3. Kargo promotes production",
		"no commit",
		"argo-refs-verify: Failed (terminal)",
		"tag points at another digest",
		"nothing pushed",
		"All as expected",
	} {
		if !strings.Contains(story, want) {
			t.Errorf("the story lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(keep, "gitops.git", "HEAD")); err != nil {
		t.Fatalf("--keep left no GitOps repository: %v", err)
	}
	// What --keep leaves must be readable by git: a pack holding an object
	// twice made `git log --stat` fail on it.
	for _, repo := range []string{"gitops.git", "source.git"} {
		dir := filepath.Join(keep, repo)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		gittest.CheckRepo(t, dir)
		if out := gittest.Git(t, dir, "log", "--stat", "--all"); out == "" {
			t.Errorf("git log --stat of %s printed nothing", repo)
		}
	}
}
