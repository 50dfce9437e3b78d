package step

import (
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/githubtest"
	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/step/kargo"
)

// ciFixture is a fixture whose source repository is org/app on the Git
// server, and a GitHub API double that knows its commit and wants secret
// as the token.
func ciFixture(t *testing.T, o fixtureOpt) (*fixture, *githubtest.Server) {
	t.Helper()
	o.sourceName = "org/app.git"
	f := newFixture(t, o)
	gh := githubtest.New(t)
	gh.RequireToken(secret)
	gh.AddCommit("org", "app", f.srcCommit)
	return f, gh
}

// ciConfig gates on contexts (all when none), through the double's API
// (a GitHub Enterprise Server's path), with the token in the credentials.
func (f *fixture) ciConfig(gh *githubtest.Server, contexts ...string) map[string]any {
	gate := map[string]any{"apiURL": gh.URL + "/api/v3"}
	if len(contexts) > 0 {
		gate["contexts"] = contexts
	}
	return map[string]any{
		"gates": map[string]any{"sourceChecks": gate},
		"credentials": map[string]any{
			"git":       map[string]any{"username": gitUser, "password": secret},
			"registry":  map[string]any{"username": regUser, "password": secret, "registry": f.registryHost()},
			"githubAPI": map[string]any{"token": secret},
		},
	}
}

// TestCIResultGate, on both layouts and both steps: nothing reported yet
// and pending are Errored (Kargo retries) and say what they wait for; a
// success lets the release through and the output names what passed; and
// nothing is pushed before.
func TestCIResultGate(t *testing.T) {
	for _, layout := range []struct {
		name    string
		opt     fixtureOpt
		targets []any
		edited  string
	}{
		{"helm", fixtureOpt{}, []any{map[string]any{"deploymentFile": map[string]any{}}}, "apps/codeai/deployments/staging/deployment.yaml"},
		{"kustomize", fixtureOpt{kustomize: true}, []any{map[string]any{"kustomization": map[string]any{}}}, "apps/codeai/deployments/staging/deploy/kustomization.yaml"},
	} {
		t.Run(layout.name, func(t *testing.T) {
			f, gh := ciFixture(t, layout.opt)
			cfg := f.ciConfig(gh, "continuous-integration/drone/push", "ui-tests")
			cfg["targets"] = layout.targets
			tip := f.tip(t)

			res := f.run(t, KindPromote, "staging", cfg)
			wantStatus(t, res, kargo.StatusErrored, false)
			if !strings.Contains(res.Message, "waiting for CI on org/app at "+short(f.srcCommit)) || !strings.Contains(res.Message, "continuous-integration/drone/push (not reported yet)") {
				t.Fatalf("message %q", res.Message)
			}
			gh.SetStatus("org", "app", f.srcCommit, "continuous-integration/drone/push", "success", "https://drone.example/org/app/1")
			gh.AddCheckRun("org", "app", f.srcCommit, "ui-tests", "in_progress", "", "https://github.com/org/app/runs/2")
			res = f.run(t, KindVerify, "staging", cfg)
			wantStatus(t, res, kargo.StatusErrored, false)
			if !strings.Contains(res.Message, "ui-tests (in_progress: https://github.com/org/app/runs/2)") || strings.Contains(res.Message, "drone/push (") {
				t.Fatalf("message %q", res.Message)
			}
			if f.tip(t) != tip {
				t.Fatal("pushed while CI was pending")
			}

			// The check completes (a newer run of the same name).
			gh.AddCheckRun("org", "app", f.srcCommit, "ui-tests", "completed", "success", "https://github.com/org/app/runs/3")
			res = f.run(t, KindPromote, "staging", cfg)
			wantStatus(t, res, kargo.StatusSucceeded, false)
			got, _ := res.Output[OutputSourceChecks].(map[string]any)
			if passed, _ := got["passed"].([]string); len(passed) != 2 || passed[0] != "continuous-integration/drone/push" || passed[1] != "ui-tests" {
				t.Fatalf("output %s = %v", OutputSourceChecks, res.Output[OutputSourceChecks])
			}
			if !strings.Contains(f.show(t, "main", layout.edited), f.srcCommit) {
				t.Fatalf("%s not promoted", layout.edited)
			}
			for _, h := range gh.AuthHeaders() {
				if h != "Bearer "+secret {
					t.Fatalf("the API got Authorization %q", leaktest.Find(h, "", secret))
				}
			}
		})
	}
}

