package render

import (
	"context"
	"fmt"

	"github.com/argo-refs/argo-refs/render/spec"
)

// Render runs every render of req, each on its own files; a render that
// fails has its Error set and does not stop the others. Only a malformed
// request is an error.
func Render(ctx context.Context, req spec.Request) (spec.Response, error) {
	if req.Version != spec.Version {
		return spec.Response{}, fmt.Errorf("request version %d, this argo-refs-render speaks %d", req.Version, spec.Version)
	}
	out := spec.Response{Outputs: make([]spec.Output, len(req.Renders))}
	for i, r := range req.Renders {
		switch {
		case (r.Helm == nil) == (r.Kustomize == nil):
			return spec.Response{}, fmt.Errorf("render %d (%s): give exactly one of helm and kustomize", i, r.Name)
		case r.Helm != nil:
			out.Outputs[i] = helm(ctx, r.Helm)
		default:
			out.Outputs[i] = kustomize(r.Kustomize)
		}
		if err := ctx.Err(); err != nil {
			return spec.Response{}, err
		}
	}
	return out, nil
}
