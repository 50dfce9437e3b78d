package step

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/faults"
	"github.com/argo-refs/argo-refs/internal/gitopstest"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/internal/logbuf"
	"github.com/argo-refs/argo-refs/internal/regtest"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// faultFixture is a fixture whose Git server and registry are reached only
// through fault-injecting proxies: the config's repoURL, the record's
// packaging.sourceRepo and image.ref all name a proxy.
type faultFixture struct {
	*fixture
	gitProxy *faults.Proxy
	regProxy *faults.Proxy
}

// receivePack selects the push requests (not the advertisement).
var receivePack = faults.Rule{Method: http.MethodPost, PathContains: "/gitops.git/git-receive-pack"}

func rule(base faults.Rule, set func(*faults.Rule)) faults.Rule {
	set(&base)
	return base
}

// newFaultFixture publishes one release into a helm layout with the given
// stages; regMW, if set, wraps the registry (inside its proxy).
func newFaultFixture(t *testing.T, stages []string, regMW func(http.Handler) http.Handler) *faultFixture {
	t.Helper()
	f := &fixture{logs: &logbuf.Buffer{}, runner: NewRunner()}
	f.git = gittest.New(t, gittest.WithBasicAuth(gitUser, secret))
	// The token realm must be on the host:port the client asked (or a
	// public one), so the registry names its proxy in its challenges.
	var proxyURL string
	ropts := []regtest.Option{regtest.WithCredentials(regUser, secret), regtest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(&realmWriter{ResponseWriter: w, from: f.reg.URL(), to: proxyURL}, r)
		})
	})}
	if regMW != nil {
		ropts = append(ropts, regtest.WithMiddleware(regMW))
	}
	f.reg = regtest.New(t, ropts...)
	ff := &faultFixture{fixture: f, gitProxy: faults.New(t, f.git.URL), regProxy: faults.New(t, f.reg.URL())}
	proxyURL = ff.regProxy.URL

	f.git.CreateRepo(t, "source.git")
	f.sourceURL = ff.gitProxy.URL + "/source.git"
	f.srcCommit = gittest.CommitFiles(t, f.git.Dir("source.git"), "main", map[string]string{
		"k8s/helm/Chart.yaml": "apiVersion: v2\nname: codeai\nversion: 0.1.0\n",
	}, "chart")
	tag := imageRepo + ":git-" + f.srcCommit
	f.digest = f.reg.PushImage(t, tag, map[string]string{"org.opencontainers.image.revision": f.srcCommit})
	f.imageRef = ff.regProxy.Host() + "/" + tag

	f.git.CreateRepo(t, "gitops.git")
	f.gitopsURL = ff.gitProxy.URL + "/gitops.git"
	f.gitopsDir = f.git.Dir("gitops.git")
	files := map[string]string{}
	for _, stage := range stages {
		files["apps/codeai/deployments/"+stage+"/deployment.yaml"] = "envType: " + stage + "\ntargetRevision: '" + stage + "' # moved by Kargo\n"
		files["apps/codeai/deployments/"+stage+"/values.yaml"] = "image: ghcr.io/code-dot-org/code-dot-org:" + stage + "\n"
	}
	gittest.CommitFiles(t, f.gitopsDir, "main", files, "layout")
	rec, err := warehouse.New(f.srcCommit, f.imageRef, f.digest, warehouse.PackagingHelm, f.sourceURL, "k8s/helm",
		time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	f.freight = gitopstest.PublishRecord(t, f.gitopsDir, "main", lockDir, rec)
	return ff
}

// promoted asserts that stage's two targets are at the release on main.
func (f *faultFixture) promoted(t *testing.T, stage string) {
	t.Helper()
	dir := "apps/codeai/deployments/" + stage + "/"
	if got, want := f.show(t, "main", dir+"deployment.yaml"), "envType: "+stage+"\ntargetRevision: '"+f.srcCommit+"' # moved by Kargo\n"; got != want {
		t.Fatalf("%sdeployment.yaml:\n%s\nwant:\n%s", dir, got, want)
	}
	if got, want := f.show(t, "main", dir+"values.yaml"), "image: "+f.imageRef+"\n"; got != want {
		t.Fatalf("%svalues.yaml:\n%s\nwant:\n%s", dir, got, want)
	}
}

