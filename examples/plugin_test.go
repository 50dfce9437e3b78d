package examples_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/argo-refs/argo-refs/internal/manifests"
	"github.com/argo-refs/argo-refs/step"
)

// The kargo-extended plugin.

// pluginDoc mirrors kargo-extended's StepPlugin format, independently of the
// generator, so that a field name the generator gets wrong fails here.
type pluginDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Sidecar struct {
			AutomountServiceAccountToken bool             `json:"automountServiceAccountToken"`
			Container                    corev1.Container `json:"container"`
		} `json:"sidecar"`
		Steps []pluginStep `json:"steps"`
	} `json:"spec"`
}

type pluginStep struct {
	Kind                  string `json:"kind"`
	DefaultTimeout        string `json:"defaultTimeout,omitempty"`
	DefaultErrorThreshold uint32 `json:"defaultErrorThreshold,omitempty"`
}

type configMapDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
}

func readStrict(t *testing.T, p string, v any) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(p))
	if err != nil {
		t.Fatal(err)
	}
	if err := sigsyaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s does not decode strictly: %v", p, err)
	}
	return data
}

// kargoExtendedRules returns every way p breaks kargo-extended's rules for a
// StepPlugin, plus the hardening the examples promise.
func kargoExtendedRules(p *pluginDoc) []string {
	var bad []string
	c := p.Spec.Sidecar.Container
	if p.APIVersion != "kargo-extended.code.org/v1alpha1" || p.Kind != "StepPlugin" {
		bad = append(bad, fmt.Sprintf("apiVersion/kind = %s %s", p.APIVersion, p.Kind))
	}
	if p.Metadata.Name == "" {
		bad = append(bad, "no metadata.name")
	}
	if len(c.Ports) == 0 {
		bad = append(bad, "no port")
	}
	if len(c.Resources.Requests) == 0 {
		bad = append(bad, "no resource requests")
	}
	if len(c.Resources.Limits) == 0 {
		bad = append(bad, "no resource limits")
	}
	sc := c.SecurityContext
	if sc == nil {
		bad = append(bad, "no securityContext")
		sc = &corev1.SecurityContext{}
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		bad = append(bad, "runAsNonRoot is not true")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.RunAsGroup == nil || *sc.RunAsGroup != 65532 {
		bad = append(bad, "does not run as 65532:65532")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		bad = append(bad, "root file system is writable")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		bad = append(bad, "privilege escalation allowed")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		bad = append(bad, "capabilities not dropped")
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		bad = append(bad, "no RuntimeDefault seccomp profile")
	}
	if p.Spec.Sidecar.AutomountServiceAccountToken {
		bad = append(bad, "mounts a service account token it does not need")
	}
	if len(p.Spec.Steps) == 0 {
		bad = append(bad, "no steps")
	}
	seen := map[string]bool{}
	for _, s := range p.Spec.Steps {
		if s.Kind == "" || seen[s.Kind] {
			bad = append(bad, fmt.Sprintf("step kind %q empty or duplicated", s.Kind))
		}
		seen[s.Kind] = true
		if slices.Contains(kargoBuiltinKinds, s.Kind) {
			bad = append(bad, fmt.Sprintf("step kind %q collides with a Kargo built-in", s.Kind))
		}
	}
	return bad
}

func TestExamplePluginFollowsKargoExtendedRules(t *testing.T) {
	var p pluginDoc
	readStrict(t, "plugin/plugin.yaml", &p)
	if bad := kargoExtendedRules(&p); len(bad) > 0 {
		t.Errorf("plugin/plugin.yaml breaks kargo-extended's rules: %s", strings.Join(bad, "; "))
	}
	c := p.Spec.Sidecar.Container
	if c.Image != pluginImage || !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("sidecar runs %s %v, want %s [serve]", c.Image, c.Args, pluginImage)
	}
	if c.Ports[0].ContainerPort != manifests.DefaultPort {
		t.Errorf("first port = %d, want %d, where serve listens (kargo-extended calls the first port)", c.Ports[0].ContainerPort, manifests.DefaultPort)
	}
	var kinds []string
	for _, s := range p.Spec.Steps {
		kinds = append(kinds, s.Kind)
	}
	var want []string
	for _, k := range step.Kinds {
		want = append(want, string(k))
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("steps = %v, want %v", kinds, want)
	}

	// The rules must reject what kargo-extended rejects.
	for name, mutate := range map[string]func(p *pluginDoc){
		"no port":             func(p *pluginDoc) { p.Spec.Sidecar.Container.Ports = nil },
		"no limits":           func(p *pluginDoc) { p.Spec.Sidecar.Container.Resources.Limits = nil },
		"no requests":         func(p *pluginDoc) { p.Spec.Sidecar.Container.Resources.Requests = nil },
		"no securityContext":  func(p *pluginDoc) { p.Spec.Sidecar.Container.SecurityContext = nil },
		"built-in kind":       func(p *pluginDoc) { p.Spec.Steps[0].Kind = "git-push" },
		"root":                func(p *pluginDoc) { p.Spec.Sidecar.Container.SecurityContext.RunAsNonRoot = new(false) },
		"duplicate step kind": func(p *pluginDoc) { p.Spec.Steps[1].Kind = p.Spec.Steps[0].Kind },
	} {
		var q pluginDoc
		readStrict(t, "plugin/plugin.yaml", &q)
		mutate(&q)
		if len(kargoExtendedRules(&q)) == 0 {
			t.Errorf("the rules accept a plugin with %s", name)
		}
	}
}

