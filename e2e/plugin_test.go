package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/internal/logbuf"
	"github.com/argo-refs/argo-refs/internal/regtest"
)

const pluginToken = "kargo-sidecar-token-0f9e8d7c"

// sidecar is `argo-refs serve` running as a kargo-extended StepPlugin
// sidecar would: non-root, token from a mounted file.
type sidecar struct {
	url  string
	logs *logbuf.Buffer
	cmd  *exec.Cmd
	done chan error
}

func startSidecar(t *testing.T, s *sandbox, flags ...string) *sidecar {
	t.Helper()
	tokenFile := s.writeFile(t, "token", pluginToken+"\n")
	sc := &sidecar{logs: &logbuf.Buffer{}, done: make(chan error, 1)}
	args := append([]string{"serve", "--listen=127.0.0.1:0", "--token-file=" + tokenFile, "--shutdown-grace=5s", "--max-body-bytes=65536"}, flags...)
	sc.cmd = exec.Command(binary, args...)
	sc.cmd.Dir = s.work
	sc.cmd.Env = []string{"TMPDIR=" + s.tmp} // no PATH, no HOME, as in the image
	sc.cmd.SysProcAttr = runAsAttr()
	stderr, err := sc.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		rd := bufio.NewScanner(stderr)
		rd.Buffer(nil, 1<<20)
		for rd.Scan() {
			line := rd.Text()
			_, _ = sc.logs.Write([]byte(line + "\n"))
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "listening" {
				if a, ok := m["addr"].(string); ok {
					select {
					case addr <- a:
					default:
					}
				}
			}
		}
		sc.done <- sc.cmd.Wait()
	}()
	t.Cleanup(func() {
		if sc.cmd.ProcessState == nil {
			_ = sc.cmd.Process.Kill()
			<-sc.done
		}
	})
	select {
	case a := <-addr:
		sc.url = "http://" + a
	case err := <-sc.done:
		t.Fatalf("argo-refs serve exited before listening: %v\n%s", err, sc.logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("argo-refs serve did not log its address:\n%s", sc.logs.String())
	}
	return sc
}

// stop sends SIGTERM, as the kubelet does, and waits for a clean exit.
func (sc *sidecar) stop(t *testing.T) {
	t.Helper()
	if err := sc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-sc.done:
		if err != nil {
			t.Fatalf("argo-refs serve ended with %v after SIGTERM:\n%s", err, sc.logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("argo-refs serve did not stop after SIGTERM")
	}
}

// kargoRequest is a request body as kargo-extended's executor sends it,
// spelled out field by field rather than built from our own types.
func kargoRequest(f *fixture, s *sandbox, kind, stage string, config map[string]any) map[string]any {
	promotion := stage + ".01jb6xq3z8nqv5r4h1w0ktg2ea"
	return map[string]any{
		"context": map[string]any{
			"uiBaseURL":      "https://kargo.example.com",
			"workDir":        s.work,
			"sharedState":    map[string]any{"previous": "value"},
			"alias":          "promote-" + stage,
			"config":         config, // Kargo sends the evaluated step config here too
			"project":        "kargo-codeai",
			"stage":          stage,
			"promotion":      promotion,
			"promotionUID":   "6b1a7f0e-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
			"promotionActor": "admin",
			"freightRequests": []any{
				map[string]any{"origin": map[string]any{"kind": "Warehouse", "name": whName}, "sources": map[string]any{"direct": true}},
				map[string]any{"origin": map[string]any{"kind": "Warehouse", "name": "tools"}, "sources": map[string]any{"direct": true}},
			},
			"freight": map[string]any{
				"id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6",
				"items": map[string]any{
					"Warehouse/" + whName: map[string]any{
						"name":   "0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6",
						"origin": map[string]any{"kind": "Warehouse", "name": whName},
						"commits": []any{map[string]any{
							"repoURL":   f.gitopsURL,
							"id":        f.freight,
							"branch":    "main",
							"message":   "publish git-" + f.srcCommit,
							"author":    "ci <ci@example.com>",
							"committer": "ci <ci@example.com>",
						}},
					},
					// Freight from another Warehouse travels along; the
					// step must pick its own by the config's warehouse.
					"Warehouse/tools": map[string]any{
						"name":   "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
						"origin": map[string]any{"kind": "Warehouse", "name": "tools"},
						"images": []any{map[string]any{"repoURL": "ghcr.io/example/tools", "tag": "v1.2.3", "digest": "sha256:" + strings.Repeat("ab", 32)}},
					},
				},
			},
			"targetFreightRef": map[string]any{"origin": map[string]any{"kind": "Warehouse", "name": whName}},
		},
		"step": map[string]any{
			"kind":   kind,
			"alias":  "promote-" + stage,
			"config": config,
		},
	}
}

type response struct {
	code int
	raw  string
	body map[string]any
}

func (sc *sidecar) post(t *testing.T, token string, body any) response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sc.url+"/api/v1/step.execute", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{code: resp.StatusCode, raw: string(raw)}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("response Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("response body %q is not a JSON object: %v", raw, err)
	}
	if leaktest.Find(r.raw, gitUser, secret) != "" {
		t.Errorf("the credential shows in the response: %s", raw)
	}
	return r
}

