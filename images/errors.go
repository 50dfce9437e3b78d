package images

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// The sentinel errors below classify every failure of this package. The step
// maps ErrTagMoved, ErrNotFound, ErrUnauthorized and ErrInvalidReference to a
// terminal failure and ErrUnavailable to a retryable error. Branch on them with
// errors.Is.
var (
	// ErrTagMoved means the tag now points at another digest than the one
	// recorded. Terminal.
	ErrTagMoved = errors.New("tag points at another digest")
	// ErrNotFound means the registry does not know the tag, digest or
	// repository. Terminal.
	ErrNotFound = errors.New("tag or repository not found")
	// ErrUnauthorized means the registry answered 401 or 403: the credentials
	// are wrong or lack access. Terminal; never retried.
	ErrUnauthorized = errors.New("registry refused the credentials")
	// ErrUnavailable means the registry could not give an answer after the
	// retries (429, 5xx, connection errors, deadline). Retryable: nothing is
	// known about the tag.
	ErrUnavailable = errors.New("registry unavailable")
	// ErrInvalidReference means an image reference or digest is malformed.
	// Terminal.
	ErrInvalidReference = errors.New("invalid image reference")
)

// classify wraps err, returned by a registry call, with the sentinel that
// describes it. It never adds credentials: transport errors carry only the
// method, a redacted URL and the registry's error body.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{ErrTagMoved, ErrNotFound, ErrUnauthorized, ErrUnavailable, ErrInvalidReference} {
		if errors.Is(err, s) {
			return err
		}
	}
	var cert *netpolicy.TLSError
	if errors.As(err, &cert) {
		// An untrusted certificate is terminal on its own (see netpolicy.TLSError):
		// it is no outage.
		return err
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w: %w", ErrUnauthorized, err)
		case http.StatusNotFound:
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		if terr.StatusCode == http.StatusTooManyRequests || terr.StatusCode >= 500 {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return fmt.Errorf("%w: %w", ErrUnauthorized, err)
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				return fmt.Errorf("%w: %w", ErrNotFound, err)
			}
		}
	}
	// Everything else (429 and 5xx after the retries, connection errors,
	// deadlines, unexpected statuses) leaves the answer unknown.
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