// TestCIResultGateFailures: a failed status or check run is Failed and
// names every failing context with its link; an unknown commit and a
// refused token are Failed; a rate limit is Errored and says when it
// resets; without named contexts, every one counts and at least one must
// exist.
func TestCIResultGateFailures(t *testing.T) {
	f, gh := ciFixture(t, fixtureOpt{})
	gh.SetStatus("org", "app", f.srcCommit, "continuous-integration/drone/push", "failure", "https://drone.example/org/app/7")
	gh.AddCheckRun("org", "app", f.srcCommit, "lint", "completed", "success", "")
	gh.AddCheckRun("org", "app", f.srcCommit, "ui-tests", "completed", "timed_out", "https://github.com/org/app/runs/9")
	tip := f.tip(t)

	res := f.run(t, KindPromote, "staging", f.ciConfig(gh))
	wantStatus(t, res, kargo.StatusFailed, true)
	for _, want := range []string{"CI failed on org/app", "continuous-integration/drone/push (failure: https://drone.example/org/app/7)", "ui-tests (timed_out: https://github.com/org/app/runs/9)"} {
		if !strings.Contains(res.Message, want) {
			t.Fatalf("message %q lacks %q", res.Message, want)
		}
	}
	if strings.Contains(res.Message, "lint") {
		t.Fatalf("a passing check is listed as failing: %q", res.Message)
	}
	// Only the named context counts: lint passed.
	wantStatus(t, f.run(t, KindVerify, "staging", f.ciConfig(gh, "lint")), kargo.StatusSucceeded, false)

	reset := time.Now().Add(17 * time.Minute).Truncate(time.Second)
	gh.RateLimit(1, reset, false)
	res = f.run(t, KindVerify, "staging", f.ciConfig(gh, "lint"))
	wantStatus(t, res, kargo.StatusErrored, false)
	if !strings.Contains(res.Message, "rate limit") || !strings.Contains(res.Message, reset.UTC().Format(time.RFC3339)) {
		t.Fatalf("rate-limited: %q", res.Message)
	}
	gh.RateLimit(1, time.Time{}, true)
	wantStatus(t, f.run(t, KindVerify, "staging", f.ciConfig(gh, "lint")), kargo.StatusErrored, false)

	cfg := f.ciConfig(gh, "lint")
	cfg["credentials"].(map[string]any)["githubAPI"] = map[string]any{"token": secret + "-wrong"}
	res = f.run(t, KindVerify, "staging", cfg)
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, "refused the credentials") || strings.Contains(res.Message, "-wrong") {
		t.Fatalf("wrong token: %q", res.Message)
	}

	if f.tip(t) != tip {
		t.Fatal("a failed gate pushed")
	}
}

// TestCIResultGateUnknownCommitAndEmptyReport: GitHub's 404 for the commit
// is Failed; a commit nobody reported on is pending when no context is
// named.
func TestCIResultGateUnknownCommitAndEmptyReport(t *testing.T) {
	f, gh := ciFixture(t, fixtureOpt{})
	res := f.run(t, KindVerify, "staging", f.ciConfig(gh))
	wantStatus(t, res, kargo.StatusErrored, false)
	if !strings.Contains(res.Message, "no status or check run (not reported yet)") {
		t.Fatalf("empty report: %q", res.Message)
	}
	gh2 := githubtest.New(t) // knows no commit
	res = f.run(t, KindVerify, "staging", f.ciConfig(gh2))
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, "commit not found on GitHub") {
		t.Fatalf("unknown commit: %q", res.Message)
	}
}

// TestCIResultGateTokenStaysHome: GITHUB_TOKEN from the environment goes to
// api.github.com only, never to an apiURL a config names, and a config
// token is never echoed.
func TestCIResultGateTokenStaysHome(t *testing.T) {
	f, gh := ciFixture(t, fixtureOpt{})
	gh.RequireToken("")
	gh.SetStatus("org", "app", f.srcCommit, "ci", "success", "")
	cfg := f.ciConfig(gh)
	delete(cfg["credentials"].(map[string]any), "githubAPI")
	res := Run(t.Context(), KindVerify, f.context("staging"), f.config(t, cfg), Options{Getenv: envOf(map[string]string{"GITHUB_TOKEN": secret})})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	for _, h := range gh.AuthHeaders() {
		if h != "" {
			t.Fatalf("GITHUB_TOKEN went to %s: Authorization %q", gh.URL, leaktest.Find(h, "", secret))
		}
	}
}
