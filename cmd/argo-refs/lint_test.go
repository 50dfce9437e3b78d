package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
)

// TestLintCommand: over a branch of the GitOps server (with its
// credentials) and over a checkout, lint exits 1 listing each violation
// with file and line, and 0 on the examples.
func TestLintCommand(t *testing.T) {
	p := newPublishEnv(t)
	gittest.CommitFiles(t, p.bare, "main", map[string]string{
		"apps/codeai/applicationset.yaml":                 "spec:\n  template:\n    spec:\n      sources:\n        - path: k8s/helm\n          targetRevision: '{{targetRevision}}'\n",
		"apps/codeai/deployments/staging/deployment.yaml": "envType: staging\nnamespace: staging\n",
		"apps/codeai/envTypes/staging.values.yaml":        "x: 1\n",
	}, "a helm layout missing targetRevision")
	code, out, errOut := p.run(t, []string{"lint", "--repo", p.repo, "--layout", "helm"})
	if code != exitFailed || !strings.Contains(out, "apps/codeai/deployments/staging/deployment.yaml:1: deployment: needs targetRevision") || !strings.Contains(errOut, "1 violation(s)") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	code, out, _ = p.run(t, []string{"lint", "--repo", p.repo, "--layout", "helm", "-o", "json"})
	var res struct{ Violations []struct{ File, Rule string } }
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitFailed || len(res.Violations) != 1 || res.Violations[0].Rule != "deployment" {
		t.Fatalf("json: exit %d, %q, %v", code, out, err)
	}
	for _, layout := range []string{"helm", "kustomize"} {
		if code, out, errOut := p.run(t, []string{"lint", "--checkout", "../../examples/" + layout, "--layout", layout}); code != exitOK {
			t.Errorf("the %s example: exit %d\n%s%s", layout, code, out, errOut)
		}
	}
	if code, _, errOut := p.run(t, []string{"lint", "--checkout", ".", "--layout", "jsonnet"}); code != exitUsage || !strings.Contains(errOut, "--layout") {
		t.Errorf("bad layout: exit %d, %q", code, errOut)
	}
}
