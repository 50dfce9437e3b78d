package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gitopstest"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/regtest"
	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/step/plugin"
	"github.com/argo-refs/argo-refs/warehouse"
)

// promoteFixture is a helm-layout GitOps repository with one published
// release, its source and its image, all real, and a promote request for
// stage staging. Pushes wait pushDelay before the Git server sees them.
type promoteFixture struct {
	git   *gittest.Server
	dir   string
	start string
	body  []byte
}

func newPromoteFixture(t *testing.T, workDir string, pushDelay time.Duration) *promoteFixture {
	t.Helper()
	delay := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
				time.Sleep(pushDelay)
			}
			next.ServeHTTP(w, r)
		})
	}
	git := gittest.New(t, gittest.WithBasicAuth("kargo", leakSecret), gittest.WithMiddleware(delay))
	reg := regtest.New(t, regtest.WithCredentials("puller", leakSecret))
	srcURL := git.CreateRepo(t, "source.git")
	src := gittest.CommitFiles(t, git.Dir("source.git"), "main", map[string]string{"k8s/helm/Chart.yaml": "name: codeai\n"}, "chart")
	tag := "code-dot-org/code-dot-org:git-" + src
	digest := reg.PushImage(t, tag, nil)
	url := git.CreateRepo(t, "gitops.git")
	f := &promoteFixture{git: git, dir: git.Dir("gitops.git")}
	gittest.CommitFiles(t, f.dir, "main", gitopstest.HelmStages("staging"), "layout")
	rec, err := warehouse.New(src, reg.Ref(tag), digest, warehouse.PackagingHelm, srcURL, "k8s/helm", time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	freight := gitopstest.PublishRecord(t, f.dir, "main", lockDir, rec)
	f.start = freight
	config, _ := json.Marshal(map[string]any{
		"repoURL": url, "buildLockDir": lockDir, "timeout": "1m",
		"targets": []any{map[string]any{"deploymentFile": map[string]any{}}},
		"credentials": map[string]any{
			"git":      map[string]any{"username": "kargo", "password": leakSecret},
			"registry": map[string]any{"username": "puller", "password": leakSecret, "registry": reg.Host},
		},
	})
	f.body, err = json.Marshal(kargo.StepRequest{
		Context: kargo.StepContext{
			WorkDir: workDir, Project: "codeai", Stage: "staging", Promotion: "staging.01", PromotionUID: "uid-1", Config: config,
			Freight: kargo.FreightCollection{ID: "f1", Items: map[string]kargo.FreightReference{
				"Warehouse/codeai-builds": {Name: "f1", Origin: kargo.FreightOrigin{Kind: "Warehouse", Name: "codeai-builds"},
					Commits: []kargo.GitCommit{{RepoURL: url, ID: freight, Branch: "main"}}},
			}},
		},
		Step: kargo.StepRequestStep{Kind: string(step.KindPromote), Alias: "promote", Config: config},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *promoteFixture) commits(t *testing.T) string {
	t.Helper()
	return gittest.Git(t, f.dir, "rev-list", "--count", f.start+"..main")
}

func post(client *http.Client, url string, body []byte) (*http.Response, error) {
	req, _ := http.NewRequest(http.MethodPost, url+plugin.ExecutePath, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+leakToken)
	req.Header.Set("Content-Type", "application/json")
	return client.Do(req)
}

// TestCallerThatGoesAwayLeavesNothingBehind: the caller gives up while the
// step is pushing and never calls again. The step finishes on its own (the
// push lands, once), and afterwards no goroutine, temp file or work-dir
// entry is left.
func TestCallerThatGoesAwayLeavesNothingBehind(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	workDir := t.TempDir()
	f := newPromoteFixture(t, workDir, 2*time.Second)
	h := plugin.NewHandler(step.Run, plugin.HandlerOptions{
		Token: func() []byte { return []byte(leakToken) },
		Jobs:  plugin.JobOptions{AnswerWithin: 10 * time.Second},
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	base := runtime.NumGoroutine()

	impatient := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{}}
	if resp, err := post(impatient, srv.URL, f.body); err == nil {
		resp.Body.Close()
		t.Fatalf("the call was answered (%d) before the delayed push; the test did not leave mid-step", resp.StatusCode)
	}
	impatient.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Drain(ctx); err != nil {
		t.Fatalf("the abandoned step did not finish: %v", err)
	}
	if n := f.commits(t); n != "1" {
		t.Errorf("%s commits after an abandoned call, want the one promotion", n)
	}
	srv.CloseClientConnections()
	if got := settle(runtime.NumGoroutine(), base); got > base {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after the step, %d before:\n%s", got, base, buf[:runtime.Stack(buf, true)])
	}
	for _, d := range []string{tmp, workDir} {
		if entries, err := os.ReadDir(d); err != nil || len(entries) != 0 {
			t.Errorf("%s holds %d entries after the step (%v)", d, len(entries), err)
		}
	}
}

// TestRepeatedCallsRunTheStepOnce: calls that repeat a running step (the
// caller's retries after its timeout, or two callers at once) join it; all
// get the one answer, and the promotion is made once.
func TestRepeatedCallsRunTheStepOnce(t *testing.T) {
	workDir := t.TempDir()
	f := newPromoteFixture(t, workDir, time.Second)
	h := plugin.NewHandler(step.Run, plugin.HandlerOptions{
		Token: func() []byte { return []byte(leakToken) },
		Jobs:  plugin.JobOptions{AnswerWithin: 200 * time.Millisecond, RetryAfter: 50 * time.Millisecond},
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Timeout: 10 * time.Second}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var running, succeeded int
	var commits []any
	for range 4 {
		wg.Go(func() {
			for range 100 {
				resp, err := post(client, srv.URL, f.body)
				if err != nil {
					t.Error(err)
					return
				}
				var got kargo.StepResponse
				err = json.NewDecoder(resp.Body).Decode(&got)
				resp.Body.Close()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if got.Status == kargo.StatusRunning {
					running++
					mu.Unlock()
					time.Sleep(50 * time.Millisecond)
					continue
				}
				if got.Status == kargo.StatusSucceeded {
					succeeded++
					commits = append(commits, got.Output[step.OutputGitopsCommit])
				} else {
					t.Errorf("answer %+v", got)
				}
				mu.Unlock()
				return
			}
		})
	}
	wg.Wait()
	if succeeded != 4 || running == 0 {
		t.Fatalf("%d Succeeded and %d Running answers; want 4 callers to see the one step succeed after Running answers", succeeded, running)
	}
	for _, c := range commits {
		if c != commits[0] {
			t.Errorf("callers were told of different commits: %v", commits)
		}
	}
	if n := f.commits(t); n != "1" {
		t.Errorf("%s commits, want 1", n)
	}
	if rp := f.git.Stats().Service(gittest.ServiceReceivePack).Requests; rp != 1 {
		t.Errorf("%d pushes, want 1: the step ran more than once", rp)
	}
	// A call after the answer was delivered gets it again, from the table.
	resp, err := post(client, srv.URL, f.body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var again kargo.StepResponse
	if err := json.NewDecoder(resp.Body).Decode(&again); err != nil || again.Status != kargo.StatusSucceeded || again.Output[step.OutputGitopsCommit] != commits[0] {
		t.Errorf("a repeated call after the end: %+v (%v), want the same Succeeded answer", again, err)
	}
	if rp := f.git.Stats().Service(gittest.ServiceReceivePack).Requests; rp != 1 {
		t.Errorf("%d pushes after the repeat, want 1", rp)
	}
}
