package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/kargo"
)

const (
	stepTestSecret = "hunter2-SECRET-in-config"
	stepTestSHA    = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
)

// stepCall is what the swapped step runner saw.
type stepCall struct {
	kind   step.Kind
	sc     step.Context
	config []byte
	opts   step.Options
}

// testStepRunner, when set, runs the steps of the commands a test starts
// (runArgoRefs, startServe); no test here runs in parallel.
var testStepRunner func() stepFunc

// swapRunStep replaces the step runner for one test; it returns the calls seen.
func swapRunStep(t *testing.T, res step.Result) *[]stepCall {
	t.Helper()
	var calls []stepCall
	old := testStepRunner
	testStepRunner = func() stepFunc {
		return func(_ context.Context, kind step.Kind, sc step.Context, config []byte, opts step.Options) step.Result {
			calls = append(calls, stepCall{kind, sc, config, opts})
			return res
		}
	}
	t.Cleanup(func() { testStepRunner = old })
	return &calls
}

type cmdResult struct {
	code           int
	stdout, stderr string
}

func runArgoRefs(t *testing.T, env map[string]string, args ...string) cmdResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, stdio{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return env[k] },

		newStepRunner: testStepRunner,
	})
	return cmdResult{code, out.String(), errb.String()}
}

func writeTestFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const testConfigYAML = `# a Stage's step config
repoURL: https://git.example.com/k8s-gitops.git
branch: main
buildLockDir: warehouses/codeai/builds
credentials:
  git:
    password: ` + stepTestSecret + `
`

// testConfigJSON is testConfigYAML as YAMLToJSON writes it (sorted keys).
const testConfigJSON = `{"branch":"main","buildLockDir":"warehouses/codeai/builds","credentials":{"git":{"password":"` + stepTestSecret + `"}},"repoURL":"https://git.example.com/k8s-gitops.git"}`

func TestStepCommandUsageErrors(t *testing.T) {
	cfg := writeTestFile(t, "config.yaml", testConfigYAML)
	badYAML := writeTestFile(t, "bad.yaml", "repoURL: [\npassword: "+stepTestSecret+"\n")
	list := writeTestFile(t, "list.yaml", "- a\n- b\n")
	noRepo := writeTestFile(t, "norepo.yaml", "branch: main\n")
	freight := writeTestFile(t, "freight.json", `{"items":{}}`)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // in the first stderr line
	}{
		{"no config", nil, []string{"verify", "--stage", "staging"}, "no step config: give --config FILE or set ARGO_REFS_CONFIG"},
		{"config file missing", nil, []string{"verify", "--config", "/nonexistent/c.yaml"}, "/nonexistent/c.yaml"},
		{"config not YAML", nil, []string{"verify", "--config", badYAML}, "parsing config " + badYAML + " as YAML or JSON"},
		{"config a list", nil, []string{"verify", "--config", list}, "expected a mapping of settings, found a list"},
		{"env config null", map[string]string{envConfig: "null"}, []string{"verify"}, "ARGO_REFS_CONFIG: expected a mapping of settings, found nothing"},
		{"env config a scalar", map[string]string{envConfig: "just words"}, []string{"verify"}, "ARGO_REFS_CONFIG: expected a mapping of settings, found a single value"},
		{"positional argument", nil, []string{"promote", "--config", cfg, "staging"}, `unexpected argument "staging"`},
		{"bad output format", nil, []string{"verify", "--config", cfg, "--output", "xml"}, `--output "xml": expected text or json`},
		{"both freight sources", nil, []string{"verify", "--config", cfg, "--gitops-commit", stepTestSHA, "--freight", freight}, "give one"},
		{"short sha", nil, []string{"verify", "--config", cfg, "--gitops-commit", "1a2b3c4"}, "expected a full commit SHA"},
		{"sha not hex", nil, []string{"verify", "--config", cfg, "--gitops-commit", strings.Repeat("g", 40)}, "expected a full commit SHA"},
		{"no repoURL for gitops-commit", nil, []string{"verify", "--config", noRepo, "--gitops-commit", stepTestSHA}, "the config has no repoURL"},
		{"freight without items", nil, []string{"verify", "--config", cfg, "--freight", freight}, "found none"},
		{"freight file missing", nil, []string{"verify", "--config", cfg, "--freight", "/nonexistent/f.json"}, "/nonexistent/f.json"},
		{"verify has no dry run", nil, []string{"verify", "--config", cfg, "--dry-run"}, "unknown flag: --dry-run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := swapRunStep(t, step.Result{Status: kargo.StatusSucceeded})
			r := runArgoRefs(t, tt.env, tt.args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d; stderr %s", r.code, exitUsage, r.stderr)
			}
			first := strings.SplitN(r.stderr, "\n", 2)[0]
			if !strings.Contains(first, tt.want) {
				t.Errorf("first stderr line %q does not contain %q", first, tt.want)
			}
			if strings.Contains(r.stderr+r.stdout, stepTestSecret) {
				t.Errorf("output quotes the config's secret:\n%s%s", r.stdout, r.stderr)
			}
			if len(*calls) != 0 {
				t.Errorf("the step ran %d times on bad usage", len(*calls))
			}
		})
	}
}

