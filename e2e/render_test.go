package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gitopstest"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse"
)

// TestRenderedReviewThroughTheBinaries: argo-refs runs argo-refs-render
// from next to itself, as in the image: promote --dry-run --render prints
// the file diff and the rendered review, and diff -o markdown the review
// a pull request would carry; nothing is pushed.
func TestRenderedReviewThroughTheBinaries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	chart := func(replicas string) map[string]string {
		return map[string]string{
			"k8s/helm/Chart.yaml":  "apiVersion: v2\nname: codeai\nversion: 0.1.0\n",
			"k8s/helm/values.yaml": "replicas: " + replicas + "\nimage: none\n",
			"k8s/helm/templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {{ .Values.replicas }}\n" +
				"  template:\n    spec:\n      containers: [{name: web, image: \"{{ .Values.image }}\"}]\n",
		}
	}
	src := f.git.Dir("source.git")
	// The stage is at release a; release b changes the chart.
	publish := func(replicas string) (string, string) {
		commit := gittest.CommitFiles(t, src, "main", chart(replicas), "chart "+replicas)
		tag := imageRepo + ":git-" + commit
		digest := f.reg.PushImage(t, tag, nil)
		rec, err := warehouse.New(commit, f.reg.Ref(tag), digest, warehouse.PackagingHelm, f.sourceURL, "k8s/helm", time.Now().UTC().Truncate(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return commit, gitopstest.PublishRecord(t, f.gitopsDir, "main", lockDir, rec)
	}
	_, freightA := publish("1")
	s := newSandbox(t)
	cfg := s.writeFile(t, "config.yaml", f.configYAML(""))
	wantCode(t, s.runStep(t, nil, stepArgs("promote", "staging", freightA, "--config="+cfg)...), 0)
	b, freightB := publish("4")
	tip := f.tip(t)

	r := s.runStep(t, nil, stepArgs("promote", "staging", freightB, "--config="+cfg, "--dry-run", "--render")...)
	wantCode(t, r, 0)
	for _, want := range []string{"+targetRevision: '" + b + "'", "Rendered review:", "-  replicas: 1", "+  replicas: 4"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("promote --dry-run --render output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = s.runStep(t, nil, "diff", "--config="+cfg, "--stage=staging", "--gitops-commit="+freightB, "-o", "markdown")
	wantCode(t, r, 0)
	if !strings.HasPrefix(r.stdout, "### Rendered changes: staging, ") || !strings.Contains(r.stdout, "```diff\n") || !strings.Contains(r.stdout, "+  replicas: 4") {
		t.Errorf("diff -o markdown:\n%s", r.stdout)
	}
	if f.tip(t) != tip {
		t.Error("a dry run pushed")
	}
}
