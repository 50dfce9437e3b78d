package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/argo-refs/argo-refs/internal/logbuf"
	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/kargo"
)

const (
	testToken  = "plugin-token-0123456789"
	testSecret = "s3cr3t-T0KEN-do-not-leak" // in testdata/request.json's configs
)

// call is what a fake StepFunc saw.
type call struct {
	kind   step.Kind
	sc     step.Context
	config []byte
	opts   step.Options
}

// recorder is a StepFunc that records its calls and answers with result.
type recorder struct {
	mu     sync.Mutex
	calls  []call
	result step.Result
}

func (r *recorder) run(_ context.Context, kind step.Kind, sc step.Context, config []byte, opts step.Options) step.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call{kind, sc, append([]byte(nil), config...), opts})
	return r.result
}

func (r *recorder) seen() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

func requestBody(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "request.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withKind returns the testdata request with step.kind replaced.
func withKind(t *testing.T, kind string) []byte {
	t.Helper()
	b := requestBody(t)
	out := bytes.Replace(b, []byte(`"kind": "argo-refs-verify"`), []byte(fmt.Sprintf(`"kind": %q`, kind)), 1)
	if bytes.Equal(out, b) && kind != "argo-refs-verify" {
		t.Fatal("testdata/request.json no longer has the step kind line this test rewrites")
	}
	return out
}

func newTestServer(t *testing.T, run StepFunc, opts HandlerOptions) *httptest.Server {
	t.Helper()
	if opts.Token == nil && !opts.NoAuth {
		opts.Token = func() []byte { return []byte(testToken) }
	}
	srv := httptest.NewServer(NewHandler(run, opts))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url string, header map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return do(t, http.MethodPost, url, header, body)
}

func do(t *testing.T, method, url string, header map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

var goodHeader = map[string]string{
	"Authorization": "Bearer " + testToken,
	"Content-Type":  "application/json",
}

func header(overrides map[string]string) map[string]string {
	h := map[string]string{}
	for k, v := range goodHeader {
		h[k] = v
	}
	for k, v := range overrides {
		if v == "" {
			delete(h, k)
			continue
		}
		h[k] = v
	}
	return h
}

func decodeResponse(t *testing.T, b []byte) kargo.StepResponse {
	t.Helper()
	var resp kargo.StepResponse
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("decoding StepResponse %s: %v", b, err)
	}
	return resp
}

func decodeError(t *testing.T, b []byte) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("decoding error body %s: %v", b, err)
	}
	return e.Error
}

