package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/kargoext"
	"github.com/argo-refs/argo-refs/step"
)

// delayFirst holds the first request whose path contains part for d before
// serving it: a Git server that answers after d.
func delayFirst(part string, d time.Duration) gittest.Option {
	var once sync.Once
	return gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, part) {
				once.Do(func() { time.Sleep(d) })
			}
			next.ServeHTTP(w, r)
		})
	})
}

// delayEach holds every request whose path contains part for d: a slow
// Git server.
func delayEach(part string, d time.Duration) gittest.Option {
	return gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, part) {
				time.Sleep(d)
			}
			next.ServeHTTP(w, r)
		})
	})
}

// TestStepPluginStepLongerThanTheCallersTimeout runs a promotion that needs
// longer than kargo-extended's 30 s client timeout through the sidecar,
// called by a double of kargo-extended's engine (internal/kargoext: its
// 30 s timeout, its retries, Running → call again after retryAfter). Before,
// each call was cancelled when the client gave up and the retry started
// from zero, for ever. Now the step runs once, detached, and a later call
// collects its answer: Succeeded, exactly one commit, one push.
//
// The 3-minute case is a slow Git server, each of the promotion's four
// requests answered after 45 s. It runs at a tenth of its time scale
// (client timeout 3 s, --answer-within 2 s, 4.5 s a request) unless
// ARGO_REFS_E2E_FULL_SCALE=1 (30 s, 20 s, 45 s).
func TestStepPluginStepLongerThanTheCallersTimeout(t *testing.T) {
	t.Parallel()
	full := os.Getenv("ARGO_REFS_E2E_FULL_SCALE") == "1"
	type scale struct {
		name                     string
		clientTimeout, gitDelay  time.Duration // gitDelay: how long the whole promotion waits for Git
		slowGit                  gittest.Option
		answerWithin, retryAfter time.Duration
	}
	cases := []scale{
		{"Git answers after 35s", kargoext.ClientTimeout, 35 * time.Second, delayFirst("/gitops.git/", 35*time.Second), 20 * time.Second, 2 * time.Second},
		{"3 minutes at 1/10 scale", 3 * time.Second, 18 * time.Second, delayEach("/gitops.git/", 4500*time.Millisecond), 2 * time.Second, time.Second},
	}
	if full {
		cases[1] = scale{"3 minutes", kargoext.ClientTimeout, 180 * time.Second, delayEach("/gitops.git/", 45*time.Second), 20 * time.Second, 2 * time.Second}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixtureWithGit(t, []gittest.Option{tc.slowGit})
			s := newSandbox(t)
			sc := startSidecar(t, s, "--answer-within="+tc.answerWithin.String(), "--retry-after="+tc.retryAfter.String())
			start := f.tip(t)
			declared := step.DeclaredFor(step.KindPromote)
			engine := &kargoext.Engine{
				URL: sc.url, Token: pluginToken, Timeout: tc.clientTimeout,
				StepTimeout: declared.Timeout, ErrorThreshold: declared.ErrorThreshold,
			}
			req := kargoRequest(f, s, "argo-refs-promote", "staging", f.configJSON(map[string]any{"timeout": (tc.gitDelay + time.Minute).String()}))
			ctx, cancel := context.WithTimeout(context.Background(), tc.gitDelay+2*time.Minute)
			defer cancel()
			run := engine.RunStep(ctx, req)
			t.Logf("%s: %s after %s, %d dispatcher calls (%d HTTP requests), %d Running answers",
				tc.name, run.Final.Status, run.Elapsed.Round(time.Millisecond), run.Executions, engine.Attempts(), run.Running)

			if run.Final.Status != "Succeeded" {
				t.Fatalf("final answer %+v, want Succeeded\n%s", run.Final, sc.logs.String())
			}
			if run.Elapsed < tc.gitDelay || run.Running == 0 {
				t.Errorf("the step took %s with %d Running answers; it should have outlived the %s client timeout", run.Elapsed, run.Running, tc.clientTimeout)
			}
			if n := gittest.Git(t, f.gitopsDir, "rev-list", "--count", start+"..main"); n != "1" {
				t.Errorf("%s commits on main, want exactly 1", n)
			}
			// One promotion's requests: it ran once, never started again.
			st := f.git.Stats()
			if rp, ir := st.Service(gittest.ServiceReceivePack).Requests, st.Service(gittest.ServiceInfoRefs).Requests; rp != 1 || ir != 1 {
				t.Errorf("%d receive-pack and %d info/refs requests, want 1 and 1: the step ran more than once", rp, ir)
			}
			if out := run.Final.Output; out["changed"] != true || out["gitopsCommit"] != f.tip(t) {
				t.Errorf("outputs %v, want changed at the tip", out)
			}
			sc.stop(t)
		})
	}
}
