package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCommandLineLooksLikeItsNeighbours: help on stdout, `help CMD`,
// --version and `version -o json`, "did you mean" for commands and flags,
// completion, and the exit codes in the help, as kubectl, argocd, flux and
// crane (all cobra) behave.
func TestCommandLineLooksLikeItsNeighbours(t *testing.T) {
	t.Run("help CMD shows the command's help on stdout", func(t *testing.T) {
		r := runArgoRefs(t, nil, "help", "promote")
		if r.code != exitOK || r.stderr != "" || !strings.Contains(r.stdout, "Usage: argo-refs promote [--config FILE]") || !strings.Contains(r.stdout, "--dry-run") {
			t.Fatalf("exit %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout)
		}
	})
	t.Run("the root help lists the commands and the exit codes", func(t *testing.T) {
		r := runArgoRefs(t, nil, "--help")
		for _, want := range []string{"promote", "publish", "serve", "completion", "Exit status: 0 done", "3 a transient failure"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("root help lacks %q:\n%s", want, r.stdout)
			}
		}
		if r.code != exitOK || r.stderr != "" {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("no command shows the help and exits 2", func(t *testing.T) {
		r := runArgoRefs(t, nil)
		if r.code != exitUsage || !strings.Contains(r.stdout, "Usage: argo-refs") {
			t.Fatalf("exit %d, stdout:\n%s", r.code, r.stdout)
		}
	})
	t.Run("--version and version -o json", func(t *testing.T) {
		r := runArgoRefs(t, nil, "--version")
		if r.code != exitOK || !strings.HasPrefix(r.stdout, "argo-refs ") {
			t.Fatalf("--version: exit %d, stdout %q", r.code, r.stdout)
		}
		text := runArgoRefs(t, nil, "version")
		if text.stdout != r.stdout {
			t.Errorf("version prints %q, --version %q", text.stdout, r.stdout)
		}
		j := runArgoRefs(t, nil, "version", "-o", "json")
		var v map[string]any
		if err := json.Unmarshal([]byte(j.stdout), &v); err != nil || j.code != exitOK {
			t.Fatalf("version -o json: exit %d, %v: %q", j.code, err, j.stdout)
		}
		if v["version"] == "" || v["version"] == nil || !strings.HasPrefix(v["goVersion"].(string), "go1.") {
			t.Errorf("version -o json = %v", v)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"promot"}, `unknown command "promot"; did you mean "promote"?`},
		{"unknown flag", []string{"promote", "--confg", "x.yaml"}, "unknown flag: --confg; did you mean --config?"},
		{"unknown flag far from any", []string{"publish", "--zzzzzzzz"}, "unknown flag: --zzzzzzzz"},
		{"single-dash long flag", []string{"verify", "-config", "x"}, "unknown shorthand flag"},
		{"bad flag value", []string{"serve", "--max-running", "many"}, `invalid argument "many"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runArgoRefs(t, nil, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitUsage, tc.want)
			}
			if strings.Contains(tc.name, "far from any") && strings.Contains(r.stderr, "did you mean") {
				t.Fatalf("suggested a flag for a word far from every flag: %q", r.stderr)
			}
		})
	}
	t.Run("completion", func(t *testing.T) {
		for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
			r := runArgoRefs(t, nil, "completion", shell)
			if r.code != exitOK || !strings.Contains(r.stdout, "argo-refs") || len(r.stdout) < 500 {
				t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, r.code, len(r.stdout), r.stderr)
			}
		}
	})
}
