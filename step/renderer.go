package step

// Running argo-refs-render, the second binary that links Helm and
// Kustomize, only when a render is asked for.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

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
	bin, err := e.path()
	if err != nil {
		return spec.Response{}, err
	}
	in, err := json.Marshal(req)
	if err != nil {
		return spec.Response{}, fmt.Errorf("encoding the render request: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Stdin = bytes.NewReader(in)
	var out limitedWriter
	out.max = maxRenderAnswer
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir()}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return spec.Response{}, fmt.Errorf("rendering: %w", ctx.Err())
		}
		return spec.Response{}, fmt.Errorf("running %s: %v: %s", RenderBinary, err, strings.TrimSpace(lastLines(stderr.String(), 5)))
	}
	if out.over {
		return spec.Response{}, fmt.Errorf("running %s: the answer is over %d bytes", RenderBinary, maxRenderAnswer)
	}
	var res spec.Response
	if err := json.Unmarshal(out.b.Bytes(), &res); err != nil {
		return spec.Response{}, fmt.Errorf("reading the answer of %s: %w", RenderBinary, err)
	}
	if len(res.Outputs) != len(req.Renders) {
		return spec.Response{}, fmt.Errorf("%s answered %d renders, asked %d", RenderBinary, len(res.Outputs), len(req.Renders))
	}
	return res, nil
}

// ErrNoRenderer means argo-refs-render is not installed.
var ErrNoRenderer = errors.New(RenderBinary + " not found")

func (e ExecRenderer) path() (string, error) {
	if e.Path != "" {
		return e.Path, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), RenderBinary)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(RenderBinary); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w next to argo-refs or on PATH: rendering needs it (the argo-refs image has it at /%s)", ErrNoRenderer, RenderBinary)
}

type limitedWriter struct {
	b    bytes.Buffer
	max  int
	over bool
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		w.over = true
		return 0, errors.New("answer too large")
	}
	return w.b.Write(p)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
