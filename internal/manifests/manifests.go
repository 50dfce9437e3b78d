package manifests

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/argo-refs/argo-refs/step"
)

// kargo-extended's wire names for a StepPlugin and the ConfigMap it is
// discovered through (extended/docs-site/05-kargo-external/).
const (
	// StepPluginAPIVersion is the apiVersion of a plugin.yaml.
	StepPluginAPIVersion = "kargo-extended.code.org/v1alpha1"
	// StepPluginKind is the kind of a plugin.yaml.
	StepPluginKind = "StepPlugin"
	// ConfigMapLabelKey labels the ConfigMaps kargo-extended discovers.
	ConfigMapLabelKey = "kargo-extended.code.org/configmap-type"
	// ConfigMapLabelValue is the value of ConfigMapLabelKey for a StepPlugin.
	ConfigMapLabelValue = "StepPlugin"
	// ConfigMapNameSuffix is appended to the plugin name to name its ConfigMap.
	ConfigMapNameSuffix = "-step-plugin"
	// DataKeyContainer holds the sidecar container spec as YAML.
	DataKeyContainer = "sidecar.container"
	// DataKeyAutomount holds "true" or "false".
	DataKeyAutomount = "sidecar.automountServiceAccountToken"
	// DataKeySteps holds the steps list as YAML.
	DataKeySteps = "steps.yaml"
)

// Defaults for Options fields left empty.
const (
	DefaultName      = "argo-refs"
	DefaultNamespace = "kargo-system-resources"
	// DefaultPort is where `argo-refs serve` listens unless told otherwise.
	DefaultPort = 9765
	// RunAs is the non-root user and group the image and the sidecar run as.
	RunAs = 65532
)

// Options says what to generate. Image and Steps are required.
type Options struct {
	// Image is the argo-refs image the sidecar runs, e.g.
	// ghcr.io/argo-refs/argo-refs:v0.1.0.
	Image string
	// Name is the plugin's metadata.name and the sidecar container's name.
	// Default: DefaultName.
	Name string
	// Namespace is where the ConfigMap is installed: kargo-system-resources
	// for every Project, or one Project's namespace. Default: DefaultNamespace.
	Namespace string
	// Steps are the step kinds the plugin serves, in order, with the
	// timeout and error threshold kargo-extended should give each.
	Steps []Step
}

// StepPlugin is kargo-extended's plugin.yaml.
type StepPlugin struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   ObjectMeta     `json:"metadata"`
	Spec       StepPluginSpec `json:"spec"`
}

// ObjectMeta is the part of Kubernetes object metadata the manifests use.
type ObjectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// StepPluginSpec is a StepPlugin's sidecar and the step kinds it serves.
type StepPluginSpec struct {
	Sidecar Sidecar `json:"sidecar"`
	Steps   []Step  `json:"steps"`
}

// Sidecar is the container kargo-extended adds to the promotion agent pod.
type Sidecar struct {
	// AutomountServiceAccountToken is always written, even when false, so that
	// a reader sees the plugin gets no Kubernetes API access.
	AutomountServiceAccountToken bool      `json:"automountServiceAccountToken"`
	Container                    Container `json:"container"`
}

// Step is one step kind a plugin serves. kargo-extended reads
// defaultTimeout as a Kubernetes duration and, when they are absent, gives
// the step no timeout and an error threshold of 1.
type Step struct {
	Kind                  string `json:"kind"`
	DefaultTimeout        string `json:"defaultTimeout,omitempty"`
	DefaultErrorThreshold uint32 `json:"defaultErrorThreshold,omitempty"`
}

// ConfigMap is the Kubernetes ConfigMap kargo-extended discovers a plugin by.
type ConfigMap struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   ObjectMeta        `json:"metadata"`
	Data       map[string]string `json:"data"`
}

// ErrInvalid is wrapped by every error about Options or a StepPlugin that
// breaks kargo-extended's rules.
var ErrInvalid = errors.New("invalid step plugin")

