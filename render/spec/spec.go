// Package spec is what argo-refs asks argo-refs-render and what it answers:
// the files of one or more renders, held in memory, and the manifests (or
// the error) each render gave. It has no dependencies, so that the step
// binary speaks it without linking Helm or Kustomize.
package spec

// Version is the request format's version; argo-refs-render refuses
// another.
const Version = 1

// Request asks for renders, each on its own files.
type Request struct {
	Version int      `json:"version"`
	Renders []Render `json:"renders"`
}

// Render is one render: a Helm chart or a Kustomize directory. Exactly one
// of Helm and Kustomize is set.
type Render struct {
	// Name says which render this is in messages, e.g. "staging at 1a2b3c4".
	Name      string     `json:"name"`
	Helm      *Helm      `json:"helm,omitempty"`
	Kustomize *Kustomize `json:"kustomize,omitempty"`
}

// Helm renders a chart as `helm template` does for Argo CD: client only,
// with the release name, namespace, Kubernetes version, value files in
// order, then parameters.
type Helm struct {
	// Chart holds the chart's files, by path relative to the chart's root
	// (Chart.yaml, values.yaml, templates/..., charts/...).
	Chart map[string][]byte `json:"chart"`
	// ValueFiles are the value files' contents, in the order Argo CD passes
	// them (later ones win); ValueFileNames name them in messages.
	ValueFiles     [][]byte `json:"valueFiles,omitempty"`
	ValueFileNames []string `json:"valueFileNames,omitempty"`
	// Values is inline YAML applied after the value files (an
	// Application's helm.values or valuesObject).
	Values string `json:"values,omitempty"`
	// Parameters are helm.parameters: name=value, after everything else.
	Parameters []Parameter `json:"parameters,omitempty"`
	// ReleaseName and Namespace are the release's.
	ReleaseName string `json:"releaseName"`
	Namespace   string `json:"namespace,omitempty"`
	// KubeVersion is the cluster version the chart sees (Capabilities);
	// empty means Helm's default.
	KubeVersion string `json:"kubeVersion,omitempty"`
	// APIVersions are extra Capabilities.APIVersions.
	APIVersions []string `json:"apiVersions,omitempty"`
	// SkipCRDs leaves the chart's crds/ out (Argo CD includes them).
	SkipCRDs bool `json:"skipCRDs,omitempty"`
}

// Parameter is one helm.parameters entry.
type Parameter struct {
	Name        string `json:"name"`
	Value       string `json:"value"`
	ForceString bool   `json:"forceString,omitempty"`
}

// Kustomize builds Dir with krusty on Files, an in-memory file system
// (paths relative to its root, slash-separated). Remote bases must have
// been replaced by local directories in Files.
type Kustomize struct {
	Files map[string][]byte `json:"files"`
	Dir   string            `json:"dir"`
}

// Response answers a Request: one Output per Render, in order.
type Response struct {
	Outputs []Output `json:"outputs"`
}

// Output is one render's manifests (a YAML stream, one document per
// resource, as Argo CD would apply them), or its error.
type Output struct {
	Manifests string `json:"manifests,omitempty"`
	// Error is the render's failure in the engine's own words (a template
	// error, a missing file); empty on success.
	Error string `json:"error,omitempty"`
	// Missing names what the render needed and did not have (a chart
	// dependency neither vendored nor given); set with Error.
	Missing []string `json:"missing,omitempty"`
}