// promotions counts the promotion commits of stage on main and checks the
// history is linear.
func (f *faultFixture) promotions(t *testing.T, stage string) int {
	t.Helper()
	if merges := gittest.Git(t, f.gitopsDir, "rev-list", "--merges", "--count", "main"); merges != "0" {
		t.Fatalf("%s merge commits; history must stay linear", merges)
	}
	subjects := gittest.Git(t, f.gitopsDir, "log", "--format=%s", f.freight+"..main")
	n := 0
	for _, s := range strings.Split(subjects, "\n") {
		if s == "Promote "+stage+" to git-"+f.srcCommit {
			n++
		}
	}
	return n
}

func (f *faultFixture) config(t *testing.T, extra map[string]any) []byte {
	t.Helper()
	if extra == nil {
		extra = map[string]any{}
	}
	if _, ok := extra["timeout"]; !ok {
		extra["timeout"] = "15s"
	}
	return f.fixture.config(t, extra)
}

func (f *faultFixture) run(t *testing.T, stage string, extra map[string]any) Result {
	t.Helper()
	res := f.runner.Run(context.Background(), KindPromote, f.context(stage), f.config(t, extra), Options{
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	f.assertNoLeak(t, res)
	return res
}

func TestFaultRegistry429ThenOKHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	type hit struct {
		at     time.Time
		status int
	}
	var mu sync.Mutex
	var hits []hit
	// Outermost: sees every manifest request the registry receives and the
	// status it answered.
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !regtest.IsManifestRequest(r) {
				next.ServeHTTP(w, r)
				return
			}
			at := time.Now()
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			mu.Lock()
			hits = append(hits, hit{at, sw.status})
			mu.Unlock()
		})
	}
	fail := regtest.FailManifests(3, http.StatusTooManyRequests, "1")
	f := newFaultFixture(t, []string{"staging"}, func(h http.Handler) http.Handler { return record(fail(h)) })
	res := f.run(t, "staging", nil)
	wantStatus(t, res, kargo.StatusSucceeded, false)
	f.promoted(t, "staging")
	if n := f.promotions(t, "staging"); n != 1 {
		t.Fatalf("%d promotion commits, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hits) < 4 || f.reg.ManifestRequests() != len(hits) {
		t.Fatalf("%d manifest requests recorded, registry counted %d; want 3 refused and at least 1 served", len(hits), f.reg.ManifestRequests())
	}
	for i, h := range hits[:4] {
		want := http.StatusTooManyRequests
		if i == 3 {
			want = http.StatusOK
		}
		if h.status != want {
			t.Fatalf("manifest request %d answered %d, want %d", i+1, h.status, want)
		}
		if i > 0 {
			// Retry-After: 1 — the next request may not arrive sooner.
			if gap := h.at.Sub(hits[i-1].at); gap < time.Second {
				t.Fatalf("request %d came %s after a 429 with Retry-After: 1", i+1, gap)
			}
		}
	}
}

// realmWriter points the token realm of a challenge at the proxy.
type realmWriter struct {
	http.ResponseWriter
	from, to string
}

func (w *realmWriter) WriteHeader(code int) {
	if c := w.Header().Get("WWW-Authenticate"); c != "" {
		w.Header().Set("WWW-Authenticate", strings.Replace(c, w.from, w.to, 1))
	}
	w.ResponseWriter.WriteHeader(code)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// The deadline tests do not run in parallel with the others: their short
// timeouts must be spent on the fault, not on a starved CPU.
func TestFaultRegistry503ForeverIsErroredWithinTheTimeout(t *testing.T) {
	f := newFaultFixture(t, []string{"staging"}, nil)
	f.regProxy.Add(faults.Rule{PathContains: "/manifests/", Action: faults.Status, Code: http.StatusServiceUnavailable})
	tip := f.tip(t)
	done := make(chan Result, 1)
	go func() { done <- f.run(t, "staging", map[string]any{"timeout": "3s"}) }()
	var res Result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the step hung with a 3s timeout")
	}
	wantStatus(t, res, kargo.StatusErrored, false)
	if f.regProxy.Injected() < 2 {
		t.Fatalf("%d 503s served; the client did not retry (%v)", f.regProxy.Injected(), res.Err)
	}
	if f.tip(t) != tip {
		t.Fatal("pushed without a verified image")
	}
}

