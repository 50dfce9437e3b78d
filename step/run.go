package step

import (
	"context"
	"errors"

	"github.com/argo-refs/argo-refs/step/kargo"
)

// Run executes one step of the given kind with its raw JSON config. It never
// panics on bad input; every problem comes back as a Result.
func Run(ctx context.Context, kind Kind, sc Context, config []byte, opts Options) Result {
	err := errors.New("the step is not implemented yet")
	return Result{Status: kargo.StatusErrored, Message: err.Error(), Err: err}
}
