package step

import (
	"log/slog"
	"time"

	"github.com/argo-refs/argo-refs/review"
	"github.com/argo-refs/argo-refs/step/kargo"
)

// Kind names a step kind as Stages write it in `uses:`.
type Kind string

// The step kinds this project provides.
const (
	// KindVerify reads and verifies a Freight's build-lock; it changes nothing.
	KindVerify Kind = "argo-refs-verify"
	// KindPromote verifies, then moves the stage's targets, commits and pushes.
	KindPromote Kind = "argo-refs-promote"
)

// Kinds lists every step kind, in the order help texts show them.
var Kinds = []Kind{KindPromote, KindVerify}

// Declared is what a runtime that lets a plugin declare them (kargo-extended's
// plugin.yaml, a CustomPromotionStep) is told about a step kind. Without
// them kargo-extended gives a step an error threshold of 1, so one registry
// blip would fail the whole Promotion, and no timeout at all.
type Declared struct {
	// Timeout bounds the step across all of Kargo's calls and retries.
	Timeout time.Duration
	// ErrorThreshold is how many Errored (retryable) results in a row Kargo
	// takes before it gives up.
	ErrorThreshold uint32
}

// DeclaredFor returns the declared defaults of kind. A promote may retry a
// push race and its own 5 minute network timeout once within 10 minutes; a
// verify makes no push. Three Errored results in a row ride out a registry
// or Git host blip; Failed results are terminal whatever the threshold.
func DeclaredFor(kind Kind) Declared {
	if kind == KindPromote {
		return Declared{Timeout: 10 * time.Minute, ErrorThreshold: 3}
	}
	return Declared{Timeout: 5 * time.Minute, ErrorThreshold: 3}
}

// Context is what a runtime knows about the promotion a step runs in.
type Context struct {
	Project   string
	Stage     string
	Promotion string
	// PromotionActor is who created the Promotion (Kargo's
	// ctx.meta.promotion.actor); it goes into the commit's Promoted-By.
	PromotionActor string
	Alias          string
	// WorkDir is scratch space the step may use; it is left as it was found.
	WorkDir string
	Freight kargo.FreightCollection
}

// Options carries what the runtime adds to a call.
type Options struct {
	// Getenv looks up credentials and settings from the environment; nil
	// means no environment.
	Getenv func(string) string
	// Logger receives progress lines; nil discards them. Never secrets.
	Logger *slog.Logger
	// DryRun, for KindPromote, verifies and computes the edits but pushes
	// nothing; Result.Diff holds what would have been committed.
	DryRun bool
	// Render, for KindPromote, renders the stage's manifests and reviews
	// them even when the config has no render section.
	Render bool
	// Renderer renders; nil means ExecRenderer (argo-refs-render next to
	// the running executable).
	Renderer Renderer
	// Truster verifies an image policy; nil means ExecTruster
	// (argo-refs-trust next to the running executable).
	Truster Truster
}

// Result is the outcome of one step call, in the terms Kargo understands.
type Result struct {
	Status kargo.StepStatus
	// Message is one line for the Kargo UI.
	Message string
	// Output holds the step's outputs for later steps, keyed by the Output*
	// constants.
	Output map[string]any
	// Terminal is true when retrying cannot help.
	Terminal bool
	// Err is the underlying error, nil on success.
	Err error
	// Diff is the unified diff a dry run would have committed.
	Diff string
	// Review is the rendered review as text, and Rendered the review
	// itself, when one was made.
	Review   string
	Rendered *review.Review
	// HealthCheck, when set, is the health check Kargo should run for the
	// Stage (StepPlugin runtime).
	HealthCheck *kargo.HealthCheck
}
