package manifests

// The Kubernetes core/v1 types below carry only the fields a plugin sidecar
// uses, with the API's JSON names, so that the binary does not link the
// Kubernetes API packages (their init alone cost ~15 MiB of RSS and tens of
// milliseconds on every run). Tests decode the output with k8s.io/api to prove
// it is a valid core/v1 Container.

// Container is a core/v1 Container.
type Container struct {
	Name            string               `json:"name"`
	Image           string               `json:"image,omitempty"`
	Args            []string             `json:"args,omitempty"`
	Ports           []ContainerPort      `json:"ports,omitempty"`
	Env             []EnvVar             `json:"env,omitempty"`
	Resources       ResourceRequirements `json:"resources"`
	ImagePullPolicy string               `json:"imagePullPolicy,omitempty"`
	SecurityContext *SecurityContext     `json:"securityContext,omitempty"`
}

// ContainerPort is a core/v1 ContainerPort.
type ContainerPort struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
}

// EnvVar is a core/v1 EnvVar with a literal value.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// ResourceRequirements is a core/v1 ResourceRequirements; quantities are
// written as Kubernetes quantity strings such as "100m" or "128Mi".
type ResourceRequirements struct {
	Limits   map[string]string `json:"limits,omitempty"`
	Requests map[string]string `json:"requests,omitempty"`
}

// SecurityContext is a core/v1 SecurityContext.
type SecurityContext struct {
	Capabilities             *Capabilities   `json:"capabilities,omitempty"`
	RunAsUser                *int64          `json:"runAsUser,omitempty"`
	RunAsGroup               *int64          `json:"runAsGroup,omitempty"`
	RunAsNonRoot             *bool           `json:"runAsNonRoot,omitempty"`
	ReadOnlyRootFilesystem   *bool           `json:"readOnlyRootFilesystem,omitempty"`
	AllowPrivilegeEscalation *bool           `json:"allowPrivilegeEscalation,omitempty"`
	SeccompProfile           *SeccompProfile `json:"seccompProfile,omitempty"`
}

// Capabilities is a core/v1 Capabilities.
type Capabilities struct {
	Drop []string `json:"drop,omitempty"`
}

// SeccompProfile is a core/v1 SeccompProfile.
type SeccompProfile struct {
	Type string `json:"type"`
}
