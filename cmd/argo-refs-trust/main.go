// Command argo-refs-trust verifies, for argo-refs, that an image digest
// meets a stage's policy: a spec.Request as JSON on stdin (the digest, the
// record's source, the policy, the trusted root, and the signatures and
// attestations argo-refs found in the registry), a spec.Response on
// stdout. It is a second binary so that sigstore-go costs nothing to a
// promotion without a policy: argo-refs runs it, from the same image, only
// when one is set. It reaches the network only for the public-good trusted
// root (its TUF repository).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/argo-refs/argo-refs/internal/helperbin"
	"github.com/argo-refs/argo-refs/trust"
	"github.com/argo-refs/argo-refs/trust/spec"
)

// maxRequest bounds the request read from stdin.
const maxRequest = 64 << 20

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Stdin, os.Stdout, os.Stderr, os.Args[1:]))
}

// run reads the request, verifies and writes the verdict; the exit code
// is 0 when a verdict was written (it says whether the image passed), 2
// for a request it cannot read.
func run(ctx context.Context, in io.Reader, out, errOut io.Writer, args []string) int {
	var req spec.Request
	return helperbin.Main(ctx, "argo-refs-trust", usage, args, in, out, errOut, maxRequest, &req, func(ctx context.Context) (any, error) {
		return trust.Verify(ctx, req), nil
	})
}

const usage = "usage: argo-refs-trust < request.json > response.json\n\nVerifies the signatures and provenance of an image digest against a policy (trust/spec) for argo-refs; run by argo-refs, not by hand."
