package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTheStepBinaryLinksNoRenderer: Helm and Kustomize are linked only
// into argo-refs-render, so that every promotion that renders nothing
// pays nothing for them (binary size, memory, package init).
func TestTheStepBinaryLinksNoRenderer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"helm.sh/helm/", "sigs.k8s.io/kustomize/api", "github.com/argo-refs/argo-refs/render"} {
			if strings.HasPrefix(dep, banned) && dep != "github.com/argo-refs/argo-refs/render/spec" {
				t.Errorf("argo-refs links %s; only argo-refs-render may", dep)
			}
		}
	}
	out, err = exec.Command("go", "list", "-deps", "../argo-refs-render").Output()
	if err != nil || !strings.Contains(string(out), "helm.sh/helm/v4/pkg/action\n") {
		t.Errorf("argo-refs-render does not link Helm (%v); the check above would pass for nothing", err)
	}
}
