package manifests_test

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/argo-refs/argo-refs/internal/manifests"
)

func newPlugin(t *testing.T) *manifests.StepPlugin {
	t.Helper()
	p, err := manifests.NewStepPlugin(manifests.Options{Image: "example.test/argo-refs:t1", Steps: manifests.ArgoRefsSteps()})
	if err != nil {
		t.Fatalf("NewStepPlugin: %v", err)
	}
	return p
}

func TestValidateRejectsWhatKargoExtendedRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mutate   func(p *manifests.StepPlugin)
		reserved []string
		want     string
	}{
		{"no port", func(p *manifests.StepPlugin) { p.Spec.Sidecar.Container.Ports = nil }, nil, "ports needs at least one port"},
		{"no requests", func(p *manifests.StepPlugin) { p.Spec.Sidecar.Container.Resources.Requests = nil }, nil, "resources.requests is required"},
		{"no limits", func(p *manifests.StepPlugin) { p.Spec.Sidecar.Container.Resources.Limits = nil }, nil, "resources.limits is required"},
		{"no securityContext", func(p *manifests.StepPlugin) { p.Spec.Sidecar.Container.SecurityContext = nil }, nil, "securityContext is required"},
		{"root allowed", func(p *manifests.StepPlugin) { p.Spec.Sidecar.Container.SecurityContext.RunAsNonRoot = new(false) }, nil, "runAsNonRoot must be true"},
		{"no steps", func(p *manifests.StepPlugin) { p.Spec.Steps = nil }, nil, "spec.steps needs at least one step"},
		{"duplicate kind", func(p *manifests.StepPlugin) { p.Spec.Steps[1].Kind = p.Spec.Steps[0].Kind }, nil, `spec.steps[1].kind "argo-refs-promote" is duplicated`},
		{"built-in kind", func(p *manifests.StepPlugin) { p.Spec.Steps[0].Kind = "git-push" }, []string{"git-clone", "git-push"}, `spec.steps[0].kind "git-push" collides with a built-in Kargo step kind`},
		{"wrong kind", func(p *manifests.StepPlugin) { p.Kind = "ExecutorPlugin" }, nil, `kind is "ExecutorPlugin", want "StepPlugin"`},
		{"no name", func(p *manifests.StepPlugin) { p.Metadata.Name = "" }, nil, "metadata.name is required"},
		{"bad timeout", func(p *manifests.StepPlugin) { p.Spec.Steps[0].DefaultTimeout = "ten minutes" }, nil, `spec.steps[0].defaultTimeout "ten minutes" is not a positive duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPlugin(t)
			if err := p.Validate(tc.reserved); err != nil {
				t.Fatalf("the generated plugin is invalid before mutation: %v", err)
			}
			tc.mutate(p)
			err := p.Validate(tc.reserved)
			if !errors.Is(err, manifests.ErrInvalid) {
				t.Fatalf("Validate = %v, want an error wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	p := newPlugin(t)
	p.Spec.Sidecar.Container = manifests.Container{}
	err := p.Validate(nil)
	for _, want := range []string{"name is required", "image is required", "ports", "requests", "limits", "securityContext"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to mention %q", err, want)
		}
	}
}

func TestNewStepPluginOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts manifests.Options
		want string
	}{
		{"no image", manifests.Options{Steps: []manifests.Step{{Kind: "a"}}}, "image is required"},
		{"no kinds", manifests.Options{Image: "x/y:z"}, "at least one step kind"},
		{"long name", manifests.Options{Image: "x/y:z", Name: strings.Repeat("a", 60), Steps: []manifests.Step{{Kind: "a"}}}, "must fit in 63 characters"},
		{"bad namespace", manifests.Options{Image: "x/y:z", Namespace: "-ns", Steps: []manifests.Step{{Kind: "a"}}}, `namespace "-ns" is not a DNS-1123 label`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manifests.NewStepPlugin(tc.opts)
			if !errors.Is(err, manifests.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewStepPlugin = %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

func TestConfigMapKeepsLabelsAndNamesItLikeKargoExtended(t *testing.T) {
	p := newPlugin(t)
	p.Metadata.Labels = map[string]string{"team": "platform", manifests.ConfigMapLabelKey: "Other"}
	cm, err := p.ConfigMap()
	if err != nil {
		t.Fatal(err)
	}
	if cm.Metadata.Name != "argo-refs-step-plugin" || cm.Metadata.Namespace != "kargo-system-resources" {
		t.Errorf("ConfigMap is %s/%s, want kargo-system-resources/argo-refs-step-plugin", cm.Metadata.Namespace, cm.Metadata.Name)
	}
	if got := cm.Metadata.Labels; got["team"] != "platform" || got[manifests.ConfigMapLabelKey] != "StepPlugin" {
		t.Errorf("labels = %v, want team=platform kept and the discovery label forced to StepPlugin", got)
	}
	if got := cm.Data[manifests.DataKeyAutomount]; got != "false" {
		t.Errorf("data[%s] = %q, want \"false\"", manifests.DataKeyAutomount, got)
	}
}

// TestContainerIsAValidCoreV1Container proves that the local Container type
// writes exactly what Kubernetes' own type would: it decodes strictly into
// k8s.io/api's Container and marshals back to the same bytes.
func TestContainerIsAValidCoreV1Container(t *testing.T) {
	p, err := manifests.NewStepPlugin(manifests.Options{Image: "ghcr.io/argo-refs/argo-refs:v0.1.0", Steps: []manifests.Step{{Kind: "argo-refs-promote"}}})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := manifests.Marshal(p.Spec.Sidecar.Container)
	if err != nil {
		t.Fatal(err)
	}
	var c corev1.Container
	if err := sigsyaml.UnmarshalStrict(ours, &c); err != nil {
		t.Fatalf("not a core/v1 Container: %v\n%s", err, ours)
	}
	theirs, err := sigsyaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(theirs) != string(ours) {
		t.Fatalf("core/v1 writes\n%s\nwe write\n%s", theirs, ours)
	}
}