// NewStepPlugin builds the plugin.yaml for opts.
func NewStepPlugin(opts Options) (*StepPlugin, error) {
	if strings.TrimSpace(opts.Image) == "" {
		return nil, fmt.Errorf("%w: image is required", ErrInvalid)
	}
	if strings.ContainsAny(opts.Image, " \t\r\n") {
		return nil, fmt.Errorf("%w: image %q contains white space", ErrInvalid, opts.Image)
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	for _, v := range []struct{ field, value string }{{"name", opts.Name}, {"namespace", opts.Namespace}} {
		if !isDNSLabel(v.value) {
			return nil, fmt.Errorf("%w: %s %q is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)", ErrInvalid, v.field, v.value)
		}
	}
	if len(opts.Name)+len(ConfigMapNameSuffix) > 63 {
		return nil, fmt.Errorf("%w: name %q is too long: the ConfigMap name %q must fit in 63 characters", ErrInvalid, opts.Name, opts.Name+ConfigMapNameSuffix)
	}
	if len(opts.Steps) == 0 {
		return nil, fmt.Errorf("%w: at least one step kind is required", ErrInvalid)
	}
	steps := slices.Clone(opts.Steps)

	runAs := int64(RunAs)
	p := &StepPlugin{
		APIVersion: StepPluginAPIVersion,
		Kind:       StepPluginKind,
		Metadata:   ObjectMeta{Name: opts.Name, Namespace: opts.Namespace},
		Spec: StepPluginSpec{
			Sidecar: Sidecar{
				AutomountServiceAccountToken: false,
				Container: Container{
					Name:            opts.Name,
					Image:           opts.Image,
					ImagePullPolicy: "IfNotPresent",
					Args:            []string{"serve"},
					Ports: []ContainerPort{{
						Name:          "http",
						ContainerPort: DefaultPort,
					}},
					Env: []EnvVar{
						// The root file system is read-only; /workspace is the
						// promotion's shared emptyDir and the only writable path.
						{Name: "TMPDIR", Value: "/workspace"},
					},
					Resources: ResourceRequirements{
						Requests: map[string]string{"cpu": "100m", "memory": "128Mi"},
						Limits:   map[string]string{"cpu": "1", "memory": "512Mi"},
					},
					SecurityContext: &SecurityContext{
						RunAsNonRoot:             new(true),
						RunAsUser:                &runAs,
						RunAsGroup:               &runAs,
						ReadOnlyRootFilesystem:   new(true),
						AllowPrivilegeEscalation: new(false),
						Capabilities:             &Capabilities{Drop: []string{"ALL"}},
						SeccompProfile:           &SeccompProfile{Type: "RuntimeDefault"},
					},
				},
			},
			Steps: steps,
		},
	}
	if err := p.Validate(nil); err != nil {
		return nil, err
	}
	return p, nil
}

// Validate checks p against kargo-extended's rules for a StepPlugin: a name,
// a sidecar container with at least one port, resource requests and limits,
// a securityContext that runs as non-root, and at least one step kind, none
// duplicated and none in reserved (the built-in step kinds of Kargo).
func (p *StepPlugin) Validate(reserved []string) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if p.APIVersion != StepPluginAPIVersion {
		bad("apiVersion is %q, want %q", p.APIVersion, StepPluginAPIVersion)
	}
	if p.Kind != StepPluginKind {
		bad("kind is %q, want %q", p.Kind, StepPluginKind)
	}
	if strings.TrimSpace(p.Metadata.Name) == "" {
		bad("metadata.name is required")
	}
	c := p.Spec.Sidecar.Container
	if c.Name == "" {
		bad("spec.sidecar.container.name is required")
	}
	if c.Image == "" {
		bad("spec.sidecar.container.image is required")
	}
	if len(c.Ports) == 0 {
		bad("spec.sidecar.container.ports needs at least one port")
	}
	if len(c.Resources.Requests) == 0 {
		bad("spec.sidecar.container.resources.requests is required")
	}
	if len(c.Resources.Limits) == 0 {
		bad("spec.sidecar.container.resources.limits is required")
	}
	if sc := c.SecurityContext; sc == nil {
		bad("spec.sidecar.container.securityContext is required")
	} else if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		bad("spec.sidecar.container.securityContext.runAsNonRoot must be true")
	}
	if len(p.Spec.Steps) == 0 {
		bad("spec.steps needs at least one step")
	}
	seen := map[string]bool{}
	for i, s := range p.Spec.Steps {
		switch {
		case strings.TrimSpace(s.Kind) == "":
			bad("spec.steps[%d].kind is required", i)
		case seen[s.Kind]:
			bad("spec.steps[%d].kind %q is duplicated", i, s.Kind)
		}
		seen[s.Kind] = true
		if s.DefaultTimeout != "" {
			if d, err := time.ParseDuration(s.DefaultTimeout); err != nil || d <= 0 {
				bad("spec.steps[%d].defaultTimeout %q is not a positive duration", i, s.DefaultTimeout)
			}
		}
		for _, r := range reserved {
			if s.Kind == r {
				bad("spec.steps[%d].kind %q collides with a built-in Kargo step kind", i, s.Kind)
			}
		}
	}
	return errors.Join(errs...)
}

// ConfigMap builds the discovery ConfigMap for p the way kargo-extended's
// `kargo step-plugin build` does: same name plus ConfigMapNameSuffix, same
// namespace, the discovery label, and the container spec, automount flag and
// steps as YAML strings.
func (p *StepPlugin) ConfigMap() (*ConfigMap, error) {
	container, err := yaml.Marshal(p.Spec.Sidecar.Container)
	if err != nil {
		return nil, fmt.Errorf("marshalling spec.sidecar.container: %w", err)
	}
	steps, err := yaml.Marshal(p.Spec.Steps)
	if err != nil {
		return nil, fmt.Errorf("marshalling spec.steps: %w", err)
	}
	labels := map[string]string{ConfigMapLabelKey: ConfigMapLabelValue}
	for k, v := range p.Metadata.Labels {
		if k != ConfigMapLabelKey {
			labels[k] = v
		}
	}
	return &ConfigMap{
		APIVersion: "v1",
		Kind:       "ConfigMap",
		Metadata: ObjectMeta{
			Name:      p.Metadata.Name + ConfigMapNameSuffix,
			Namespace: p.Metadata.Namespace,
			Labels:    labels,
		},
		Data: map[string]string{
			DataKeyContainer: string(container),
			DataKeyAutomount: strconv.FormatBool(p.Spec.Sidecar.AutomountServiceAccountToken),
			DataKeySteps:     string(steps),
		},
	}, nil
}

// Marshal renders v as YAML with keys in sorted order, so the same input
// always gives the same bytes.
func Marshal(v any) ([]byte, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshalling %T: %w", v, err)
	}
	return b, nil
}

// isDNSLabel reports whether s is an RFC 1123 label, as Kubernetes names and
// namespaces must be.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// ArgoRefsSteps lists argo-refs' step kinds with the timeout and error
// threshold each declares (step.DeclaredFor), as plugin.yaml carries them.
func ArgoRefsSteps() []Step {
	steps := make([]Step, 0, len(step.Kinds))
	for _, k := range step.Kinds {
		d := step.DeclaredFor(k)
		steps = append(steps, Step{Kind: string(k), DefaultTimeout: FormatDuration(d.Timeout), DefaultErrorThreshold: d.ErrorThreshold})
	}
	return steps
}

// FormatDuration writes d as Kubernetes manifests usually do ("10m", "90s",
// "1h30m"): Go's form without its zero units.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
