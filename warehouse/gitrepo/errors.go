package gitrepo

import (
	"errors"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// Errors callers branch on with errors.Is. Every error this package returns
// also says what it was doing and where.
var (
	// ErrBranchNotFound means the remote has no such branch.
	ErrBranchNotFound = errors.New("branch not found")
	// ErrBranchExists means a branch to be created already exists.
	// Errors carrying it also carry ErrStale.
	ErrBranchExists = errors.New("branch already exists")
	// ErrCommitNotFound means the server has no such (reachable) commit, or
	// refused to serve it.
	ErrCommitNotFound = errors.New("commit not found")
	// ErrPathNotFound means a path does not exist in a commit.
	ErrPathNotFound = errors.New("path not found")
	// ErrPathOutsideRepo means a path is empty, absolute, has a "..", "."
	// or ".git" component, or goes through a symbolic link.
	ErrPathOutsideRepo = errors.New("path leaves the repository")
	// ErrNotRegularFile means a path names a directory or a submodule where
	// a file is expected, or a file where a directory is expected.
	ErrNotRegularFile = errors.New("not a regular file")
	// ErrStale means the branch moved: the remote tip is not the expected
	// old value (a push race). Re-read the tip and retry.
	ErrStale = errors.New("branch moved")
	// ErrAuth means the server refused the credentials (HTTP 401 or 403).
	ErrAuth = errors.New("authentication failed")
	// ErrPushRejected means the server refused a push for another reason
	// than a race, or did not report the outcome.
	ErrPushRejected = errors.New("push rejected")
	// ErrPushRefused means the server read the push and said no for a
	// reason a retry of the same push cannot change: it could not unpack
	// the objects (a strict host's fsck, a size limit) or refused the ref
	// update for a reason other than a race or a hook (whose verdict may
	// change, so it stays a plain ErrPushRejected). The error carries the
	// server's own words. Errors carrying it also carry ErrPushRejected.
	ErrPushRefused = errors.New("push refused by the server")
	// ErrPushOutcomeUnknown means a push request failed in transit (the
	// connection broke before an answer) or was answered 5xx or 429: the
	// branch may or may not have moved. Errors carrying it also carry
	// ErrPushRejected. Update re-reads the tip and tries again, so a push
	// that did land is found there instead of being made twice.
	ErrPushOutcomeUnknown = errors.New("push outcome unknown")
	// ErrFileTooLarge means a file read is over Options.MaxFileSize, as the
	// pack declared it, so it was not inflated.
	ErrFileTooLarge = errors.New("file over the size limit")
	// ErrRedirect means the server redirected to another origin (scheme,
	// host or port), which is refused: credentials go only to the origin
	// they were configured for.
	ErrRedirect = errors.New("redirect to another origin refused")
	// ErrRepositoryNotFound means the server has no repository at the URL
	// (HTTP 404).
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrInvalidURL means a repository URL is malformed or not allowed.
	ErrInvalidURL = errors.New("invalid repository URL")
	// ErrFilterUnsupported means the server does not advertise the
	// `filter` capability that ProbePath needs to stay within its budget.
	ErrFilterUnsupported = errors.New("server does not support partial fetches (filter)")
	// ErrSign means a commit could not be signed; nothing was built, so
	// nothing unsigned is pushed in its place.
	ErrSign = errors.New("signing the commit failed")
)

// redactedError hides a secret in the text of the error it wraps, as a last
// line of defence: credentials are never put into errors on purpose.
type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string {
	return netpolicy.RedactSecrets(e.err.Error(), e.secret)
}

func (e *redactedError) Unwrap() error { return e.err }

func hideSecret(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	return &redactedError{err: err, secret: secret}
}