func TestFaultPushFailuresAreRetriedAndLandOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		rule faults.Rule
	}{
		{"connection reset before the push", rule(receivePack, func(r *faults.Rule) { r.Action, r.Times = faults.ResetBefore, 1 })},
		{"receive-pack 500 twice", rule(receivePack, func(r *faults.Rule) { r.Action, r.Code, r.Times = faults.Status, http.StatusInternalServerError, 2 })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFaultFixture(t, []string{"staging"}, nil)
			f.gitProxy.Add(tc.rule)
			res := f.run(t, "staging", nil)
			wantStatus(t, res, kargo.StatusSucceeded, false)
			if f.gitProxy.Injected() != tc.rule.Times {
				t.Fatalf("%d faults injected, want %d", f.gitProxy.Injected(), tc.rule.Times)
			}
			f.promoted(t, "staging")
			if n := f.promotions(t, "staging"); n != 1 {
				t.Fatalf("%d promotion commits, want exactly 1", n)
			}
			if res.Output[OutputChanged] != true || res.Output[OutputGitopsCommit] != f.tip(t) || res.Output[OutputAttempts] != tc.rule.Times+1 {
				t.Fatalf("outputs %v, want changed=true at the tip after %d attempts", res.Output, tc.rule.Times+1)
			}
		})
	}
}

func TestFaultPushAnswerLostFindsTheReleaseThere(t *testing.T) {
	t.Parallel()
	f := newFaultFixture(t, []string{"staging"}, nil)
	f.gitProxy.Add(rule(receivePack, func(r *faults.Rule) { r.Action, r.Times = faults.ResetAfter, 1 }))
	res := f.run(t, "staging", nil)
	wantStatus(t, res, kargo.StatusSucceeded, false)
	f.promoted(t, "staging")
	if n := f.promotions(t, "staging"); n != 1 {
		t.Fatalf("%d promotion commits, want exactly 1", n)
	}
	if res.Output[OutputChanged] != false || res.Output[OutputGitopsCommit] != f.tip(t) {
		t.Fatalf("outputs %v, want changed=false at the tip", res.Output)
	}
}

func TestFaultPushNotConfirmedIsNeverSuccess(t *testing.T) {
	t.Parallel()
	t.Run("report-status ng from a pre-receive hook", func(t *testing.T) {
		t.Parallel()
		f := newFaultFixture(t, []string{"staging"}, nil)
		hook := filepath.Join(f.gitopsDir, "hooks", "pre-receive")
		if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'frozen: no promotions today' >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		tip := f.tip(t)
		res := f.run(t, "staging", nil)
		// Errored, not Failed: the server refused this push, but a hook's
		// verdict (a freeze window, a required check) can change; nothing
		// was written and Kargo's error threshold bounds the retries.
		wantStatus(t, res, kargo.StatusErrored, false)
		if !errors.Is(res.Err, gitrepo.ErrPushRejected) || !strings.Contains(res.Message, "declined") {
			t.Fatalf("error %v", res.Err)
		}
		if f.tip(t) != tip {
			t.Fatal("the branch moved despite the refusal")
		}
		if n := f.git.Stats().Service(gittest.ServiceReceivePack).Requests; n != 1 {
			t.Fatalf("%d pushes; a definite refusal must not be retried", n)
		}
	})
	t.Run("no report at all", func(t *testing.T) {
		t.Parallel()
		f := newFaultFixture(t, []string{"staging"}, nil)
		f.gitProxy.Add(rule(receivePack, func(r *faults.Rule) { r.Action, r.Bytes = faults.Truncate, 0 }))
		res := f.run(t, "staging", nil)
		// Errored: the server answered 200 without saying what it did with
		// the update. That is not a success, and not a reason to retry in
		// place either; Kargo's retry re-reads the branch.
		wantStatus(t, res, kargo.StatusErrored, false)
		if !errors.Is(res.Err, gitrepo.ErrPushRejected) {
			t.Fatalf("error %v", res.Err)
		}
		if n := f.gitProxy.Injected(); n != 1 {
			t.Fatalf("%d unreported pushes, want 1", n)
		}
		// The backend did take it; a re-run sees that and adds nothing.
		f.gitProxy.Clear()
		res = f.run(t, "staging", nil)
		wantStatus(t, res, kargo.StatusSucceeded, false)
		f.promoted(t, "staging")
		if n := f.promotions(t, "staging"); n != 1 || res.Output[OutputChanged] != false {
			t.Fatalf("%d promotion commits, changed=%v; want 1 and false", n, res.Output[OutputChanged])
		}
	})
}

