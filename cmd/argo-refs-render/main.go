// Command argo-refs-render renders Helm charts and Kustomize directories
// for argo-refs: a spec.Request as JSON on stdin, a spec.Response as JSON
// on stdout. It is a second binary so that Helm and Kustomize cost nothing
// to a promotion that renders nothing: argo-refs runs it, from the same
// image, only when a render is asked for.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

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
	if len(args) == 1 && (args[0] == "--help" || args[0] == "-h") {
		fmt.Fprintln(out, "usage: argo-refs-render < request.json > response.json\n\nRenders the Helm charts and Kustomize directories of a request (render/spec) for argo-refs; run by argo-refs, not by hand.")
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintf(errOut, "argo-refs-render: unexpected arguments %q (it reads a request on stdin)\n", args)
		return 2
	}
	data, err := io.ReadAll(io.LimitReader(in, maxRequest+1))
	if err != nil {
		fmt.Fprintf(errOut, "argo-refs-render: reading the request: %v\n", err)
		return 2
	}
	if len(data) > maxRequest {
		fmt.Fprintf(errOut, "argo-refs-render: the request is over %d bytes\n", maxRequest)
		return 2
	}
	var req spec.Request
	if err := json.Unmarshal(data, &req); err != nil {
		fmt.Fprintf(errOut, "argo-refs-render: reading the request: %v\n", err)
		return 2
	}
	res, err := render.Render(ctx, req)
	if err != nil {
		fmt.Fprintf(errOut, "argo-refs-render: %v\n", err)
		return 2
	}
	if err := json.NewEncoder(out).Encode(res); err != nil {
		fmt.Fprintf(errOut, "argo-refs-render: writing the answer: %v\n", err)
		return 1
	}
	return 0
}
