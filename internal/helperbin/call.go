package helperbin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Call runs the helper at path with req as JSON on its stdin and decodes
// its stdout, at most maxAnswer bytes, into answer. The helper's
// environment is PATH and TMPDIR plus env ("KEY=value"). A failure names
// the helper and the last lines it wrote on stderr.
func Call(ctx context.Context, path string, req, answer any, maxAnswer int, env ...string) error {
	name := baseName(path)
	in, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encoding the request to %s: %w", name, err)
	}
	cmd := exec.CommandContext(ctx, path)
	cmd.Stdin = bytes.NewReader(in)
	out := limitedWriter{max: maxAnswer}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir()}, env...)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("running %s: %w", name, ctx.Err())
		}
		return fmt.Errorf("running %s: %v: %s", name, err, lastLines(stderr.String(), 5))
	}
	if out.over {
		return fmt.Errorf("running %s: the answer is over %d bytes", name, maxAnswer)
	}
	if err := json.Unmarshal(out.b.Bytes(), answer); err != nil {
		return fmt.Errorf("reading the answer of %s: %w", name, err)
	}
	return nil
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
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
