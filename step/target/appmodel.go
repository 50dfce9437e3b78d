package target

// application is the part of an Argo CD Application that a promotion reads,
// with the API's JSON names. It stands in for Kargo's model of the
// Application (github.com/akuity/kargo/pkg/controller/argocd/api/v1alpha1),
// which links the Kubernetes API packages into the binary and costs every
// run tens of milliseconds of package init and ~15 MiB of memory; a test
// decodes every test Application with both and requires the same answers.
type application struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Source  *appSource  `json:"source,omitempty"`
		Sources []appSource `json:"sources,omitempty"`
	} `json:"spec"`
}

// appSource is one source of an Application.
type appSource struct {
	RepoURL        string `json:"repoURL"`
	TargetRevision string `json:"targetRevision,omitempty"`
	Chart          string `json:"chart,omitempty"`
}
