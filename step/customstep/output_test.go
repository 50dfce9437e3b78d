package customstep

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/kargo"
)

func fixed(d ...string) func() (string, error) {
	return func() (string, error) {
		if len(d) == 0 {
			return "", errors.New("out of delimiters")
		}
		s := d[0]
		d = d[1:]
		return s, nil
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name    string
		outputs map[string]any
		delims  []string
		want    string
	}{
		{
			name:    "sorted one-line values",
			outputs: map[string]any{"releaseId": "git-d072d04", "changed": true, "attempts": 2, "branch": "main"},
			want:    "attempts=2\nbranch=main\nchanged=true\nreleaseId=git-d072d04\n",
		},
		{
			name:    "equals signs stay in the value",
			outputs: map[string]any{"url": "https://x/repo.git//base?ref=abc&a=b", "e": "="},
			want:    "e==\nurl=https://x/repo.git//base?ref=abc&a=b\n",
		},
		{
			name:    "multi-line value uses a heredoc",
			outputs: map[string]any{"a": "one", "diff": "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a=1\n+a=2", "z": "last"},
			delims:  []string{"ARGO_REFS_EOF_1"},
			want:    "a=one\ndiff<<ARGO_REFS_EOF_1\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a=1\n+a=2\nARGO_REFS_EOF_1\nz=last\n",
		},
		{
			name:    "trailing newline kept inside the heredoc",
			outputs: map[string]any{"m": "line\n"},
			delims:  []string{"D"},
			want:    "m<<D\nline\n\nD\n",
		},
		{
			name:    "carriage return also needs a heredoc",
			outputs: map[string]any{"m": "a\rb"},
			delims:  []string{"D"},
			want:    "m<<D\na\rb\nD\n",
		},
		{
			name:    "a delimiter found in the value is replaced",
			outputs: map[string]any{"m": "x\nARGO_REFS_EOF_1\ny"},
			delims:  []string{"ARGO_REFS_EOF_1", "ARGO_REFS_EOF_2"},
			want:    "m<<ARGO_REFS_EOF_2\nx\nARGO_REFS_EOF_1\ny\nARGO_REFS_EOF_2\n",
		},
		{
			name: "structured values as JSON, nil as empty",
			outputs: map[string]any{
				"targets": []step.TargetChange{{Path: "apps/x.yaml", Key: "spec.source.targetRevision", Old: "a", New: "b"}},
				"none":    nil,
			},
			want: "none=\ntargets=[{\"path\":\"apps/x.yaml\",\"key\":\"spec.source.targetRevision\",\"old\":\"a\",\"new\":\"b\"}]\n",
		},
		{name: "no outputs", outputs: nil, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := format(tt.outputs, fixed(tt.delims...))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestFormatRefuses(t *testing.T) {
	for _, k := range []string{"", "a=b", "a\nb", "a<<b"} {
		if _, err := Format(map[string]any{k: "v"}); !errors.Is(err, ErrBadKey) {
			t.Errorf("key %q: err = %v, want ErrBadKey", k, err)
		}
	}
	big := strings.Repeat("x", MaxOutputBytes)
	if _, err := Format(map[string]any{"big": big}); !errors.Is(err, ErrOutputTooLarge) {
		t.Errorf("big value: err = %v, want ErrOutputTooLarge", err)
	}
	// Just at the limit: "k=" + value + "\n" is exactly MaxOutputBytes.
	if _, err := Format(map[string]any{"k": strings.Repeat("x", MaxOutputBytes-3)}); err != nil {
		t.Errorf("output of exactly %d bytes: %v", MaxOutputBytes, err)
	}
	if _, err := Format(map[string]any{"ch": make(chan int)}); err == nil {
		t.Error("a value JSON cannot encode was accepted")
	}
}

// parse reads the GitHub-Actions-style output format the way Kargo
// documents it: key=value, or key<<DELIM ... DELIM.
func parse(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if k, d, ok := strings.Cut(line, "<<"); ok && !strings.Contains(k, "=") {
			var lines []string
			closed := false
			for sc.Scan() {
				if sc.Text() == d {
					closed = true
					break
				}
				lines = append(lines, sc.Text())
			}
			if !closed {
				t.Fatalf("heredoc %s for %s never closed in %q", d, k, s)
			}
			out[k] = strings.Join(lines, "\n")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("line %q is neither key=value nor a heredoc", line)
		}
		out[k] = v
	}
	return out
}

func TestRandomDelimiterRoundTrip(t *testing.T) {
	outputs := map[string]any{
		"diff":  "a=1\nARGO_REFS_EOF_\n<<\nb=2",
		"image": "ghcr.io/x/y@sha256:" + strings.Repeat("a", 64),
		"eq":    "k=v=w",
	}
	b, err := Format(outputs)
	if err != nil {
		t.Fatal(err)
	}
	got := parse(t, string(b))
	for k, v := range outputs {
		if got[k] != v {
			t.Errorf("%s: parsed %q, want %q\nfile:\n%s", k, got[k], v, b)
		}
	}
	first := strings.SplitN(string(b), "\n", 2)[0]
	if !strings.HasPrefix(first, "diff<<ARGO_REFS_EOF_") || len(first) < len("diff<<ARGO_REFS_EOF_")+16 {
		t.Errorf("heredoc line %q lacks a random ARGO_REFS_EOF_ delimiter", first)
	}
	b2, _ := Format(outputs)
	if string(b) == string(b2) {
		t.Error("two runs used the same heredoc delimiter")
	}
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(path, []byte("stale=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, map[string]any{"releaseId": "git-d072d04"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "releaseId=git-d072d04\n" {
		t.Errorf("file = %q, want only the new outputs", b)
	}
	err = WriteFile(path, map[string]any{"big": strings.Repeat("x", MaxOutputBytes)})
	if !errors.Is(err, ErrOutputTooLarge) || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want ErrOutputTooLarge naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "releaseId=git-d072d04\n" {
		t.Errorf("a refused write changed the file to %q", b)
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir"), nil); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

type cfgErr struct{ problem bool }

func (e cfgErr) Error() string       { return "config: /repoURL: required" }
func (e cfgErr) ConfigProblem() bool { return e.problem }

func TestExitCode(t *testing.T) {
	tests := []struct {
		result step.Result
		want   int
	}{
		{step.Result{Status: kargo.StatusSucceeded}, ExitOK},
		{step.Result{Status: kargo.StatusSkipped}, ExitOK},
		{step.Result{Status: kargo.StatusFailed, Terminal: true, Err: errors.New("digest moved")}, ExitFailed},
		{step.Result{Status: kargo.StatusFailed, Terminal: true, Err: fmt.Errorf("parsing: %w", cfgErr{true})}, ExitUsage},
		{step.Result{Status: kargo.StatusFailed, Terminal: true, Err: cfgErr{false}}, ExitFailed},
		{step.Result{Status: kargo.StatusErrored, Err: errors.New("503")}, ExitTransient},
		{step.Result{Status: kargo.StatusErrored, Terminal: true}, ExitFailed},
		{step.Result{Status: kargo.StatusRunning}, ExitTransient},
		{step.Result{Status: kargo.StatusAborted}, ExitFailed},
		{step.Result{}, ExitFailed},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.result); got != tt.want {
			t.Errorf("ExitCode(%s terminal=%v err=%v) = %d, want %d", tt.result.Status, tt.result.Terminal, tt.result.Err, got, tt.want)
		}
	}
}