// raw sends one HTTP request and returns the status code and the body.
func (sc *sidecar) raw(t *testing.T, method, path, contentType, token string, body []byte) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, sc.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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
	return resp.StatusCode, string(b)
}

func wantStep(t *testing.T, r response, status string, terminal bool) {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("HTTP %d, want 200: %s", r.code, r.raw)
	}
	if r.body["status"] != status {
		t.Fatalf("status %v, want %s: %s", r.body["status"], status, r.raw)
	}
	if got, _ := r.body["terminal"].(bool); got != terminal {
		t.Fatalf("terminal %v, want %v: %s", r.body["terminal"], terminal, r.raw)
	}
	for k := range r.body {
		switch k {
		case "status", "message", "output", "healthCheck", "retryAfter", "error", "terminal":
		default:
			t.Errorf("response field %q is not in kargo-extended's StepResponse: %s", k, r.raw)
		}
	}
}

func output(r response) map[string]any {
	out, _ := r.body["output"].(map[string]any)
	return out
}

func TestStepPluginEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newSandbox(t)
	sc := startSidecar(t, s)
	workBefore := s.snapshot(t, s.root)
	start := f.tip(t)

	// Liveness probe, no auth.
	if resp, err := http.Get(sc.url + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	t.Run("promote", func(t *testing.T) {
		r := sc.post(t, pluginToken, kargoRequest(f, s, "argo-refs-promote", "staging", f.configJSON(nil)))
		wantStep(t, r, "Succeeded", false)
		tip := f.tip(t)
		if tip == start {
			t.Fatal("the promotion pushed no commit")
		}
		out := output(r)
		for k, want := range map[string]any{
			"releaseId": "git-" + f.srcCommit, "gitCommit": f.srcCommit, "imageRef": f.imageRef,
			"imageDigest": f.digest, "freightCommit": f.freight, "gitopsCommit": tip,
			"branch": "main", "changed": true, "sourceRepo": f.sourceURL, "sourcePath": "k8s/helm",
		} {
			if out[k] != want {
				t.Errorf("output %s = %#v, want %#v", k, out[k], want)
			}
		}
		if targets, _ := out["targets"].([]any); len(targets) != 2 {
			t.Errorf("targets output %#v, want the deployment and values edits", out["targets"])
		}
		if msg, _ := r.body["message"].(string); !strings.Contains(msg, "git-"+f.srcCommit[:7]) || !strings.Contains(msg, tip[:7]) {
			t.Errorf("message %q names neither the release nor the commit", msg)
		}
		if got := f.show(t, "apps/codeai/deployments/staging/deployment.yaml"); !strings.Contains(got, "targetRevision: '"+f.srcCommit+"' # moved by Kargo") {
			t.Errorf("deployment.yaml:\n%s", got)
		}
	})
	promoted := f.tip(t)

	t.Run("the same call again", func(t *testing.T) {
		// kargo-extended's retry of a call whose answer it lost: the
		// step's answer, not a second run.
		r := sc.post(t, pluginToken, kargoRequest(f, s, "argo-refs-promote", "staging", f.configJSON(nil)))
		wantStep(t, r, "Succeeded", false)
		if out := output(r); out["changed"] != true || out["gitopsCommit"] != promoted {
			t.Errorf("repeated call outputs %v, want the first answer: changed true at %s", out, promoted)
		}
		if f.tip(t) != promoted {
			t.Fatal("the repeated call pushed a commit")
		}
	})

	t.Run("re-run", func(t *testing.T) {
		// A new Promotion of the same Freight to the same Stage runs again
		// and finds the stage there.
		req := kargoRequest(f, s, "argo-refs-promote", "staging", f.configJSON(nil))
		ctx := req["context"].(map[string]any)
		ctx["promotion"], ctx["promotionUID"] = "staging.01jb6xq3z8nqv5r4h1w0ktg2eb", "7c2b8f1e-3d4e-5f60-9b0c-1d2e3f4a5b6c"
		r := sc.post(t, pluginToken, req)
		wantStep(t, r, "Succeeded", false)
		if out := output(r); out["changed"] != false || out["gitopsCommit"] != promoted {
			t.Errorf("re-run outputs %v, want changed false at %s", out, promoted)
		}
		if f.tip(t) != promoted {
			t.Fatal("the re-run pushed a commit")
		}
	})

	t.Run("verify", func(t *testing.T) {
		r := sc.post(t, pluginToken, kargoRequest(f, s, "argo-refs-verify", "production", f.configJSON(nil)))
		wantStep(t, r, "Succeeded", false)
		if out := output(r); out["releaseId"] != "git-"+f.srcCommit || out["imageDigest"] != f.digest {
			t.Errorf("verify outputs %v", out)
		}
	})

	t.Run("config only in the context", func(t *testing.T) {
		for _, stepConfig := range []any{"omitted", nil} {
			req := kargoRequest(f, s, "argo-refs-verify", "production", f.configJSON(nil))
			if stepConfig == "omitted" {
				delete(req["step"].(map[string]any), "config")
			} else {
				req["step"].(map[string]any)["config"] = stepConfig // JSON null
			}
			r := sc.post(t, pluginToken, req)
			wantStep(t, r, "Succeeded", false)
			if out := output(r); out["releaseId"] != "git-"+f.srcCommit {
				t.Errorf("step config %v: outputs %v", stepConfig, out)
			}
		}
	})

	t.Run("bad config", func(t *testing.T) {
		r := sc.post(t, pluginToken, kargoRequest(f, s, "argo-refs-promote", "production", f.configJSON(map[string]any{"timeout": "soon"})))
		wantStep(t, r, "Failed", true)
		if e, _ := r.body["error"].(string); !strings.Contains(e, "/timeout") {
			t.Errorf("error %q does not name /timeout", e)
		}
	})

	t.Run("unknown kind", func(t *testing.T) {
		r := sc.post(t, pluginToken, kargoRequest(f, s, "git-commit", "production", f.configJSON(nil)))
		wantStep(t, r, "Failed", true)
		msg, _ := r.body["message"].(string)
		for _, want := range []string{"git-commit", "argo-refs-promote", "argo-refs-verify"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q lacks %q", msg, want)
			}
		}
	})

	t.Run("no token", func(t *testing.T) {
		body := kargoRequest(f, s, "argo-refs-promote", "production", f.configJSON(nil))
		for _, token := range []string{"", "wrong-" + pluginToken} {
			if r := sc.post(t, token, body); r.code != http.StatusForbidden {
				t.Errorf("token %q: HTTP %d, want 403: %s", token, r.code, r.raw)
			}
		}
		if f.tip(t) != promoted {
			t.Fatal("a request without the token pushed")
		}
	})

	t.Run("HTTP errors", func(t *testing.T) {
		good, err := json.Marshal(kargoRequest(f, s, "argo-refs-promote", "production", f.configJSON(nil)))
		if err != nil {
			t.Fatal(err)
		}
		huge := kargoRequest(f, s, "argo-refs-promote", "production", f.configJSON(map[string]any{"message": strings.Repeat("x", 70<<10)}))
		hugeBody, err := json.Marshal(huge)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, method, path, contentType string
			body                            []byte
			code                            int
			reason                          string // in the JSON error
		}{
			{"unknown method", http.MethodPost, "/api/v1/step.cancel", "application/json", good, http.StatusNotFound, "step.cancel"},
			{"GET", http.MethodGet, "/api/v1/step.execute", "", nil, http.StatusMethodNotAllowed, "POST"},
			{"form body", http.MethodPost, "/api/v1/step.execute", "application/x-www-form-urlencoded", good, http.StatusUnsupportedMediaType, "application/json"},
			{"over the limit", http.MethodPost, "/api/v1/step.execute", "application/json", hugeBody, http.StatusRequestEntityTooLarge, "65536"},
			{"not JSON", http.MethodPost, "/api/v1/step.execute", "application/json", []byte(`{"context": {`), http.StatusBadRequest, "parsing request body"},
			{"no step", http.MethodPost, "/api/v1/step.execute", "application/json", []byte(`{"context": {}}`), http.StatusBadRequest, `"step"`},
		}
		for _, tt := range tests {
			code, body := sc.raw(t, tt.method, tt.path, tt.contentType, pluginToken, tt.body)
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Errorf("%s: body %q is not a JSON error: %v", tt.name, body, err)
			}
			if code != tt.code || !strings.Contains(e.Error, tt.reason) {
				t.Errorf("%s: HTTP %d %q, want %d and an error naming %q", tt.name, code, body, tt.code, tt.reason)
			}
			if leaktest.Find(body, gitUser, secret) != "" {
				t.Errorf("%s: the credential shows in the response", tt.name)
			}
		}
		// Without the token nothing about the API shows, not even 404.
		if code, _ := sc.raw(t, http.MethodPost, "/api/v1/step.cancel", "application/json", "", good); code != http.StatusForbidden {
			t.Errorf("unknown method without a token: HTTP %d, want 403", code)
		}
	})

	t.Run("moved tag", func(t *testing.T) {
		moved := f.reg.PushImage(t, imageRepo+":git-"+f.srcCommit, map[string]string{"rebuilt": "yes"})
		r := sc.post(t, pluginToken, kargoRequest(f, s, "argo-refs-promote", "production", f.configJSON(nil)))
		wantStep(t, r, "Failed", true)
		msg, _ := r.body["message"].(string)
		if !strings.Contains(msg, f.digest) || !strings.Contains(msg, moved) {
			t.Errorf("message %q must name the recorded and the found digest", msg)
		}
		if f.tip(t) != promoted {
			t.Fatal("a refused promotion pushed")
		}
	})

	t.Run("registry down", func(t *testing.T) {
		f.reg.Down()
		cfg := f.configJSON(map[string]any{"timeout": "3s"})
		r := sc.post(t, pluginToken, kargoRequest(f, s, "argo-refs-verify", "production", cfg))
		wantStep(t, r, "Errored", false) // Kargo may retry it
		if e, _ := r.body["error"].(string); !strings.Contains(e, f.reg.Host) {
			t.Errorf("error %q does not name the registry %s", e, f.reg.Host)
		}
	})

	sc.stop(t)
	s.checkUntouched(t, workBefore)

	logs := sc.logs.String()
	if leaktest.Find(logs, gitUser, secret) != "" || strings.Contains(logs, pluginToken) {
		t.Errorf("the sidecar logged a credential or the token:\n%s", logs)
	}
	var executed, refused int
	for _, m := range jsonLines(t, logs) {
		switch m["msg"] {
		case "listening", "shutting down; waiting for in-flight steps", "stopped":
			continue // server lines, about no promotion
		case "request refused":
			refused++
			continue // before auth, nothing of the request is trusted
		case "step executed":
			executed++
		}
		// Every line a step writes, progress included, says which
		// promotion, stage and step it is about.
		for _, k := range []string{"promotion", "stage", "alias", "project"} {
			if v, _ := m[k].(string); v == "" {
				t.Errorf("log line lacks %s: %v", k, m)
			}
		}
		stage, _ := m["stage"].(string)
		promotion, _ := m["promotion"].(string)
		if !strings.HasPrefix(promotion, stage+".01jb6xq3z8nqv5r4h1w0ktg2e") || m["alias"] != "promote-"+stage {
			t.Errorf("log line names the wrong promotion or alias: %v", m)
		}
	}
	if executed != 10 || refused != 9 {
		t.Errorf("%d 'step executed' and %d 'request refused' log lines, want 10 and 9:\n%s", executed, refused, logs)
	}
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("no clean shutdown in the log:\n%s", logs)
	}
}