func TestStepCommandConfigSources(t *testing.T) {
	file := writeTestFile(t, "config.yaml", testConfigYAML)
	jsonFile := writeTestFile(t, "config.json", testConfigJSON)
	other := writeTestFile(t, "other.yaml", "repoURL: https://other.example.com/x.git\n")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"YAML file", nil, []string{"verify", "--config", file}, testConfigJSON},
		{"JSON file", nil, []string{"verify", "--config", jsonFile}, testConfigJSON},
		{"inline YAML from env", map[string]string{envConfig: testConfigYAML}, []string{"verify"}, testConfigJSON},
		{"inline JSON from env", map[string]string{envConfig: testConfigJSON}, []string{"verify"}, testConfigJSON},
		{"flag beats env", map[string]string{envConfig: testConfigYAML}, []string{"verify", "--config", other}, `{"repoURL":"https://other.example.com/x.git"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := swapRunStep(t, step.Result{Status: kargo.StatusSucceeded})
			r := runArgoRefs(t, tt.env, tt.args...)
			if r.code != exitOK {
				t.Fatalf("exit %d; stderr %s", r.code, r.stderr)
			}
			if len(*calls) != 1 {
				t.Fatalf("step ran %d times", len(*calls))
			}
			if got := string((*calls)[0].config); got != tt.want {
				t.Errorf("config = %s\nwant %s", got, tt.want)
			}
			if (*calls)[0].kind != step.KindVerify {
				t.Errorf("kind = %s", (*calls)[0].kind)
			}
		})
	}
}

func TestStepCommandContext(t *testing.T) {
	cfg := writeTestFile(t, "config.yaml", testConfigYAML+"warehouse: codeai-builds\n")
	env := map[string]string{
		envProject: "codeai", envStage: "from-env", envPromotion: "promo-env",
		"GIT_PASSWORD": "from-getenv",
	}
	calls := swapRunStep(t, step.Result{Status: kargo.StatusSucceeded})
	r := runArgoRefs(t, env, "promote", "--config", cfg, "--stage", "production", "--alias", "promote-prod",
		"--gitops-commit", strings.ToUpper(stepTestSHA), "--work-dir", "/workspace")
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr %s", r.code, r.stderr)
	}
	c := (*calls)[0]
	want := step.Context{
		Project: "codeai", Stage: "production", Promotion: "promo-env", Alias: "promote-prod", WorkDir: "/workspace",
		Freight: kargo.FreightCollection{
			ID: strings.ToUpper(stepTestSHA),
			Items: map[string]kargo.FreightReference{
				"Warehouse/codeai-builds": {
					Name:    strings.ToUpper(stepTestSHA),
					Origin:  kargo.FreightOrigin{Kind: "Warehouse", Name: "codeai-builds"},
					Commits: []kargo.GitCommit{{RepoURL: "https://git.example.com/k8s-gitops.git", ID: stepTestSHA}},
				},
			},
		},
	}
	if !reflect.DeepEqual(c.sc, want) {
		t.Errorf("context = %+v\nwant %+v", c.sc, want)
	}
	if c.kind != step.KindPromote || c.opts.DryRun {
		t.Errorf("kind %s dryRun %v, want promote without dry run", c.kind, c.opts.DryRun)
	}
	if c.opts.Getenv == nil || c.opts.Getenv("GIT_PASSWORD") != "from-getenv" {
		t.Error("the step does not see the command's environment")
	}

	// Defaults: no warehouse in config, work dir is the current directory.
	cfg2 := writeTestFile(t, "config.yaml", testConfigYAML)
	calls = swapRunStep(t, step.Result{Status: kargo.StatusSucceeded})
	if r := runArgoRefs(t, nil, "verify", "--config", cfg2, "--gitops-commit", stepTestSHA); r.code != exitOK {
		t.Fatalf("exit %d; stderr %s", r.code, r.stderr)
	}
	c = (*calls)[0]
	if _, ok := c.sc.Freight.Items["Warehouse/"+defaultWarehouse]; !ok {
		t.Errorf("freight items %v, want Warehouse/%s", c.sc.Freight.Items, defaultWarehouse)
	}
	wd, _ := os.Getwd()
	if c.sc.WorkDir != wd {
		t.Errorf("work dir %q, want the current directory %q", c.sc.WorkDir, wd)
	}
	if c.sc.Stage != "" {
		t.Errorf("stage %q, want empty without flag or env", c.sc.Stage)
	}
}

func TestStepCommandFreightFile(t *testing.T) {
	cfg := writeTestFile(t, "config.yaml", testConfigYAML)
	freight := writeTestFile(t, "freight.json", `{
  "id": "f00d",
  "items": {
    "Warehouse/codeai-builds": {
      "name": "f00d",
      "origin": {"kind": "Warehouse", "name": "codeai-builds"},
      "commits": [{"repoURL": "https://git.example.com/k8s-gitops.git", "id": "`+stepTestSHA+`", "branch": "main"}]
    }
  }
}`)
	calls := swapRunStep(t, step.Result{Status: kargo.StatusSucceeded})
	if r := runArgoRefs(t, nil, "verify", "--config", cfg, "--freight", freight); r.code != exitOK {
		t.Fatalf("exit %d; stderr %s", r.code, r.stderr)
	}
	got := (*calls)[0].sc.Freight
	item := got.Items["Warehouse/codeai-builds"]
	if got.ID != "f00d" || len(item.Commits) != 1 || item.Commits[0].ID != stepTestSHA || item.Commits[0].Branch != "main" {
		t.Errorf("freight = %+v", got)
	}
}

func TestStepCommandKargoOutput(t *testing.T) {
	cfg := writeTestFile(t, "config.yaml", testConfigYAML)
	outFile := filepath.Join(t.TempDir(), "kargo-output")
	swapRunStep(t, step.Result{
		Status:  kargo.StatusSucceeded,
		Message: "production → git-d072d04; commit 9f8e7d6",
		Output: map[string]any{
			"releaseId": "git-d072d04",
			"changed":   true,
			"commitMessage": "Promote production to git-d072d04\n\n" +
				"image=ghcr.io/x/y@sha256:aa",
		},
	})
	r := runArgoRefs(t, map[string]string{"KARGO_OUTPUT": outFile}, "promote", "--config", cfg, "--gitops-commit", stepTestSHA)
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	// changed, commitMessage (heredoc), releaseId, in key order.
	if len(lines) != 8 || lines[0] != "changed=true" || lines[6] != "releaseId=git-d072d04" || lines[7] != "" {
		t.Fatalf("KARGO_OUTPUT file:\n%s", b)
	}
	delim, ok := strings.CutPrefix(lines[1], "commitMessage<<ARGO_REFS_EOF_")
	if !ok || delim == "" {
		t.Fatalf("line %q is not a heredoc opener with a random delimiter", lines[1])
	}
	body := strings.Join(lines[2:5], "\n")
	if body != "Promote production to git-d072d04\n\nimage=ghcr.io/x/y@sha256:aa" || lines[5] != "ARGO_REFS_EOF_"+delim {
		t.Errorf("heredoc body %q closed by %q", body, lines[5])
	}
	// stdout: the message, then the same outputs.
	if !strings.HasPrefix(r.stdout, "production → git-d072d04; commit 9f8e7d6\nchanged=true\ncommitMessage<<ARGO_REFS_EOF_") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr on success: %q", r.stderr)
	}
}

func TestStepCommandOutputTooLarge(t *testing.T) {
	cfg := writeTestFile(t, "config.yaml", testConfigYAML)
	outFile := filepath.Join(t.TempDir(), "kargo-output")
	swapRunStep(t, step.Result{Status: kargo.StatusSucceeded, Output: map[string]any{"big": strings.Repeat("x", 300<<10)}})
	r := runArgoRefs(t, map[string]string{"KARGO_OUTPUT": outFile}, "verify", "--config", cfg)
	if r.code != exitFailed || !strings.Contains(r.stderr, "outputs too large") {
		t.Errorf("exit %d stderr %q, want 1 and outputs too large", r.code, r.stderr)
	}
}

type testConfigProblem struct{}

func (testConfigProblem) Error() string       { return "/targets/0/path: must not contain '..'" }
func (testConfigProblem) ConfigProblem() bool { return true }

func TestStepCommandExitCodes(t *testing.T) {
	cfg := writeTestFile(t, "config.yaml", testConfigYAML)
	tests := []struct {
		name   string
		result step.Result
		code   int
		line   string // the first stderr line, exactly
	}{
		{"succeeded", step.Result{Status: kargo.StatusSucceeded, Message: "ok"}, exitOK, ""},
		{"failed", step.Result{Status: kargo.StatusFailed, Terminal: true, Message: "digest moved", Err: errors.New("tag 1.2 now resolves to sha256:bb, record has sha256:aa")},
			exitFailed, "argo-refs verify: Failed: digest moved: tag 1.2 now resolves to sha256:bb, record has sha256:aa"},
		{"bad config", step.Result{Status: kargo.StatusFailed, Terminal: true, Message: "invalid step config", Err: testConfigProblem{}},
			exitUsage, "argo-refs verify: Failed: invalid step config: /targets/0/path: must not contain '..'"},
		{"transient", step.Result{Status: kargo.StatusErrored, Message: "registry unavailable", Err: errors.New("ghcr.io answered 503 three times")},
			exitTransient, "argo-refs verify: Errored: registry unavailable: ghcr.io answered 503 three times"},
		{"terminal errored", step.Result{Status: kargo.StatusErrored, Terminal: true, Message: "push refused"},
			exitFailed, "argo-refs verify: Errored: push refused"},
		{"multi-line error folded", step.Result{Status: kargo.StatusFailed, Err: errors.New("a\nb")},
			exitFailed, "argo-refs verify: Failed: a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			swapRunStep(t, tt.result)
			r := runArgoRefs(t, nil, "verify", "--config", cfg)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d", r.code, tt.code)
			}
			first := strings.SplitN(r.stderr, "\n", 2)[0]
			if first != tt.line {
				t.Errorf("stderr first line %q\nwant %q", first, tt.line)
			}
			if tt.code == exitFailed || tt.code == exitTransient {
				if strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("stderr is not one line: %q", r.stderr)
				}
			}
		})
	}
}

func TestStepCommandJSONOutput(t *testing.T) {
	cfg := writeTestFile(t, "config.yaml", testConfigYAML)
	swapRunStep(t, step.Result{Status: kargo.StatusFailed, Terminal: true, Message: "commit missing", Err: errors.New("source commit abc not found"), Output: map[string]any{"releaseId": "git-abc"}})
	r := runArgoRefs(t, nil, "verify", "--config", cfg, "--output", "json")
	if r.code != exitFailed {
		t.Errorf("exit %d", r.code)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	want := map[string]any{
		"status": "Failed", "message": "commit missing", "output": map[string]any{"releaseId": "git-abc"},
		"terminal": true, "error": "source commit abc not found",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON = %v\nwant %v", got, want)
	}

	swapRunStep(t, step.Result{Status: kargo.StatusSucceeded, Message: "fine"})
	r = runArgoRefs(t, nil, "verify", "--config", cfg, "--output", "json")
	if r.code != exitOK || strings.TrimSpace(r.stdout) != "{\n  \"status\": \"Succeeded\",\n  \"message\": \"fine\",\n  \"output\": {}\n}" {
		t.Errorf("exit %d stdout %q", r.code, r.stdout)
	}
}

func TestPromoteDryRun(t *testing.T) {
	cfg := writeTestFile(t, "config.yaml", testConfigYAML)
	diff := "diff --git a/envs/prod/app.yaml b/envs/prod/app.yaml\n--- a/envs/prod/app.yaml\n+++ b/envs/prod/app.yaml\n@@ -1 +1 @@\n-targetRevision: aaa\n+targetRevision: bbb\n"
	calls := swapRunStep(t, step.Result{Status: kargo.StatusSucceeded, Message: "dry run: 1 target would move", Output: map[string]any{"changed": true}, Diff: diff})
	r := runArgoRefs(t, nil, "promote", "--config", cfg, "--dry-run")
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr %s", r.code, r.stderr)
	}
	if !(*calls)[0].opts.DryRun {
		t.Error("--dry-run did not reach the step")
	}
	want := "dry run: 1 target would move\nchanged=true\n" + diff
	if r.stdout != want {
		t.Errorf("stdout\n%q\nwant\n%q", r.stdout, want)
	}
}

func TestStepCommandHelp(t *testing.T) {
	for _, name := range []string{"promote", "verify", "serve"} {
		r := runArgoRefs(t, nil, name, "--help")
		if r.code != exitOK || r.stderr != "" {
			t.Errorf("%s --help: exit %d, stderr %q; want 0 and nothing", name, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "Example:\n  argo-refs "+name+" --") || strings.Contains(r.stdout, "not yet implemented") {
			t.Errorf("%s --help lacks a real example:\n%s", name, r.stdout)
		}
	}
}

// TestStepCommandOutputFileUnwritable: when $KARGO_OUTPUT cannot be written
// after the step succeeded, the exit is 3 (retryable: a re-run finds the
// work done and writes the outputs again); after a failed step, the step's
// own exit code stands.
func TestStepCommandOutputFileUnwritable(t *testing.T) {
	cfg := writeTestFile(t, "config.yaml", testConfigYAML)
	outFile := filepath.Join(t.TempDir(), "no-such-dir", "kargo-output")
	for _, tc := range []struct {
		name   string
		res    step.Result
		code   int
		stderr string
	}{
		{"after success", step.Result{Status: kargo.StatusSucceeded, Output: map[string]any{"changed": true}}, exitTransient, "the step succeeded, but writing outputs to"},
		{"after a failure", step.Result{Status: kargo.StatusFailed, Terminal: true, Message: "tag moved", Output: map[string]any{"releaseId": "git-1"}}, exitFailed, "also: writing outputs to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			swapRunStep(t, tc.res)
			r := runArgoRefs(t, map[string]string{"KARGO_OUTPUT": outFile}, "promote", "--config", cfg, "--gitops-commit", stepTestSHA)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}
}

// TestConfigWithTwoProblemsIsPrintedOnce: the one line on stderr names each
// problem once (the multi-line error was appended to its own one-line form).
func TestConfigWithTwoProblemsIsPrintedOnce(t *testing.T) {
	cfg := `{"repoURL": "https://github.com/org/gitops.git", "buildLockDir": "../x", "timeout": "soon"}`
	r := runArgoRefs(t, map[string]string{"ARGO_REFS_CONFIG": cfg}, "verify", "--stage", "staging", "--gitops-commit", stepTestSHA)
	if r.code != exitUsage {
		t.Fatalf("exit %d, want %d:\n%s", r.code, exitUsage, r.stderr)
	}
	for _, p := range []string{"/buildLockDir", "/timeout"} {
		if n := strings.Count(r.stderr, p); n != 1 {
			t.Errorf("%q appears %d times, want once:\n%s", p, n, r.stderr)
		}
	}
}
