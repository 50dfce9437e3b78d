package kargo

import "encoding/json"

// StepStatus is the outcome of one promotion step as Kargo records it.
type StepStatus string

// The step statuses of Kargo's v1alpha1 API.
const (
	StatusSucceeded StepStatus = "Succeeded"
	StatusFailed    StepStatus = "Failed"
	StatusErrored   StepStatus = "Errored"
	StatusRunning   StepStatus = "Running"
	StatusSkipped   StepStatus = "Skipped"
	StatusAborted   StepStatus = "Aborted"
)

// FreightOrigin names what produced a piece of Freight, usually a Warehouse.
type FreightOrigin struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// GitCommit is one Git commit carried by Freight.
type GitCommit struct {
	RepoURL   string `json:"repoURL,omitempty"`
	ID        string `json:"id,omitempty"`
	Branch    string `json:"branch,omitempty"`
	Tag       string `json:"tag,omitempty"`
	Message   string `json:"message,omitempty"`
	Author    string `json:"author,omitempty"`
	Committer string `json:"committer,omitempty"`
}

// Image is one container image carried by Freight.
type Image struct {
	RepoURL string `json:"repoURL,omitempty"`
	Tag     string `json:"tag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// Chart is one Helm chart carried by Freight.
type Chart struct {
	RepoURL string `json:"repoURL,omitempty"`
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

// FreightReference is one piece of Freight as a step sees it.
type FreightReference struct {
	Name    string        `json:"name"`
	Origin  FreightOrigin `json:"origin"`
	Commits []GitCommit   `json:"commits,omitempty"`
	Images  []Image       `json:"images,omitempty"`
	Charts  []Chart       `json:"charts,omitempty"`
}

// FreightCollection is the Freight a Promotion promotes, keyed by
// "<OriginKind>/<OriginName>" (e.g. "Warehouse/codeai-builds").
type FreightCollection struct {
	ID    string                      `json:"id,omitempty"`
	Items map[string]FreightReference `json:"items,omitempty"`
}

// StepContext is the "context" object of a StepPlugin request: what Kargo
// tells a step about the promotion it runs in.
type StepContext struct {
	UIBaseURL        string            `json:"uiBaseURL,omitempty"`
	WorkDir          string            `json:"workDir,omitempty"`
	SharedState      json.RawMessage   `json:"sharedState,omitempty"`
	Alias            string            `json:"alias,omitempty"`
	Config           json.RawMessage   `json:"config,omitempty"`
	Project          string            `json:"project,omitempty"`
	Stage            string            `json:"stage,omitempty"`
	Promotion        string            `json:"promotion,omitempty"`
	PromotionUID     string            `json:"promotionUID,omitempty"`
	PromotionActor   string            `json:"promotionActor,omitempty"`
	FreightRequests  json.RawMessage   `json:"freightRequests,omitempty"`
	Freight          FreightCollection `json:"freight"`
	TargetFreightRef json.RawMessage   `json:"targetFreightRef,omitempty"`
}

// StepRequestStep is the "step" object of a StepPlugin request.
type StepRequestStep struct {
	Kind   string          `json:"kind"`
	Alias  string          `json:"alias,omitempty"`
	Config json.RawMessage `json:"config,omitempty"`
}

// StepRequest is the body kargo-extended POSTs to /api/v1/step.execute.
type StepRequest struct {
	Context StepContext     `json:"context"`
	Step    StepRequestStep `json:"step"`
}

// HealthCheck asks Kargo to run a health check after the step. It is
// Kargo's health.Criteria (pkg/health), whose fields Kind and Input carry no
// JSON tags: Kargo decodes the keys case-insensitively, so "kind" and
// "input" reach it; a key spelled "type" is dropped without a word.
type HealthCheck struct {
	Kind  string         `json:"kind"`
	Input map[string]any `json:"input,omitempty"`
}

// StepResponse is the body a StepPlugin answers with.
type StepResponse struct {
	Status      StepStatus     `json:"status"`
	Message     string         `json:"message,omitempty"`
	Output      map[string]any `json:"output,omitempty"`
	HealthCheck *HealthCheck   `json:"healthCheck,omitempty"`
	RetryAfter  string         `json:"retryAfter,omitempty"`
	Error       string         `json:"error,omitempty"`
	Terminal    bool           `json:"terminal,omitempty"`
}