func TestStatusCodes(t *testing.T) {
	good := requestBody(t)
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   []byte
		code   int
		// calls is how many times the StepFunc must have been called.
		calls  int
		assert func(t *testing.T, resp *http.Response, body []byte)
	}{
		{
			name: "succeeded", method: "POST", path: ExecutePath, header: goodHeader, body: good,
			code: 200, calls: 1,
			assert: func(t *testing.T, _ *http.Response, b []byte) {
				got := decodeResponse(t, b)
				want := kargo.StepResponse{
					Status:  kargo.StatusSucceeded,
					Message: "staging → git-d072d04",
					Output:  map[string]any{"releaseId": "git-d072d04", "changed": false},
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("response = %+v, want %+v", got, want)
				}
			},
		},
		{
			name: "content type with charset", method: "POST", path: ExecutePath,
			header: header(map[string]string{"Content-Type": "application/json; charset=utf-8"}), body: good,
			code: 200, calls: 1,
		},
		{
			name: "unknown kind", method: "POST", path: ExecutePath, header: goodHeader, body: withKind(t, "git-push"),
			code: 200, calls: 0,
			assert: func(t *testing.T, _ *http.Response, b []byte) {
				got := decodeResponse(t, b)
				if got.Status != kargo.StatusFailed || !got.Terminal {
					t.Errorf("status %q terminal %v, want Failed terminal", got.Status, got.Terminal)
				}
				for _, want := range []string{`"git-push"`, "argo-refs-promote", "argo-refs-verify"} {
					if !strings.Contains(got.Message, want) {
						t.Errorf("message %q does not name %s", got.Message, want)
					}
				}
			},
		},
		{
			name: "no token", method: "POST", path: ExecutePath,
			header: header(map[string]string{"Authorization": ""}), body: good, code: 403,
		},
		{
			name: "wrong token", method: "POST", path: ExecutePath,
			header: header(map[string]string{"Authorization": "Bearer " + testToken + "x"}), body: good, code: 403,
		},
		{
			name: "empty bearer", method: "POST", path: ExecutePath,
			header: header(map[string]string{"Authorization": "Bearer "}), body: good, code: 403,
		},
		{
			name: "basic scheme", method: "POST", path: ExecutePath,
			header: header(map[string]string{"Authorization": "Basic " + testToken}), body: good, code: 403,
		},
		{
			name: "unknown method path", method: "POST", path: "/api/v1/step.validate", header: goodHeader, body: good, code: 404,
			assert: func(t *testing.T, _ *http.Response, b []byte) {
				if e := decodeError(t, b); !strings.Contains(e, "/api/v1/step.validate") {
					t.Errorf("error %q does not name the path", e)
				}
			},
		},
		{
			name: "unknown path needs the token first", method: "POST", path: "/api/v1/step.validate",
			header: header(map[string]string{"Authorization": ""}), body: good, code: 403,
		},
		{
			name: "path outside the API", method: "GET", path: "/metrics", code: 404,
		},
		{
			name: "GET on execute", method: "GET", path: ExecutePath, header: goodHeader, code: 405,
			assert: func(t *testing.T, resp *http.Response, _ []byte) {
				if got := resp.Header.Get("Allow"); got != "POST" {
					t.Errorf("Allow = %q, want POST", got)
				}
			},
		},
		{
			name: "POST on healthz", method: "POST", path: HealthPath, code: 405,
			assert: func(t *testing.T, resp *http.Response, _ []byte) {
				if got := resp.Header.Get("Allow"); got != "GET, HEAD" {
					t.Errorf("Allow = %q, want GET, HEAD", got)
				}
			},
		},
		{
			name: "text/plain", method: "POST", path: ExecutePath,
			header: header(map[string]string{"Content-Type": "text/plain"}), body: good, code: 415,
			assert: func(t *testing.T, _ *http.Response, b []byte) {
				if e := decodeError(t, b); !strings.Contains(e, "application/json") {
					t.Errorf("error %q does not say which type to use", e)
				}
			},
		},
		{
			name: "no content type", method: "POST", path: ExecutePath,
			header: header(map[string]string{"Content-Type": ""}), body: good, code: 415,
		},
		{
			name: "body over the limit", method: "POST", path: ExecutePath, header: goodHeader,
			body: append(append([]byte(`{"step":{"kind":"argo-refs-verify"},"context":{"uiBaseURL":"`), bytes.Repeat([]byte("a"), 1<<20)...), `"}}`...),
			code: 413,
		},
		{
			name: "not JSON", method: "POST", path: ExecutePath, header: goodHeader, body: []byte(`{"step": `), code: 400,
			assert: func(t *testing.T, _ *http.Response, b []byte) {
				if e := decodeError(t, b); !strings.Contains(e, "parsing request body") || !strings.Contains(e, "EOF") {
					t.Errorf("error %q does not give the reason", e)
				}
			},
		},
		{
			name: "unknown top-level field", method: "POST", path: ExecutePath, header: goodHeader,
			body: []byte(`{"step":{"kind":"argo-refs-verify"},"context":{},"extra":1}`), code: 400,
			assert: func(t *testing.T, _ *http.Response, b []byte) {
				if e := decodeError(t, b); !strings.Contains(e, `unknown field "extra"`) {
					t.Errorf("error %q does not name the field", e)
				}
			},
		},
		{
			name: "trailing data", method: "POST", path: ExecutePath, header: goodHeader,
			body: []byte(`{"step":{"kind":"argo-refs-verify"}} {}`), code: 400,
		},
		{
			name: "wrong type", method: "POST", path: ExecutePath, header: goodHeader,
			body: []byte(`{"step":{"kind":7}}`), code: 400,
			assert: func(t *testing.T, _ *http.Response, b []byte) {
				if e := decodeError(t, b); !strings.Contains(e, "step.kind") {
					t.Errorf("error %q does not name the field", e)
				}
			},
		},
		{
			name: "no step", method: "POST", path: ExecutePath, header: goodHeader,
			body: []byte(`{"context":{}}`), code: 400,
		},
		{
			name: "healthz", method: "GET", path: HealthPath, code: 200,
			assert: func(t *testing.T, _ *http.Response, b []byte) {
				if string(b) != "ok" {
					t.Errorf("body = %q, want ok", b)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{result: step.Result{
				Status:  kargo.StatusSucceeded,
				Message: "staging → git-d072d04",
				Output:  map[string]any{"releaseId": "git-d072d04", "changed": false},
			}}
			srv := newTestServer(t, rec.run, HandlerOptions{})
			resp, b := do(t, tt.method, srv.URL+tt.path, tt.header, tt.body)
			if resp.StatusCode != tt.code {
				t.Fatalf("code = %d, want %d; body %s", resp.StatusCode, tt.code, b)
			}
			if ct := resp.Header.Get("Content-Type"); tt.path != HealthPath && ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if tt.code != 200 {
				if e := decodeError(t, b); e == "" {
					t.Errorf("error body %s has no reason", b)
				}
			}
			if n := len(rec.seen()); n != tt.calls {
				t.Errorf("runner called %d times, want %d", n, tt.calls)
			}
			if tt.assert != nil {
				tt.assert(t, resp, b)
			}
		})
	}
}

