package plugin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/faults"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/internal/logbuf"
	"github.com/argo-refs/argo-refs/internal/regtest"
	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/step/plugin"
	"github.com/argo-refs/argo-refs/warehouse"
)

const (
	leakSecret = leaktest.Secret
	leakToken  = "plugin-bearer-token"
	lockDir    = "warehouses/codeai/builds"
)

// realmWriter points the token realm of a registry challenge at its proxy
// (a realm must be on the host:port the client asked).
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

// verifyRequest publishes one release behind fault-injecting proxies and
// returns a StepRequest body that verifies it, with workDir in its context.
func verifyRequest(t *testing.T, workDir string) (body func(stage string) []byte, gitProxy, regProxy *faults.Proxy) {
	t.Helper()
	git := gittest.New(t, gittest.WithBasicAuth("kargo", leakSecret))
	var proxyURL string
	var reg *regtest.Registry
	reg = regtest.New(t, regtest.WithCredentials("puller", leakSecret), regtest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(&realmWriter{ResponseWriter: w, from: reg.URL(), to: proxyURL}, r)
		})
	}))
	gitProxy, regProxy = faults.New(t, git.URL), faults.New(t, reg.URL())
	proxyURL = regProxy.URL

	git.CreateRepo(t, "source.git")
	src := gittest.CommitFiles(t, git.Dir("source.git"), "main", map[string]string{"k8s/helm/Chart.yaml": "name: codeai\n"}, "chart")
	tag := "code-dot-org/code-dot-org:git-" + src
	digest := reg.PushImage(t, tag, nil)
	git.CreateRepo(t, "gitops.git")
	rec, err := warehouse.New(src, regProxy.Host()+"/"+tag, digest, warehouse.PackagingHelm, gitProxy.URL+"/source.git", "k8s/helm",
		time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		lockDir + "/current.yaml":                               string(rec.Render()),
		lockDir + "/" + warehouse.HistoricalName(rec.GitCommit): string(rec.Render()),
	}
	// The warm-up verifies one Freight commit; the load another, so that the
	// step's process-wide record cache, warmed by the first, does not spare
	// the load the GitOps server and its faults.
	warmFreight := gittest.CommitFiles(t, git.Dir("gitops.git"), "main", files, "publish")
	files["README.md"] = "later\n"
	loadFreight := gittest.CommitFiles(t, git.Dir("gitops.git"), "main", files, "later")
	repoURL := gitProxy.URL + "/gitops.git"
	config, _ := json.Marshal(map[string]any{
		"repoURL": repoURL, "buildLockDir": lockDir, "timeout": "8s",
		"credentials": map[string]any{
			"git":      map[string]any{"username": "kargo", "password": leakSecret},
			"registry": map[string]any{"username": "puller", "password": leakSecret, "registry": regProxy.Host()},
		},
	})
	body = func(stage string) []byte {
		freight := loadFreight
		if stage == "warmup" {
			freight = warmFreight
		}
		b, err := json.Marshal(kargo.StepRequest{
			Context: kargo.StepContext{
				WorkDir: workDir, Project: "codeai", Stage: stage, Promotion: stage + ".1", Config: config,
				Freight: kargo.FreightCollection{ID: "f1", Items: map[string]kargo.FreightReference{
					"Warehouse/codeai-builds": {Name: "f1", Origin: kargo.FreightOrigin{Kind: "Warehouse", Name: "codeai-builds"},
						Commits: []kargo.GitCommit{{RepoURL: repoURL, ID: freight, Branch: "main"}}},
				}},
			},
			Step: kargo.StepRequestStep{Kind: string(step.KindVerify), Config: config},
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return body, gitProxy, regProxy
}

// The StepPlugin server, running the real step, answers 100 concurrent
// verifications through faults with a valid status each, leaks no secret,
// and afterwards holds no more goroutines, temp dirs or heap than before.
func TestServeUnderLoadWithFaultsLeaksNothing(t *testing.T) {
	workDir := t.TempDir()
	body, gitProxy, regProxy := verifyRequest(t, workDir)
	logs := &logbuf.Buffer{}
	srv := httptest.NewServer(plugin.NewHandler(step.Run, plugin.HandlerOptions{
		Token:  func() []byte { return []byte(leakToken) },
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{}}
	post := func(stage string) (int, kargo.StepResponse, string, error) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+plugin.ExecutePath, bytes.NewReader(body(stage)))
		req.Header.Set("Authorization", "Bearer "+leakToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, kargo.StepResponse{}, "", err
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		var got kargo.StepResponse
		err = json.Unmarshal(buf.Bytes(), &got)
		return resp.StatusCode, got, buf.String(), err
	}

	// Warm up (one clean request), then take the baseline.
	if code, got, raw, err := post("warmup"); err != nil || code != http.StatusOK || got.Status != kargo.StatusSucceeded {
		t.Fatalf("warm-up: %d %v %s", code, err, raw)
	}
	client.CloseIdleConnections()
	baseGoroutines := settle(runtime.NumGoroutine(), 0)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	baseHeap := ms.HeapInuse

	gitProxy.Add(
		faults.Rule{PathContains: "/gitops.git/git-upload-pack", Times: 10, Action: faults.Status, Code: http.StatusServiceUnavailable},
		faults.Rule{PathContains: "/gitops.git/info/refs", Times: 10, Skip: 20, Action: faults.ResetBefore},
		faults.Rule{PathContains: "/source.git/", Times: 20, Action: faults.Delay, Delay: 50 * time.Millisecond},
	)
	regProxy.Add(
		faults.Rule{PathContains: "/manifests/", Times: 10, Action: faults.Status, Code: http.StatusTooManyRequests, RetryAfter: time.Second},
		faults.Rule{PathContains: "/manifests/", Times: 5, Skip: 30, Action: faults.ResetBefore},
	)

	const n = 100
	var wg sync.WaitGroup
	statuses := make([]kargo.StepStatus, n)
	var mu sync.Mutex
	var problems []string
	var peakHeap uint64
	for i := range n {
		wg.Go(func() {
			// As kargo-extended does: a Running answer (the plugin's
			// limit of running steps is reached) is called again after
			// its retryAfter.
			code, got, raw, err := post(fmt.Sprintf("stage-%03d", i))
			for calls := 1; err == nil && got.Status == kargo.StatusRunning && calls < 200; calls++ {
				wait, perr := time.ParseDuration(got.RetryAfter)
				if perr != nil {
					err = fmt.Errorf("Running with retryAfter %q: %w", got.RetryAfter, perr)
					break
				}
				time.Sleep(wait)
				code, got, raw, err = post(fmt.Sprintf("stage-%03d", i))
			}
			mu.Lock()
			defer mu.Unlock()
			statuses[i] = got.Status
			switch {
			case err != nil || code != http.StatusOK:
				problems = append(problems, fmt.Sprintf("request %d: code %d, %v: %s", i, code, err, raw))
			case got.Status != kargo.StatusSucceeded && got.Status != kargo.StatusErrored,
				got.Terminal, got.Status == kargo.StatusErrored && got.Error == "":
				// Every fault here is transient: never Failed, never terminal.
				problems = append(problems, fmt.Sprintf("request %d: %s", i, raw))
			case leaktest.Find(raw, "kargo", leakSecret) != "":
				problems = append(problems, fmt.Sprintf("request %d: the credential leaked into the response", i))
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peakHeap = max(peakHeap, m.HeapInuse)
		})
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	succeeded := 0
	for _, s := range statuses {
		if s == kargo.StatusSucceeded {
			succeeded++
		}
	}
	// On two busy cores most of the 100 run into their 8s deadline:
	// Errored, as they should; the point is what is left afterwards.
	if g, r := gitProxy.InjectedWhere("/gitops.git/"), regProxy.Injected(); g == 0 || r == 0 {
		t.Fatalf("faults injected: GitOps server %d, registry %d; the load did not exercise both", g, r)
	}
	if leaktest.Find(logs.String(), "kargo", leakSecret) != "" {
		t.Fatal("the credential leaked into the server's log")
	}
	// Generous: 100 promotions at once hold a few MiB each at most.
	if peakHeap > baseHeap+512<<20 {
		t.Fatalf("heap in use peaked at %d MiB (baseline %d MiB)", peakHeap>>20, baseHeap>>20)
	}

	client.CloseIdleConnections()
	if got := settle(runtime.NumGoroutine(), baseGoroutines+10); got > baseGoroutines+10 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after the load, %d before:\n%s", got, baseGoroutines, buf[:runtime.Stack(buf, true)])
	}
	entries, err := os.ReadDir(workDir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("workDir holds %d entries after the load (%v)", len(entries), err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > baseHeap+64<<20 {
		t.Fatalf("heap in use %d MiB after the load, %d MiB before", ms.HeapInuse>>20, baseHeap>>20)
	}
	t.Logf("%d/%d succeeded; goroutines %d -> %d; heap %d -> peak %d MiB; faults git %d registry %d",
		succeeded, n, baseGoroutines, runtime.NumGoroutine(), baseHeap>>20, peakHeap>>20, gitProxy.Injected(), regProxy.Injected())
}

// settle waits (up to 15s) for the goroutine count to drop to want or
// below, and returns the last count; want 0 waits for it to stop falling.
func settle(last, want int) int {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		n := runtime.NumGoroutine()
		if want > 0 && n <= want {
			return n
		}
		if want == 0 && n >= last {
			return n
		}
		last = n
	}
	return last
}
