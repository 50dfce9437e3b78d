package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/step/customstep"
)

// stepArgs are the arguments a CustomPromotionStep's command template
// expands to, e.g. --stage=${{ ctx.stage }}.
func stepArgs(cmd, stage, gitopsCommit string, extra ...string) []string {
	return append([]string{cmd,
		"--project=kargo-codeai",
		"--stage=" + stage,
		"--promotion=" + stage + ".01jb6xq3z8",
		"--alias=" + cmd,
		"--gitops-commit=" + gitopsCommit,
	}, extra...)
}

func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

func wantOutputs(t *testing.T, r result, want map[string]string) {
	t.Helper()
	if r.outputs == nil {
		t.Fatalf("no outputs file was written\nstderr:\n%s", r.stderr)
	}
	for k, v := range want {
		if got, ok := r.outputs[k]; !ok || got != v {
			t.Errorf("output %s = %q (present: %t), want %q", k, got, ok, v)
		}
	}
}

func TestCustomStepPromoteAndRerun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newSandbox(t)
	cfg := s.writeFile(t, "config.yaml", f.configYAML(""))
	before := s.snapshot(t, s.root)
	start := f.tip(t)

	r := s.runStep(t, nil, stepArgs("promote", "staging", f.freight, "--config="+cfg)...)
	wantCode(t, r, 0)
	s.checkUntouched(t, before)
	staged := f.tip(t)
	if staged == start {
		t.Fatal("the promotion pushed no commit")
	}
	wantOutputs(t, r, map[string]string{
		"releaseId":     "git-" + f.srcCommit,
		"gitCommit":     f.srcCommit,
		"imageRef":      f.imageRef,
		"imageDigest":   f.digest,
		"sourceRepo":    f.sourceURL,
		"sourcePath":    "k8s/helm",
		"freightCommit": f.freight,
		"gitopsCommit":  staged,
		"branch":        "main",
		"changed":       "true",
	})
	var targets []map[string]string
	if err := json.Unmarshal([]byte(r.outputs["targets"]), &targets); err != nil {
		t.Fatalf("targets output %q is not a JSON list: %v", r.outputs["targets"], err)
	}
	wantTargets := []map[string]string{
		{"path": "apps/codeai/deployments/staging/deployment.yaml", "key": "targetRevision", "old": "staging", "new": f.srcCommit},
		{"path": "apps/codeai/deployments/staging/values.yaml", "key": "image", "old": "ghcr.io/code-dot-org/code-dot-org:staging", "new": f.imageRef},
	}
	if gotJSON, wantJSON := mustJSON(t, targets), mustJSON(t, wantTargets); gotJSON != wantJSON {
		t.Errorf("targets output\n%s\nwant\n%s", gotJSON, wantJSON)
	}
	wantDeploy := "# Read by the codeai ApplicationSet.\nenvType: staging\nnamespace: staging\n" +
		"targetRevision: '" + f.srcCommit + "' # moved by Kargo"
	if got := f.show(t, "apps/codeai/deployments/staging/deployment.yaml"); got != wantDeploy {
		t.Errorf("deployment.yaml after the promotion:\n%s\nwant:\n%s", got, wantDeploy)
	}
	if got := f.show(t, "apps/codeai/deployments/production/deployment.yaml"); !strings.Contains(got, "targetRevision: 'production'") {
		t.Errorf("the staging promotion touched production:\n%s", got)
	}

	// Kargo retries re-run the whole command; the config now comes inline
	// through ARGO_REFS_CONFIG as JSON, the stage through the environment
	// and the registry credentials through the environment variables a
	// CustomPromotionStep's env: would set from secret(...).
	inline := f.configJSON(nil)
	inline["credentials"] = map[string]any{"git": map[string]any{"username": gitUser, "password": secret}}
	env := []string{
		"ARGO_REFS_CONFIG=" + mustJSON(t, inline),
		"ARGO_REFS_STAGE=staging",
		"ARGO_REFS_REGISTRY_USERNAME=" + regUser,
		"ARGO_REFS_REGISTRY_PASSWORD=" + secret,
		"ARGO_REFS_REGISTRY_HOST=" + f.reg.Host,
	}
	before = s.snapshot(t, s.root)
	r = s.runStep(t, env, "promote", "--gitops-commit="+f.freight, "--promotion=staging.02")
	wantCode(t, r, 0)
	s.checkUntouched(t, before)
	if f.tip(t) != staged {
		t.Fatal("the re-run pushed a commit")
	}
	wantOutputs(t, r, map[string]string{
		"releaseId":    "git-" + f.srcCommit,
		"gitopsCommit": staged,
		"changed":      "false",
	})
}