// TestFaultTenStagesAtOnceAllLand: ten processes (a Runner each, as
// several agent pods) promote ten stages at once onto one branch; their
// pushes race, are retried with jittered back-off, and all land.
func TestFaultTenStagesAtOnceAllLand(t *testing.T) {
	t.Parallel()
	var stages []string
	for i := range 10 {
		stages = append(stages, fmt.Sprintf("stage%02d", i))
	}
	f := newFaultFixture(t, stages, nil)
	results := make([]Result, len(stages))
	var wg sync.WaitGroup
	for i, stage := range stages {
		wg.Go(func() {
			results[i] = NewRunner().Run(context.Background(), KindPromote, f.context(stage), f.config(t, map[string]any{"timeout": "120s"}), Options{
				Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
		})
	}
	wg.Wait()
	raced := false
	for i, res := range results {
		f.assertNoLeak(t, res)
		wantStatus(t, res, kargo.StatusSucceeded, false)
		if res.Output[OutputAttempts] != 1 {
			raced = true
		}
		f.promoted(t, stages[i])
		if n := f.promotions(t, stages[i]); n != 1 {
			t.Fatalf("%s: %d promotion commits, want 1", stages[i], n)
		}
	}
	if n := gittest.Git(t, f.gitopsDir, "rev-list", "--count", f.freight+"..main"); n != "10" {
		t.Fatalf("%s commits after 10 promotions, want 10", n)
	}
	if !raced {
		t.Fatal("no promotion lost a race; the test did not exercise the retry")
	}
}

// TestOneProcessOrdersItsPushes: twenty stages promoted at once through
// one Runner (one serve process) do not race: each pushes once, on the tip
// the previous one left; twenty commits, twenty pushes, linear history.
func TestOneProcessOrdersItsPushes(t *testing.T) {
	t.Parallel()
	var stages []string
	for i := range 20 {
		stages = append(stages, fmt.Sprintf("stage%02d", i))
	}
	f := newFaultFixture(t, stages, nil)
	f.git.ResetStats()
	results := make([]Result, len(stages))
	var wg sync.WaitGroup
	for i, stage := range stages {
		wg.Go(func() {
			results[i] = f.runner.Run(context.Background(), KindPromote, f.context(stage), f.config(t, map[string]any{"timeout": "120s"}), Options{})
		})
	}
	wg.Wait()
	for i, res := range results {
		wantStatus(t, res, kargo.StatusSucceeded, false)
		if res.Output[OutputAttempts] != 1 {
			t.Errorf("%s: %v attempts, want 1 (no race within one process)", stages[i], res.Output[OutputAttempts])
		}
		f.promoted(t, stages[i])
	}
	if got := f.git.Stats().Service(gittest.ServiceReceivePack).Requests; got != 20 {
		t.Errorf("%d pushes, want 20", got)
	}
	if n := gittest.Git(t, f.gitopsDir, "rev-list", "--count", f.freight+"..main"); n != "20" {
		t.Fatalf("%s commits after 20 promotions, want 20", n)
	}
	if n := gittest.Git(t, f.gitopsDir, "rev-list", "--merges", "--count", "main"); n != "0" {
		t.Fatalf("%s merge commits", n)
	}
}

func TestFaultStallsEndWithinTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proxy func(*faultFixture) *faults.Proxy
		rule  faults.Rule
	}{
		{"git upload-pack", func(f *faultFixture) *faults.Proxy { return f.gitProxy },
			faults.Rule{Method: http.MethodPost, PathContains: "/gitops.git/git-upload-pack", Action: faults.Stall}},
		{"git advertisement", func(f *faultFixture) *faults.Proxy { return f.gitProxy },
			faults.Rule{PathContains: "/gitops.git/info/refs", Action: faults.Stall}},
		{"registry", func(f *faultFixture) *faults.Proxy { return f.regProxy },
			faults.Rule{PathContains: "/v2/", Action: faults.Stall}},
		{"source repository", func(f *faultFixture) *faults.Proxy { return f.gitProxy },
			faults.Rule{PathContains: "/source.git/", Action: faults.Stall}},
		{"git receive-pack", func(f *faultFixture) *faults.Proxy { return f.gitProxy },
			rule(receivePack, func(r *faults.Rule) { r.Action = faults.Stall })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFaultFixture(t, []string{"staging"}, nil)
			tc.proxy(f).Add(tc.rule)
			tip := f.tip(t)
			done := make(chan Result, 1)
			// 6s: enough, even on a starved CPU, to reach the stalled
			// service; the hang guard is far above it.
			go func() { done <- f.run(t, "staging", map[string]any{"timeout": "6s"}) }()
			var res Result
			select {
			case res = <-done:
			case <-time.After(40 * time.Second):
				t.Fatal("the step hung past its 6s timeout")
			}
			wantStatus(t, res, kargo.StatusErrored, false)
			if !errors.Is(res.Err, context.DeadlineExceeded) || !strings.HasPrefix(res.Message, "timed out: ") {
				t.Fatalf("error %v, message %q; want a deadline", res.Err, res.Message)
			}
			if tc.proxy(f).Injected() == 0 {
				t.Fatal("the stall was never hit")
			}
			if f.tip(t) != tip {
				t.Fatal("the branch moved")
			}
		})
	}
}

