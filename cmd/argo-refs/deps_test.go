package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTheStepBinaryLinksNoRenderer: Helm and Kustomize are linked only
// into argo-refs-render, the clouds' SDKs only into argo-refs-cloud-auth,
// and sigstore-go only into argo-refs-trust, so that every promotion that
// renders nothing, uses no ambient credentials, or has no image policy,
// pays nothing for them (binary size, memory, package init).
func TestTheStepBinaryLinksNoRenderer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"helm.sh/helm/", "sigs.k8s.io/kustomize/api", "github.com/argo-refs/argo-refs/render",
			"github.com/aws/aws-sdk-go-v2", "github.com/awslabs/", "github.com/Azure/azure-sdk-for-go", "golang.org/x/oauth2/google", "github.com/argo-refs/argo-refs/internal/ambient/cloud",
			"github.com/sigstore/", "github.com/argo-refs/argo-refs/trust"} {
			if strings.HasPrefix(dep, banned) && dep != "github.com/argo-refs/argo-refs/render/spec" && dep != "github.com/argo-refs/argo-refs/trust/spec" {
				t.Errorf("argo-refs links %s; only a helper may", dep)
			}
		}
	}
	for helper, dep := range map[string]string{"../argo-refs-render": "helm.sh/helm/v4/pkg/action", "../argo-refs-cloud-auth": "github.com/aws/aws-sdk-go-v2/service/ecr",
		"../argo-refs-trust": "github.com/sigstore/sigstore-go/pkg/verify"} {
		out, err = exec.Command("go", "list", "-deps", helper).Output()
		if err != nil || !strings.Contains(string(out), dep+"\n") {
			t.Errorf("%s does not link %s (%v); the check above would pass for nothing", helper, dep, err)
		}
	}
}