// TestStepPluginFinishesInFlightStepOnSIGTERM stops the sidecar while a
// promotion is running, as the kubelet does when the agent pod ends: the
// step finishes, Kargo gets its answer, and the process exits 0.
func TestStepPluginFinishesInFlightStepOnSIGTERM(t *testing.T) {
	t.Parallel()
	inFlight := make(chan struct{})
	var once sync.Once
	slow := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if regtest.IsManifestRequest(r) {
				once.Do(func() { close(inFlight) })
				time.Sleep(time.Second)
			}
			next.ServeHTTP(w, r)
		})
	}
	f := newFixture(t, regtest.WithMiddleware(slow))
	s := newSandbox(t)
	sc := startSidecar(t, s)

	body, err := json.Marshal(kargoRequest(f, s, "argo-refs-promote", "staging", f.configJSON(nil)))
	if err != nil {
		t.Fatal(err)
	}
	got := sc.postAsync(body)
	select {
	case <-inFlight:
	case <-time.After(20 * time.Second):
		t.Fatal("the step never reached the registry")
	}
	sc.stop(t)
	a := <-got
	if a.err != nil {
		t.Fatalf("the in-flight request: %v", a.err)
	}
	r := a.r
	wantStep(t, r, "Succeeded", false)
	if out := output(r); out["changed"] != true || out["gitopsCommit"] != f.tip(t) {
		t.Errorf("outputs %v, want the pushed commit %s", out, f.tip(t))
	}
	if logs := sc.logs.String(); !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("no clean shutdown in the log:\n%s", logs)
	}
}

