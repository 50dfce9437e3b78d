package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/logbuf"
	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/kargo"
)

// startServe runs `argo-refs serve` until the test ends and returns its
// address, its stderr, and a stop function returning the exit code.
func startServe(t *testing.T, env map[string]string, args ...string) (addr string, stderr *logbuf.Buffer, stop func() int) {
	t.Helper()
	stderr = &logbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), stdio{
			stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr,
			getenv:        func(k string) string { return env[k] },
			newStepRunner: testStepRunner,
		})
	}()
	stopped := false
	var code int
	stop = func() int {
		if !stopped {
			cancel()
			code, stopped = <-done, true
		}
		return code
	}
	t.Cleanup(func() { stop() })
	// Wait for the "listening" line; the bound only keeps a broken server
	// from hanging the test.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(stderr.String(), "\n") {
			var l struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" {
				return l.Addr, stderr, stop
			}
		}
		select {
		case c := <-done:
			t.Fatalf("serve exited with %d before listening:\n%s", c, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve never logged its address:\n%s", stderr.String())
	return "", nil, nil
}

const serveTestRequest = `{
  "context": {
    "workDir": "/workspace",
    "alias": "promote",
    "project": "codeai",
    "stage": "test",
    "promotion": "test.01jabc.d072d04",
    "freight": {"id": "f1", "items": {"Warehouse/codeai-builds": {"name": "f1",
      "origin": {"kind": "Warehouse", "name": "codeai-builds"},
      "commits": [{"repoURL": "https://git.example.com/k8s-gitops.git", "id": "` + stepTestSHA + `"}]}}}
  },
  "step": {"kind": "argo-refs-promote", "alias": "promote",
    "config": {"repoURL": "https://git.example.com/k8s-gitops.git", "credentials": {"git": {"password": "` + stepTestSecret + `"}}}}
}`

func postStep(t *testing.T, addr, token string) (int, kargo.StepResponse) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+addr+"/api/v1/step.execute", strings.NewReader(serveTestRequest))
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
	var sr kargo.StepResponse
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&sr); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, sr
}

func TestServeEndToEnd(t *testing.T) {
	token := writeTestFile(t, "token", "tok-123\n")
	calls := swapRunStep(t, step.Result{Status: kargo.StatusSucceeded, Message: "test → git-d072d04", Output: map[string]any{"changed": true}})
	addr, stderr, stop := startServe(t, nil, "--listen", "127.0.0.1:0", "--token-file", token)

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
	if code, _ := postStep(t, addr, "wrong"); code != 403 {
		t.Errorf("wrong token: %d, want 403", code)
	}
	code, sr := postStep(t, addr, "tok-123")
	if code != 200 || sr.Status != kargo.StatusSucceeded || sr.Message != "test → git-d072d04" || sr.Output["changed"] != true {
		t.Errorf("step.execute: %d %+v", code, sr)
	}
	if c := stop(); c != exitOK {
		t.Errorf("serve exited %d after SIGTERM-like cancel, want 0:\n%s", c, stderr.String())
	}
	if len(*calls) != 1 || (*calls)[0].kind != step.KindPromote || (*calls)[0].sc.Stage != "test" || (*calls)[0].sc.WorkDir != "/workspace" {
		t.Errorf("step calls: %+v", *calls)
	}
	logs := stderr.String()
	if strings.Contains(logs, stepTestSecret) || strings.Contains(logs, "tok-123") {
		t.Errorf("serve's log holds a secret:\n%s", logs)
	}
	if !strings.Contains(logs, `"promotion":"test.01jabc.d072d04"`) || !strings.Contains(logs, `"status":"Succeeded"`) {
		t.Errorf("serve's log lacks the request line:\n%s", logs)
	}
}

func TestServeEnvSettings(t *testing.T) {
	token := writeTestFile(t, "token", "tok-env")
	swapRunStep(t, step.Result{Status: kargo.StatusSucceeded})
	addr, _, _ := startServe(t, map[string]string{envListen: "127.0.0.1:0", envTokenFile: token})
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("listening on %s, want the address from %s", addr, envListen)
	}
	if code, _ := postStep(t, addr, "tok-env"); code != 200 {
		t.Errorf("token from %s: %d, want 200", envTokenFile, code)
	}
}

func TestServeRefusesToStartWithoutToken(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing"), empty} {
		r := runArgoRefs(t, nil, "serve", "--listen", "127.0.0.1:0", "--token-file", path)
		if r.code != exitUsage {
			t.Errorf("%s: exit %d, want %d", path, r.code, exitUsage)
		}
		first := strings.SplitN(r.stderr, "\n", 2)[0]
		if !strings.Contains(first, "refusing to start without a bearer token") || !strings.Contains(first, path) || !strings.Contains(first, "--insecure-no-auth") {
			t.Errorf("%s: stderr %q", path, first)
		}
		if strings.Contains(r.stderr, `"msg":"listening"`) {
			t.Errorf("%s: the server started listening", path)
		}
	}
}

func TestServeInsecureNoAuth(t *testing.T) {
	swapRunStep(t, step.Result{Status: kargo.StatusSucceeded})
	addr, stderr, _ := startServe(t, nil, "--listen", "127.0.0.1:0", "--token-file", filepath.Join(t.TempDir(), "missing"), "--insecure-no-auth")
	if !strings.Contains(stderr.String(), `"level":"WARN","msg":"INSECURE: serving WITHOUT AUTH`) {
		t.Errorf("no loud warning:\n%s", stderr.String())
	}
	if code, _ := postStep(t, addr, ""); code != 200 {
		t.Errorf("no token with --insecure-no-auth: %d, want 200", code)
	}
}

func TestServeInsecureFlagKeepsAuthWhenTokenExists(t *testing.T) {
	token := writeTestFile(t, "token", "tok-kept")
	swapRunStep(t, step.Result{Status: kargo.StatusSucceeded})
	addr, _, _ := startServe(t, nil, "--listen", "127.0.0.1:0", "--token-file", token, "--insecure-no-auth")
	if code, _ := postStep(t, addr, ""); code != 403 {
		t.Errorf("no token while a token file exists: %d, want 403", code)
	}
}

func TestServeUsageErrors(t *testing.T) {
	token := writeTestFile(t, "token", "tok")
	for _, args := range [][]string{
		{"serve", "--token-file", token, "extra"},
		{"serve", "--token-file", token, "--max-body-bytes", "0"},
		{"serve", "--token-file", token, "--shutdown-grace", "0s"},
	} {
		if r := runArgoRefs(t, nil, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, r.code, exitUsage)
		}
	}
	r := runArgoRefs(t, nil, "serve", "--token-file", token, "--listen", "256.0.0.1:99999")
	if r.code != exitFailed || !strings.Contains(r.stderr, "listening on 256.0.0.1:99999") {
		t.Errorf("bad listen address: exit %d stderr %q", r.code, r.stderr)
	}
}