func TestExamplePluginConfigMapMatchesPlugin(t *testing.T) {
	var p pluginDoc
	readStrict(t, "plugin/plugin.yaml", &p)
	var cm configMapDoc
	readStrict(t, "plugin/argo-refs-step-plugin-configmap.yaml", &cm)
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" {
		t.Errorf("ConfigMap is %s %s", cm.APIVersion, cm.Kind)
	}
	if cm.Metadata.Name != p.Metadata.Name+"-step-plugin" || cm.Metadata.Namespace != p.Metadata.Namespace {
		t.Errorf("ConfigMap is %s/%s, want %s/%s-step-plugin", cm.Metadata.Namespace, cm.Metadata.Name, p.Metadata.Namespace, p.Metadata.Name)
	}
	if cm.Metadata.Labels["kargo-extended.code.org/configmap-type"] != "StepPlugin" {
		t.Errorf("ConfigMap labels = %v, want kargo-extended.code.org/configmap-type: StepPlugin", cm.Metadata.Labels)
	}
	if len(cm.Data) != 3 || cm.Data["sidecar.automountServiceAccountToken"] != "false" {
		t.Errorf("ConfigMap data keys = %v, automount = %q; want 3 keys and \"false\"", sortedKeys(cm.Data), cm.Data["sidecar.automountServiceAccountToken"])
	}
	var c corev1.Container
	if err := sigsyaml.UnmarshalStrict([]byte(cm.Data["sidecar.container"]), &c); err != nil {
		t.Fatalf("data[sidecar.container]: %v", err)
	}
	if !reflect.DeepEqual(c, p.Spec.Sidecar.Container) {
		t.Errorf("data[sidecar.container] differs from plugin.yaml's container:\n%+v\n%+v", c, p.Spec.Sidecar.Container)
	}
	var steps []pluginStep
	if err := sigsyaml.UnmarshalStrict([]byte(cm.Data["steps.yaml"]), &steps); err != nil {
		t.Fatalf("data[steps.yaml]: %v", err)
	}
	if !reflect.DeepEqual(steps, p.Spec.Steps) {
		t.Errorf("data[steps.yaml] = %v, want plugin.yaml's %v", steps, p.Spec.Steps)
	}
}

// TestExamplePluginFilesAreGenerated regenerates plugin.yaml and its
// ConfigMap and compares them byte for byte with the committed files.
func TestExamplePluginFilesAreGenerated(t *testing.T) {
	p, err := manifests.NewStepPlugin(manifests.Options{Image: pluginImage, Steps: manifests.ArgoRefsSteps()})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := p.ConfigMap()
	if err != nil {
		t.Fatal(err)
	}
	for file, v := range map[string]any{"plugin.yaml": p, "argo-refs-step-plugin-configmap.yaml": cm} {
		want, err := manifests.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("plugin", file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			output := map[string]string{"plugin.yaml": "plugin", "argo-refs-step-plugin-configmap.yaml": "configmap"}[file]
			t.Errorf("examples/plugin/%s is out of date; regenerate it with\n  go run ./cmd/argo-refs plugin-manifest --image %s --output %s > examples/plugin/%s\n--- committed\n%s--- generated\n%s",
				file, pluginImage, output, file, got, want)
		}
	}
}
