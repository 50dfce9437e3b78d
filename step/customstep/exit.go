package customstep

import (
	"errors"

	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/kargo"
)

// Exit codes of the argo-refs command; Kargo fails a custom step on any
// non-zero code, and a person or script can tell the classes apart.
const (
	// ExitOK: the step succeeded (or had nothing to do).
	ExitOK = 0
	// ExitFailed: verification failed; retrying cannot help.
	ExitFailed = 1
	// ExitUsage: bad usage or bad config.
	ExitUsage = 2
	// ExitTransient: a retry may help.
	ExitTransient = 3
)

// configProblem is implemented by the step's config errors; it is the hook
// that tells a bad config (exit 2) from a failed verification (exit 1).
type configProblem interface {
	ConfigProblem() bool
}

// IsConfigProblem reports whether err, or an error it wraps, says it is a
// problem with the step's config.
func IsConfigProblem(err error) bool {
	var cp configProblem
	return errors.As(err, &cp) && cp.ConfigProblem()
}

// ExitCode maps a step result to the command's exit code: Succeeded or
// Skipped → ExitOK; a config problem → ExitUsage; Errored and not terminal,
// or Running → ExitTransient; anything else (Failed, terminal Errored,
// Aborted, no status) → ExitFailed.
func ExitCode(r step.Result) int {
	switch r.Status {
	case kargo.StatusSucceeded, kargo.StatusSkipped:
		return ExitOK
	}
	if IsConfigProblem(r.Err) {
		return ExitUsage
	}
	switch {
	case r.Status == kargo.StatusErrored && !r.Terminal, r.Status == kargo.StatusRunning:
		return ExitTransient
	default:
		return ExitFailed
	}
}