// answer is what postAsync got back.
type answer struct {
	r   response
	err error
}

// postAsync sends a request from another goroutine; it does not use t,
// since t.Fatal must stay on the test's goroutine.
func (sc *sidecar) postAsync(body []byte) <-chan answer {
	got := make(chan answer, 1)
	go func() {
		req, err := http.NewRequest(http.MethodPost, sc.url+"/api/v1/step.execute", bytes.NewReader(body))
		if err != nil {
			got <- answer{err: err}
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+pluginToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var a answer
		raw, err := io.ReadAll(resp.Body)
		if err == nil {
			a.r = response{code: resp.StatusCode, raw: string(raw)}
			err = json.Unmarshal(raw, &a.r.body)
		}
		a.err = err
		got <- a
	}()
	return got
}

// TestStepPluginConcurrentPromotions promotes two stages at once through
// one sidecar: both land on main, one commit each, whichever pushes second
// retrying on the other's commit.
func TestStepPluginConcurrentPromotions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newSandbox(t)
	sc := startSidecar(t, s)
	start := f.tip(t)
	stages := []string{"staging", "production"}
	var waits []<-chan answer
	for _, stage := range stages {
		body, err := json.Marshal(kargoRequest(f, s, "argo-refs-promote", stage, f.configJSON(nil)))
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, sc.postAsync(body))
	}
	for i, w := range waits {
		a := <-w
		if a.err != nil {
			t.Fatalf("%s: %v", stages[i], a.err)
		}
		wantStep(t, a.r, "Succeeded", false)
		if out := output(a.r); out["changed"] != true {
			t.Errorf("%s: outputs %v, want changed", stages[i], out)
		}
	}
	if n := gittest.Git(t, f.gitopsDir, "rev-list", "--count", start+"..main"); n != "2" {
		t.Fatalf("%s commits on main after two promotions, want 2", n)
	}
	for _, stage := range stages {
		if got := f.show(t, "apps/codeai/deployments/"+stage+"/deployment.yaml"); !strings.Contains(got, "targetRevision: '"+f.srcCommit+"' # moved by Kargo") {
			t.Errorf("%s deployment.yaml:\n%s", stage, got)
		}
	}

	// The kubelet rotates the mounted token: within a second (the file is
	// read again by content at most once a second) the new one works and
	// the old one no longer does, without a restart; the same size does
	// not hide the change.
	rotated := strings.Repeat("r", len(pluginToken))
	if err := os.WriteFile(filepath.Join(s.root, "token"), []byte(rotated+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := kargoRequest(f, s, "no-such-kind", "staging", f.configJSON(nil))
	eventually := func(what string, token string, want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := sc.post(t, token, probe)
			if r.code == want {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: HTTP %d %s, want %d within 5s", what, r.code, r.raw, want)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	eventually("the new token after rotation", rotated, http.StatusOK)
	if r := sc.post(t, pluginToken, probe); r.code != http.StatusForbidden {
		t.Errorf("the old token after rotation: HTTP %d, want 403", r.code)
	}
	// Emptied: revoked, nothing is accepted.
	if err := os.WriteFile(filepath.Join(s.root, "token"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually("the last token after the file was emptied", rotated, http.StatusForbidden)
	sc.stop(t)
}