func TestFaultKilledDuringPushConverges(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "argo-refs")
	build := exec.Command("go", "build", "-o", bin, "../cmd/argo-refs")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building argo-refs: %v\n%s", err, out)
	}
	f := newFaultFixture(t, []string{"staging"}, nil)
	cfgFile := filepath.Join(t.TempDir(), "stage.json")
	if err := os.WriteFile(cfgFile, f.config(t, map[string]any{"timeout": "30s"}), 0o600); err != nil {
		t.Fatal(err)
	}
	start := f.tip(t)
	promote := func() *exec.Cmd {
		cmd := exec.Command(bin, "promote", "--config", cfgFile, "--stage", "staging", "--gitops-commit", f.freight)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		return cmd
	}

	f.gitProxy.Add(rule(receivePack, func(r *faults.Rule) { r.Action = faults.Stall }))
	var out logbuf.Buffer
	cmd := promote()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for f.gitProxy.Injected() == 0 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the push never reached the server:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if f.tip(t) != start {
		t.Fatal("a killed push moved the branch")
	}

	f.gitProxy.Clear()
	cmd = promote()
	rerun, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, rerun)
	}
	for _, text := range []string{out.String(), string(rerun)} {
		if leaktest.Find(text, gitUser, secret) != "" {
			t.Fatalf("the credential leaked into the command's output:\n%s", text)
		}
	}
	f.assertNoLeak(t, Result{})
	f.promoted(t, "staging")
	if got := gittest.Git(t, f.gitopsDir, "rev-list", "--count", start+"..main"); got != "1" {
		t.Fatalf("%s commits after the kill and the re-run, want 1", got)
	}
	changed := gittest.Git(t, f.gitopsDir, "diff", "--name-only", start, "main")
	if changed != "apps/codeai/deployments/staging/deployment.yaml\napps/codeai/deployments/staging/values.yaml" {
		t.Fatalf("the commit changed:\n%s", changed)
	}
}

// TestFaultPushRefusedForGoodIsTerminal: a pack the server will not unpack
// (here over receive.maxInputSize; a strict host's fsck answers the same
// way) cannot be fixed by a retry: Failed and terminal, one push, the
// server's words in the message.
func TestFaultPushRefusedForGoodIsTerminal(t *testing.T) {
	t.Parallel()
	f := newFaultFixture(t, []string{"staging"}, nil)
	gittest.Git(t, f.gitopsDir, "config", "receive.maxInputSize", "16")
	tip := f.tip(t)
	res := f.run(t, "staging", nil)
	wantStatus(t, res, kargo.StatusFailed, true)
	if !errors.Is(res.Err, gitrepo.ErrPushRefused) || !strings.Contains(res.Message, "maximum allowed size") {
		t.Fatalf("message %q (err %v), want the server's words", res.Message, res.Err)
	}
	if f.tip(t) != tip {
		t.Fatal("the branch moved despite the refusal")
	}
	if n := f.git.Stats().Service(gittest.ServiceReceivePack).Requests; n != 1 {
		t.Fatalf("%d pushes; a definite refusal must not be retried", n)
	}
}
