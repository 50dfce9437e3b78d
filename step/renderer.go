package step

// Running argo-refs-render, the second binary that links Helm and
// Kustomize, only when a render is asked for.

import (
	"context"
	"errors"
	"fmt"

	"github.com/argo-refs/argo-refs/internal/helperbin"
	"github.com/argo-refs/argo-refs/render/spec"
)

// Renderer renders Helm charts and Kustomize directories held in memory.
type Renderer interface {
	Render(ctx context.Context, req spec.Request) (spec.Response, error)
}

// RenderBinary is the name of the render helper, looked up next to the
// running executable (as the image installs both), then on PATH.
const RenderBinary = "argo-refs-render"

// maxRenderAnswer bounds what argo-refs-render may answer.
const maxRenderAnswer = 256 << 20

// ExecRenderer runs argo-refs-render: the request on its stdin, the answer
// on its stdout.
type ExecRenderer struct {
	// Path is the helper's path; empty means RenderBinary next to the
	// running executable, then on PATH.
	Path string
}

// Render implements Renderer.
func (e ExecRenderer) Render(ctx context.Context, req spec.Request) (spec.Response, error) {
	bin, err := helperbin.Path(e.Path, RenderBinary, "rendering", ErrNoRenderer)
	if err != nil {
		return spec.Response{}, err
	}
	var res spec.Response
	if err := helperbin.Call(ctx, bin, req, &res, maxRenderAnswer); err != nil {
		return spec.Response{}, err
	}
	if len(res.Outputs) != len(req.Renders) {
		return spec.Response{}, fmt.Errorf("%s answered %d renders, asked %d", RenderBinary, len(res.Outputs), len(req.Renders))
	}
	return res, nil
}

// ErrNoRenderer means argo-refs-render is not installed.
var ErrNoRenderer = errors.New(RenderBinary + " not found")