func TestResultTranslation(t *testing.T) {
	tests := []struct {
		name   string
		result step.Result
		want   kargo.StepResponse
	}{
		{
			name:   "failed terminal",
			result: step.Result{Status: kargo.StatusFailed, Message: "digest moved", Terminal: true, Err: errors.New("image ghcr.io/x:1 moved")},
			want:   kargo.StepResponse{Status: kargo.StatusFailed, Message: "digest moved", Terminal: true, Error: "image ghcr.io/x:1 moved"},
		},
		{
			name:   "errored retryable",
			result: step.Result{Status: kargo.StatusErrored, Message: "registry unavailable", Err: errors.New("registry answered 503")},
			want:   kargo.StepResponse{Status: kargo.StatusErrored, Message: "registry unavailable", Error: "registry answered 503"},
		},
		{
			name:   "no status is Errored",
			result: step.Result{Message: "?"},
			want:   kargo.StepResponse{Status: kargo.StatusErrored, Message: "?", Error: "the step returned no status"},
		},
		{
			name:   "outputs carried as they are",
			result: step.Result{Status: kargo.StatusSucceeded, Output: map[string]any{"attempts": 2, "targets": []any{map[string]any{"path": "a.yaml"}}}},
			want:   kargo.StepResponse{Status: kargo.StatusSucceeded, Output: map[string]any{"attempts": float64(2), "targets": []any{map[string]any{"path": "a.yaml"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{result: tt.result}
			srv := newTestServer(t, rec.run, HandlerOptions{})
			resp, b := post(t, srv.URL+ExecutePath, goodHeader, requestBody(t))
			if resp.StatusCode != 200 {
				t.Fatalf("code %d: %s", resp.StatusCode, b)
			}
			if got := decodeResponse(t, b); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("response = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRunnerReceivesContextAndRawConfig(t *testing.T) {
	body := requestBody(t)
	var raw struct {
		Step struct {
			Config json.RawMessage `json:"config"`
		} `json:"step"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{result: step.Result{Status: kargo.StatusSucceeded}}
	env := func(k string) string { return "env:" + k }
	srv := newTestServer(t, rec.run, HandlerOptions{Getenv: env})
	if resp, b := post(t, srv.URL+ExecutePath, goodHeader, body); resp.StatusCode != 200 {
		t.Fatalf("code %d: %s", resp.StatusCode, b)
	}
	calls := rec.seen()
	if len(calls) != 1 {
		t.Fatalf("runner called %d times, want 1", len(calls))
	}
	c := calls[0]
	if c.kind != step.KindVerify {
		t.Errorf("kind = %q, want %q", c.kind, step.KindVerify)
	}
	wantSC := step.Context{
		Project:   "codeai",
		Stage:     "staging",
		Promotion: "staging.01jabcdefghjkmnpqrstvwxyz0.d072d04",
		// The commit's Promoted-By trailer: the request's promotionActor.
		PromotionActor: "admin",
		Alias:          "verify-release",
		WorkDir:        "/workspace",
		Freight: kargo.FreightCollection{
			ID: "d072d04e1b2c3d4e5f60718293a4b5c6d7e8f901",
			Items: map[string]kargo.FreightReference{
				"Warehouse/codeai-builds": {
					Name:   "d072d04e1b2c3d4e5f60718293a4b5c6d7e8f901",
					Origin: kargo.FreightOrigin{Kind: "Warehouse", Name: "codeai-builds"},
					Commits: []kargo.GitCommit{{
						RepoURL:   "https://github.com/example/k8s-gitops.git",
						ID:        "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
						Branch:    "main",
						Message:   "Build lock git-d072d04 [skip ci]",
						Author:    "ci-bot <ci@example.com>",
						Committer: "ci-bot <ci@example.com>",
					}},
				},
			},
		},
	}
	if !reflect.DeepEqual(c.sc, wantSC) {
		t.Errorf("step context = %+v\nwant %+v", c.sc, wantSC)
	}
	if !bytes.Equal(c.config, raw.Step.Config) {
		t.Errorf("config = %s, want the raw step.config %s", c.config, raw.Step.Config)
	}
	if c.opts.Getenv == nil || c.opts.Getenv("X") != "env:X" {
		t.Error("runner did not get the handler's Getenv")
	}
	if c.opts.Logger == nil {
		t.Error("runner got no logger")
	}
	if c.opts.DryRun {
		t.Error("the plugin must never ask for a dry run")
	}
}

type logLine map[string]any

func parseLog(t *testing.T, s string) []logLine {
	t.Helper()
	var lines []logLine
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var m logLine
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestLogsCarryPromotionAndNoSecrets(t *testing.T) {
	var logs logbuf.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	run := func(_ context.Context, _ step.Kind, _ step.Context, config []byte, opts step.Options) step.Result {
		if !bytes.Contains(config, []byte(testSecret)) {
			t.Error("the runner did not get the secret in its config")
		}
		opts.Logger.Info("fetching freight commit")
		return step.Result{Status: kargo.StatusFailed, Terminal: true, Message: "digest moved", Err: errors.New("tag 1.2 resolves to sha256:bb, record says sha256:aa")}
	}
	srv := newTestServer(t, run, HandlerOptions{Logger: logger})
	post(t, srv.URL+ExecutePath, goodHeader, requestBody(t))
	post(t, srv.URL+ExecutePath, header(map[string]string{"Authorization": "Bearer nope"}), requestBody(t))
	post(t, srv.URL+ExecutePath, goodHeader, bytes.Replace(requestBody(t), []byte(`"step"`), []byte(`"steps"`), 1))

	out := logs.String()
	if strings.Contains(out, testSecret) {
		t.Fatalf("log output contains the secret from step.config:\n%s", out)
	}
	if strings.Contains(out, testToken) || strings.Contains(out, "Bearer nope") {
		t.Fatalf("log output contains a bearer token:\n%s", out)
	}
	lines := parseLog(t, out)
	var stepLine, progress logLine
	refused := 0
	for _, l := range lines {
		switch l["msg"] {
		case "step executed":
			stepLine = l
		case "fetching freight commit":
			progress = l
		case "request refused":
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("%d refused-request lines, want 2:\n%s", refused, out)
	}
	if stepLine == nil || progress == nil {
		t.Fatalf("missing the request line or the step's own line:\n%s", out)
	}
	want := map[string]any{
		"promotion": "staging.01jabcdefghjkmnpqrstvwxyz0.d072d04",
		"stage":     "staging",
		"alias":     "verify-release",
		"kind":      "argo-refs-verify",
		"project":   "codeai",
	}
	for k, v := range want {
		if stepLine[k] != v {
			t.Errorf("request line %s = %v, want %v", k, stepLine[k], v)
		}
		if progress[k] != v {
			t.Errorf("step's own line %s = %v, want %v", k, progress[k], v)
		}
	}
	if stepLine["status"] != "Failed" || stepLine["terminal"] != true {
		t.Errorf("request line status/terminal = %v/%v", stepLine["status"], stepLine["terminal"])
	}
	if _, ok := stepLine["duration"]; !ok {
		t.Error("request line has no duration")
	}
	if stepLine["level"] != "ERROR" {
		t.Errorf("a Failed step logs at %v, want ERROR", stepLine["level"])
	}
}

func TestPanickingStepAnswersErrored(t *testing.T) {
	run := func(context.Context, step.Kind, step.Context, []byte, step.Options) step.Result {
		panic("boom")
	}
	srv := newTestServer(t, run, HandlerOptions{})
	resp, b := post(t, srv.URL+ExecutePath, goodHeader, requestBody(t))
	if resp.StatusCode != 200 {
		t.Fatalf("code %d: %s", resp.StatusCode, b)
	}
	if got := decodeResponse(t, b); got.Status != kargo.StatusErrored || got.Terminal {
		t.Errorf("response = %+v, want Errored, not terminal", got)
	}
}

func TestNoTokenRefusesEverything(t *testing.T) {
	rec := &recorder{result: step.Result{Status: kargo.StatusSucceeded}}
	srv := newTestServer(t, rec.run, HandlerOptions{Token: func() []byte { return nil }})
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		resp, b := post(t, srv.URL+ExecutePath, header(map[string]string{"Authorization": auth}), requestBody(t))
		if resp.StatusCode != 403 {
			t.Errorf("Authorization %q: code %d, want 403: %s", auth, resp.StatusCode, b)
		}
	}
	if n := len(rec.seen()); n != 0 {
		t.Errorf("runner called %d times", n)
	}
}

func TestNoAuthAcceptsWithoutToken(t *testing.T) {
	rec := &recorder{result: step.Result{Status: kargo.StatusSucceeded}}
	srv := newTestServer(t, rec.run, HandlerOptions{NoAuth: true})
	resp, b := post(t, srv.URL+ExecutePath, header(map[string]string{"Authorization": ""}), requestBody(t))
	if resp.StatusCode != 200 {
		t.Fatalf("code %d: %s", resp.StatusCode, b)
	}
}

func TestConcurrentRequests(t *testing.T) {
	run := func(_ context.Context, kind step.Kind, sc step.Context, _ []byte, _ step.Options) step.Result {
		return step.Result{Status: kargo.StatusSucceeded, Message: sc.Stage + "/" + string(kind), Output: map[string]any{"stage": sc.Stage}}
	}
	srv := newTestServer(t, run, HandlerOptions{})
	body := requestBody(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stage := fmt.Sprintf("stage-%02d", i)
			b := bytes.Replace(body, []byte(`"stage": "staging"`), []byte(fmt.Sprintf("%q: %q", "stage", stage)), 1)
			req, _ := http.NewRequest("POST", srv.URL+ExecutePath, bytes.NewReader(b))
			for k, v := range goodHeader {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var got kargo.StepResponse
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				errs <- err
				return
			}
			if resp.StatusCode != 200 || got.Message != stage+"/argo-refs-verify" || got.Output["stage"] != stage {
				errs <- fmt.Errorf("request for %s: code %d, response %+v", stage, resp.StatusCode, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func newJSONLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

func TestChunkedBodyOverTheLimit(t *testing.T) {
	rec := &recorder{result: step.Result{Status: kargo.StatusSucceeded}}
	srv := newTestServer(t, rec.run, HandlerOptions{MaxBodyBytes: 1024})
	// io.MultiReader hides the length, so the client sends the body chunked
	// and only the server's reading limit can catch it.
	body := io.MultiReader(strings.NewReader(`{"step":{"kind":"argo-refs-verify"},"context":{"uiBaseURL":"`), strings.NewReader(strings.Repeat("a", 2048)+`"}}`))
	req, err := http.NewRequest("POST", srv.URL+ExecutePath, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range goodHeader {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.ContentLength != 0 || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body of 2 KiB over a 1 KiB limit: code %d (content length %d), want 413", resp.StatusCode, req.ContentLength)
	}
	if n := len(rec.seen()); n != 0 {
		t.Errorf("runner called %d times", n)
	}
	// Just under the limit passes.
	small := requestBody(t)
	srv2 := newTestServer(t, rec.run, HandlerOptions{MaxBodyBytes: int64(len(small))})
	if resp, b := post(t, srv2.URL+ExecutePath, goodHeader, small); resp.StatusCode != 200 {
		t.Errorf("body exactly at the limit: %d %s", resp.StatusCode, b)
	}
}

// TestHealthCheckGoldenResponse: a promotion's health check reaches Kargo
// as kargo-extended relays it: the response's healthCheck is Kargo's
// health.Criteria (Kind, Input; keys matched case-insensitively) whose
// input decodes as ArgoCDHealthInput (kargo pkg/health/checker/builtin/
// argocd.go: apps[].name, namespace, desiredRevisions). The expected bytes
// are written by hand.
func TestHealthCheckGoldenResponse(t *testing.T) {
	const sha = "0cc4cd87f40ae606d1822d5652b552f8c50a4668"
	res := step.Result{Status: kargo.StatusSucceeded, Message: "staging → git-0cc4cd8", HealthCheck: &kargo.HealthCheck{Kind: "argocd-update", Input: map[string]any{"apps": []any{
		map[string]any{"name": "codeai-staging", "namespace": "argocd", "desiredRevisions": []any{sha, ""}},
	}}}}
	got, err := json.Marshal(toResponse(res))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"status":"Succeeded","message":"staging → git-0cc4cd8","healthCheck":{"kind":"argocd-update","input":{"apps":[{"desiredRevisions":["` + sha + `",""],"name":"codeai-staging","namespace":"argocd"}]}}}`
	if string(got) != want {
		t.Fatalf("response\n%s\nwant\n%s", got, want)
	}
	// Decoded the way Kargo decodes it.
	var criteria struct {
		Kind  string
		Input struct {
			Apps []struct {
				Name             string   `json:"name"`
				Namespace        string   `json:"namespace,omitempty"`
				DesiredRevisions []string `json:"desiredRevisions,omitempty"`
			} `json:"apps"`
		}
	}
	var resp struct{ HealthCheck json.RawMessage }
	if err := json.Unmarshal(got, &resp); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(resp.HealthCheck, &criteria); err != nil {
		t.Fatal(err)
	}
	if criteria.Kind != "argocd-update" || len(criteria.Input.Apps) != 1 || criteria.Input.Apps[0].Name != "codeai-staging" || criteria.Input.Apps[0].DesiredRevisions[0] != sha {
		t.Fatalf("as Kargo reads it: %+v", criteria)
	}
}
