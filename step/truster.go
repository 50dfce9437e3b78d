package step

// Running argo-refs-trust, the second binary that links sigstore-go, only
// when a stage has an image policy.

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/argo-refs/argo-refs/internal/helperbin"
	"github.com/argo-refs/argo-refs/trust/spec"
)

// Truster verifies an image's signatures and provenance against a policy.
type Truster interface {
	Verify(ctx context.Context, req spec.Request) (spec.Response, error)
}

// TrustBinary is the name of the verification helper.
const TrustBinary = "argo-refs-trust"

// maxTrustAnswer bounds what argo-refs-trust may answer.
const maxTrustAnswer = 1 << 20

// ErrNoTruster means argo-refs-trust is not installed.
var ErrNoTruster = errors.New(TrustBinary + " not found")

// ExecTruster runs argo-refs-trust: the request on its stdin, the verdict
// on its stdout. Its environment is PATH, TMPDIR, HOME and the proxy
// variables, for the public-good trusted root's TUF repository.
type ExecTruster struct {
	// Path is the helper's path; empty means TrustBinary next to the
	// running executable, then on PATH.
	Path string
}

// Verify implements Truster.
func (e ExecTruster) Verify(ctx context.Context, req spec.Request) (spec.Response, error) {
	bin, err := helperbin.Path(e.Path, TrustBinary, "an image policy", ErrNoTruster)
	if err != nil {
		return spec.Response{}, err
	}
	env := []string{"HOME=" + os.Getenv("HOME")}
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	var res spec.Response
	if err := helperbin.Call(ctx, bin, req, &res, maxTrustAnswer, env...); err != nil {
		return spec.Response{}, err
	}
	if res.Failure == nil && (req.Policy.Signature != nil) != (res.Signature != nil) || res.Failure == nil && (req.Policy.Provenance != nil) != (res.Provenance != nil) {
		return spec.Response{}, fmt.Errorf("%s answered a verdict that does not match the policy", TrustBinary)
	}
	return res, nil
}
