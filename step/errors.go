package step

import "errors"

// TerminalError marks a failure that retrying cannot fix: a bad config, a bad
// build-lock record, an image digest that moved, a commit that is missing, a
// path escaping the repository. Kargo reports it as Failed; every other error
// is Errored and may be retried.
type TerminalError struct {
	Err error
}

// Error returns the wrapped error's message unchanged.
func (e *TerminalError) Error() string {
	if e.Err == nil {
		return "terminal error"
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error so errors.Is and errors.As see through it.
func (e *TerminalError) Unwrap() error { return e.Err }

// Terminal reports that it is true: the error is terminal.
func (e *TerminalError) Terminal() bool { return true }

// Terminal marks err as terminal. A nil err stays nil.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return &TerminalError{Err: err}
}

// terminalMarker is what IsTerminal looks for in an error chain. TerminalError
// and ConfigError implement it; other packages may too without importing step.
type terminalMarker interface {
	error
	Terminal() bool
}

// IsTerminal reports whether any error in err's chain is marked terminal,
// meaning the step must fail rather than be retried. It is the one place that
// classifies failures: nil is not terminal, and neither is an unmarked error
// (network, registry 5xx after retries, push race exhausted).
func IsTerminal(err error) bool {
	var m terminalMarker
	return errors.As(err, &m) && m.Terminal()
}

// ErrConflictingTargets means two targets would give one scalar two
// values (two targets sharing a values file, one pinning the digest; a
// values key that is the deployment file's own key). It is terminal.
var ErrConflictingTargets = errors.New("conflicting targets")
