// Command argo-refs-render renders Helm charts and Kustomize directories
// for argo-refs: a spec.Request as JSON on stdin, a spec.Response as JSON
// on stdout. It is a second binary so that Helm and Kustomize cost nothing
// to a promotion that renders nothing: argo-refs runs it, from the same
// image, only when a render is asked for.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/argo-refs/argo-refs/internal/helperbin"
	"github.com/argo-refs/argo-refs/render"
	"github.com/argo-refs/argo-refs/render/spec"
)

// maxRequest bounds the request read from stdin.
const maxRequest = 256 << 20

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Stdin, os.Stdout, os.Stderr, os.Args[1:]))
}

// run reads the request, renders, and writes the answer; the exit code is
// 0 when every render ran (each output says whether it succeeded), 2 for a
// request it cannot read.
func run(ctx context.Context, in io.Reader, out, errOut io.Writer, args []string) int {
	var req spec.Request
	return helperbin.Main(ctx, "argo-refs-render", usage, args, in, out, errOut, maxRequest, &req, func(ctx context.Context) (any, error) {
		return render.Render(ctx, req)
	})
}

const usage = "usage: argo-refs-render < request.json > response.json\n\nRenders the Helm charts and Kustomize directories of a request (render/spec) for argo-refs; run by argo-refs, not by hand."
