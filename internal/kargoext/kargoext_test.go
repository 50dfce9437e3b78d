package kargoext

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/argo-refs/argo-refs/step/kargo"
)

var fast = wait.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 3, Cap: 10 * time.Millisecond}

func TestExecuteMapsOutcomesAsTheDispatcherDoes(t *testing.T) {
	for _, tc := range []struct {
		name         string
		handler      http.HandlerFunc
		timeout      time.Duration
		wantStatus   kargo.StepStatus
		wantTerminal bool
		wantAttempts int
	}{
		{"answer", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"status":"Succeeded","output":{"a":1}}`))
		}, 0, kargo.StatusSucceeded, false, 1},
		{"client timeout is transient: three tries, then Running", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // so that the server sees the client go
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, 50 * time.Millisecond, kargo.StatusRunning, false, 3},
		{"503 is transient", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}, 0, kargo.StatusRunning, false, 3},
		{"500 is a terminal Errored", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, 0, kargo.StatusErrored, true, 1},
		{"an empty status is a terminal Errored", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{}`))
		}, 0, kargo.StatusErrored, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			e := &Engine{URL: srv.URL, Timeout: tc.timeout, Backoff: fast}
			got := e.Execute(context.Background(), map[string]any{"step": map[string]any{"kind": "x"}})
			if got.Status != tc.wantStatus || got.Terminal != tc.wantTerminal {
				t.Errorf("got %+v, want %s terminal=%v", got, tc.wantStatus, tc.wantTerminal)
			}
			if e.Attempts() != tc.wantAttempts {
				t.Errorf("%d HTTP attempts, want %d", e.Attempts(), tc.wantAttempts)
			}
			if got.Status == kargo.StatusRunning && got.RetryAfter != "2s" {
				t.Errorf("retryAfter %q, want 2s", got.RetryAfter)
			}
		})
	}
}

func TestRunStepCallsAgainAfterRunningAndWithinTheThreshold(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch calls.Add(1) {
		case 1, 2:
			_, _ = w.Write([]byte(`{"status":"Running","retryAfter":"10ms"}`))
		case 3:
			_, _ = w.Write([]byte(`{"status":"Errored","error":"blip"}`))
		default:
			_, _ = w.Write([]byte(`{"status":"Succeeded"}`))
		}
	}))
	defer srv.Close()

	e := &Engine{URL: srv.URL, Backoff: fast}
	if run := e.RunStep(context.Background(), map[string]any{}); run.Final.Status != kargo.StatusErrored || run.Executions != 3 || run.Running != 2 {
		t.Errorf("threshold 1 (none declared): %+v, want the Errored to end it after 3 executions", run)
	}
	calls.Store(0)
	e = &Engine{URL: srv.URL, Backoff: fast, ErrorThreshold: 3}
	if run := e.RunStep(context.Background(), map[string]any{}); run.Final.Status != kargo.StatusSucceeded || run.Executions != 4 {
		t.Errorf("threshold 3: %+v, want Succeeded after 4 executions", run)
	}
}