func TestCustomStepVerifyWritesOutputs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newSandbox(t)
	cfg := s.writeFile(t, "config.yaml", f.configYAML(""))
	before := s.snapshot(t, s.root)
	tip := f.tip(t)

	r := s.runStep(t, nil, stepArgs("verify", "staging", f.freight, "--config="+cfg)...)
	wantCode(t, r, 0)
	s.checkUntouched(t, before)
	if f.tip(t) != tip {
		t.Fatal("verify pushed a commit")
	}
	wantOutputs(t, r, map[string]string{
		"releaseId":     "git-" + f.srcCommit,
		"gitCommit":     f.srcCommit,
		"imageRef":      f.imageRef,
		"imageDigest":   f.digest,
		"freightCommit": f.freight,
	})
	if _, ok := r.outputs["gitopsCommit"]; ok && r.outputs["gitopsCommit"] != tip {
		t.Errorf("verify reports gitopsCommit %q, but the branch is at %s", r.outputs["gitopsCommit"], tip)
	}

	// --output json prints the same outputs on stdout for a person.
	r = s.runStep(t, nil, stepArgs("verify", "staging", f.freight, "--config="+cfg, "--output=json")...)
	wantCode(t, r, 0)
	var printed struct {
		Status string         `json:"status"`
		Output map[string]any `json:"output"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &printed); err != nil {
		t.Fatalf("--output json printed %q: %v", r.stdout, err)
	}
	if printed.Status != "Succeeded" || printed.Output["releaseId"] != "git-"+f.srcCommit || printed.Output["imageDigest"] != f.digest {
		t.Errorf("--output json printed %+v", printed)
	}
}

func TestCustomStepDryRunPrintsDiffAndPushesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newSandbox(t)
	cfg := s.writeFile(t, "config.yaml", f.configYAML(""))
	before := s.snapshot(t, s.root)
	tip := f.tip(t)

	r := s.runStep(t, nil, stepArgs("promote", "production", f.freight, "--config="+cfg, "--dry-run")...)
	wantCode(t, r, 0)
	s.checkUntouched(t, before)
	if f.tip(t) != tip {
		t.Fatal("--dry-run pushed a commit")
	}
	// changed says the dry run would change something; gitopsCommit is
	// the branch as it stays, never a commit that was not pushed.
	wantOutputs(t, r, map[string]string{"changed": "true", "gitopsCommit": tip, "releaseId": "git-" + f.srcCommit})
	if got := refCount(t, f); got != 1 {
		t.Fatalf("--dry-run left %d refs in the GitOps repo, want only main", got)
	}
	for _, want := range []string{
		"--- a/apps/codeai/deployments/production/deployment.yaml\n",
		"+++ b/apps/codeai/deployments/production/deployment.yaml\n",
		"\n-targetRevision: 'production' # moved by Kargo\n",
		"\n+targetRevision: '" + f.srcCommit + "' # moved by Kargo\n",
		"--- a/apps/codeai/deployments/production/values.yaml\n",
		"\n-image: ghcr.io/code-dot-org/code-dot-org:production  # set at promotion\n",
		"\n+image: " + f.imageRef + "  # set at promotion\n",
		"\n@@ -",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the dry run's stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "deployments/staging/") {
		t.Errorf("the dry run for production shows a staging edit:\n%s", r.stdout)
	}
}

func TestCustomStepMovedTagFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newSandbox(t)
	cfg := s.writeFile(t, "config.yaml", f.configYAML(""))
	moved := f.reg.PushImage(t, imageRepo+":git-"+f.srcCommit, map[string]string{"rebuilt": "yes"})
	tip := f.tip(t)

	for _, cmd := range []string{"promote", "verify"} {
		r := s.runStep(t, nil, stepArgs(cmd, "staging", f.freight, "--config="+cfg)...)
		wantCode(t, r, 1)
		if f.tip(t) != tip {
			t.Fatalf("%s: a refused promotion pushed", cmd)
		}
		if r.outputs["changed"] == "true" || r.outputs["gitopsCommit"] != "" {
			t.Errorf("%s: the outputs claim a promotion:\n%s", cmd, r.rawOutputs)
		}
		errLines := lines(r.stderr)
		if len(errLines) != 1 {
			t.Fatalf("%s: stderr has %d lines, want one:\n%s", cmd, len(errLines), r.stderr)
		}
		for _, want := range []string{"argo-refs " + cmd + ": ", "Failed", f.digest, moved} {
			if !strings.Contains(errLines[0], want) {
				t.Errorf("%s: stderr line lacks %q: %s", cmd, want, errLines[0])
			}
		}
	}
}

func TestCustomStepBadConfigExits2(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newSandbox(t)
	tip := f.tip(t)
	tests := []struct {
		name string
		env  []string
		args []string
		want string // on the first stderr line
	}{
		{
			name: "bad timeout",
			args: []string{"--config=" + s.writeFile(t, "timeout.yaml", f.configYAML("timeout: soon\n"))},
			want: "/timeout",
		},
		{
			name: "missing buildLockDir",
			args: []string{"--config=" + s.writeFile(t, "nolock.yaml", strings.Replace(f.configYAML(""), "buildLockDir: "+lockDir+"\n", "", 1))},
			want: "buildLockDir",
		},
		{
			name: "not YAML",
			args: []string{"--config=" + s.writeFile(t, "broken.yaml", "repoURL: [unclosed\npassword: "+secret+"\n")},
			want: "broken.yaml",
		},
		{
			name: "missing file",
			args: []string{"--config=" + s.root + "/absent.yaml"},
			want: "absent.yaml",
		},
		{
			name: "unknown field in ARGO_REFS_CONFIG",
			env:  []string{"ARGO_REFS_CONFIG=" + mustJSON(t, f.configJSON(map[string]any{"tagrets": []any{}}))},
			want: "tagrets",
		},
		{
			name: "token in repoURL",
			args: []string{"--config=" + s.writeFile(t, "userinfo.yaml", strings.Replace(f.configYAML(""), "repoURL: http://", "repoURL: http://"+gitUser+":"+secret+"@", 1))},
			want: "user information",
		},
		{
			name: "token in an ftp repoURL",
			args: []string{"--config=" + s.writeFile(t, "ftp.yaml", strings.Replace(f.configYAML(""), "repoURL: "+f.gitopsURL, "repoURL: ftp://kargo:"+secret+"@127.0.0.1/gitops.git", 1))},
			want: "/repoURL",
		},
		{
			name: "token in a repoURL with a bad port",
			args: []string{"--config=" + s.writeFile(t, "port.yaml", strings.Replace(f.configYAML(""), "repoURL: "+f.gitopsURL, "repoURL: https://kargo:"+secret+"@127.0.0.1:99999999/gitops.git", 1))},
			want: "/repoURL",
		},
		{
			name: "no config at all",
			want: "ARGO_REFS_CONFIG",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.runStep(t, tt.env, stepArgs("promote", "staging", f.freight, tt.args...)...)
			wantCode(t, r, 2)
			errLines := lines(r.stderr)
			if len(errLines) == 0 || !strings.HasPrefix(errLines[0], "argo-refs promote: ") || !strings.Contains(errLines[0], tt.want) {
				t.Errorf("stderr does not start with a line naming %q:\n%s", tt.want, r.stderr)
			}
			if r.outputs["changed"] == "true" {
				t.Errorf("the outputs claim a promotion:\n%s", r.rawOutputs)
			}
		})
	}
	if f.tip(t) != tip {
		t.Fatal("a bad config pushed")
	}
}

func TestCustomStepUnreachableRegistryIsTransient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newSandbox(t)
	const timeout = 4 * time.Second
	cfg := s.writeFile(t, "config.yaml", strings.Replace(f.configYAML(""), "timeout: 20s\n", "timeout: "+timeout.String()+"\n", 1))
	f.reg.Down() // its port stays ours and drops every connection
	tip := f.tip(t)

	r := s.runStep(t, nil, stepArgs("promote", "staging", f.freight, "--config="+cfg)...)
	wantCode(t, r, 3)
	if f.tip(t) != tip {
		t.Fatal("a promotion whose registry was down pushed")
	}
	// The configured timeout bounds the whole step; the slack covers the
	// process start on a loaded machine.
	if r.elapsed > timeout+20*time.Second {
		t.Errorf("the step took %s with a timeout of %s", r.elapsed, timeout)
	}
	errLines := lines(r.stderr)
	if len(errLines) != 1 || !strings.Contains(errLines[0], "Errored") || !strings.Contains(errLines[0], f.reg.Host) {
		t.Errorf("stderr should be one Errored line naming the registry %s:\n%s", f.reg.Host, r.stderr)
	}
	if r.outputs["changed"] == "true" || r.outputs["gitopsCommit"] != "" {
		t.Errorf("the outputs claim a promotion:\n%s", r.rawOutputs)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func refCount(t *testing.T, f *fixture) int {
	t.Helper()
	return len(lines(gittest.Git(t, f.gitopsDir, "for-each-ref")))
}

// TestCustomStepCredentialsFromEnvNeverShow takes the credentials from the
// environment, as a CustomPromotionStep's env: sets them from secret(...),
// and runs verbose: neither the log nor the outputs nor the dry-run diff
// may show them.
func TestCustomStepCredentialsFromEnvNeverShow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newSandbox(t)
	yaml := "repoURL: " + f.gitopsURL + "\n" +
		"warehouse: " + whName + "\n" +
		"buildLockDir: " + lockDir + "\n" +
		"targets: [{deploymentFile: {}}]\n" +
		"timeout: 20s\n"
	cfg := s.writeFile(t, "config.yaml", yaml)
	env := []string{
		"GIT_USERNAME=" + gitUser, "GIT_PASSWORD=" + secret,
		"ARGO_REFS_REGISTRY_USERNAME=" + regUser, "ARGO_REFS_REGISTRY_PASSWORD=" + secret, "ARGO_REFS_REGISTRY_HOST=" + f.reg.Host,
	}
	for _, extra := range [][]string{{"--dry-run"}, nil} {
		r := s.runStep(t, env, stepArgs("promote", "staging", f.freight, append([]string{"--config=" + cfg, "--verbose"}, extra...)...)...)
		wantCode(t, r, 0) // runStep fails the test if the secret shows anywhere
		if !strings.Contains(r.stderr, "image digest verified") {
			t.Errorf("--verbose did not log the checks:\n%s", r.stderr)
		}
	}
	if got := f.show(t, "apps/codeai/deployments/staging/deployment.yaml"); !strings.Contains(got, f.srcCommit) {
		t.Errorf("deployment.yaml:\n%s", got)
	}
}

// TestOutputsHeredocReadsBack checks that the writer the binary uses and
// the GitHub-Actions-style reader these tests use (and Kargo uses) agree
// on multi-line values, which no real output of a promotion holds today.
func TestOutputsHeredocReadsBack(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"diff":  "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a=1\n+a=2",
		"tail":  "line\n",
		"eq":    "a=b<<c",
		"plain": "x",
	}
	in := map[string]any{}
	for k, v := range want {
		in[k] = v
	}
	b, err := customstep.Format(in)
	if err != nil {
		t.Fatal(err)
	}
	got := parseOutputs(t, string(b))
	if mustJSON(t, got) != mustJSON(t, want) {
		t.Fatalf("read back\n%s\nwant\n%s\nfrom\n%s", mustJSON(t, got), mustJSON(t, want), b)
	}
}
