// Package kargoext is a test double of kargo-extended's promotion engine as
// it calls a StepPlugin sidecar. kargo-extended is not served by the Go
// module proxy, so it cannot run here; this double does what its public code
// does, with the same libraries:
//
//   - the plugin client (extended/pkg/argoworkflows/workflow/util/plugin/plugin.go):
//     an http.Client with a 30 s Timeout, POST <address>/api/v1/step.execute
//     with a bearer token, retried by client-go's retry.OnError with
//     wait.Backoff{Duration: 250ms, Factor: 2, Jitter: 0.1, Steps: 3, Cap: 2s}
//     while the error is Temporary() or says "connection refused"; 200 is
//     decoded, 404 marks the method unsupported, 503 is a transient error,
//     any other status an error;
//   - the dispatcher (extended/pkg/stepplugin/executor/dispatcher.go): an
//     empty status is a terminal Errored; a transient error becomes Running
//     with retryAfter 2 s (DefaultAgentRetrySeconds); any other error a
//     terminal Errored;
//   - the engine: Running is called again after retryAfter; an Errored that
//     is not terminal counts against the step's error threshold (1 when the
//     plugin declares none), and the step fails once its timeout (none when
//     the plugin declares none) has passed.
package kargoext

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/argo-refs/argo-refs/step/kargo"
)

// The dispatcher's settings, from its public code.
const (
	ClientTimeout     = 30 * time.Second
	DefaultRetryAfter = 2 * time.Second
)

// DispatcherBackoff is the plugin client's retry back-off.
var DispatcherBackoff = wait.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 3, Cap: 2 * time.Second}

// Engine calls one sidecar as kargo-extended's promotion engine does.
type Engine struct {
	// URL is the sidecar's base URL, e.g. http://127.0.0.1:9765.
	URL string
	// Token is the bearer token.
	Token string
	// Timeout is the HTTP client timeout; zero means ClientTimeout.
	Timeout time.Duration
	// Backoff is the plugin client's retry back-off; zero means
	// DispatcherBackoff.
	Backoff wait.Backoff
	// StepTimeout and ErrorThreshold are what plugin.yaml declares for the
	// step kind; zero means none and 1, as kargo-extended defaults them.
	StepTimeout    time.Duration
	ErrorThreshold uint32

	attempts atomic.Int64 // HTTP requests sent
}

// Attempts counts the HTTP requests sent so far.
func (e *Engine) Attempts() int { return int(e.attempts.Load()) }

// Execute is one dispatcher ExecuteStep: the plugin client's Call (with its
// retries), then the dispatcher's mapping of its outcome.
func (e *Engine) Execute(ctx context.Context, req any) kargo.StepResponse {
	var resp kargo.StepResponse
	err := e.call(ctx, req, &resp)
	switch {
	case err == nil && resp.Status == "":
		const msg = "plugin does not implement step.execute"
		return kargo.StepResponse{Status: kargo.StatusErrored, Message: msg, Error: msg, Terminal: true}
	case err == nil:
		return resp
	case isTransient(err):
		return kargo.StepResponse{Status: kargo.StatusRunning, Message: err.Error(), RetryAfter: DefaultRetryAfter.String()}
	default:
		return kargo.StepResponse{Status: kargo.StatusErrored, Message: err.Error(), Error: err.Error(), Terminal: true}
	}
}

func (e *Engine) call(ctx context.Context, args any, reply *kargo.StepResponse) error {
	body, err := json.Marshal(args)
	if err != nil {
		return err
	}
	timeout := e.Timeout
	if timeout == 0 {
		timeout = ClientTimeout
	}
	backoff := e.Backoff
	if backoff.Steps == 0 {
		backoff = DispatcherBackoff
	}
	client := http.Client{Timeout: timeout}
	defer client.CloseIdleConnections()
	return retry.OnError(backoff, isTransient, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(e.URL, "/")+"/api/v1/step.execute", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Add("Content-Type", "application/json")
		if e.Token != "" {
			req.Header.Add("Authorization", "Bearer "+e.Token)
		}
		e.attempts.Add(1)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			return json.NewDecoder(resp.Body).Decode(reply)
		case http.StatusNotFound:
			_, err := io.Copy(io.Discard, resp.Body)
			return err
		case http.StatusServiceUnavailable:
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			return transientError{fmt.Errorf("%s", data)}
		default:
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			return fmt.Errorf("%s: %s", resp.Status, data)
		}
	})
}

func isTransient(err error) bool {
	var temp interface{ Temporary() bool }
	if errors.As(err, &temp) && temp.Temporary() {
		return true
	}
	return strings.Contains(err.Error(), "connection refused")
}

type transientError struct{ err error }

func (e transientError) Error() string   { return e.err.Error() }
func (e transientError) Temporary() bool { return true }

// Run is what one step of a Promotion sees from the engine.
type Run struct {
	// Final is the last answer: Succeeded, Failed, or the Errored that
	// ended the step.
	Final kargo.StepResponse
	// Executions counts the dispatcher calls (each may be several HTTP
	// attempts; see Engine.Attempts).
	Executions int
	// Running counts the Running answers on the way.
	Running int
	// Elapsed is the step's time from the first call to the final answer.
	Elapsed time.Duration
}

// RunStep drives one step to its end as the engine does: it calls again
// after a Running answer's retryAfter, and again after an Errored that is
// not terminal while the error threshold allows, until the step succeeds,
// fails, runs out of errors or time, or ctx ends.
func (e *Engine) RunStep(ctx context.Context, req any) Run {
	start := time.Now()
	threshold := e.ErrorThreshold
	if threshold == 0 {
		threshold = 1
	}
	var run Run
	var errored uint32
	for {
		resp := e.Execute(ctx, req)
		run.Executions++
		run.Final = resp
		switch {
		case resp.Status == kargo.StatusRunning:
			run.Running++
		case resp.Status == kargo.StatusErrored && !resp.Terminal:
			errored++
			if errored >= threshold {
				run.Elapsed = time.Since(start)
				return run
			}
		default:
			run.Elapsed = time.Since(start)
			return run
		}
		if e.StepTimeout > 0 && time.Since(start) > e.StepTimeout {
			run.Final = kargo.StepResponse{Status: kargo.StatusErrored, Message: "step timed out", Error: "step timed out", Terminal: true}
			run.Elapsed = time.Since(start)
			return run
		}
		wait := DefaultRetryAfter
		if d, err := time.ParseDuration(resp.RetryAfter); err == nil && d > 0 {
			wait = d
		}
		select {
		case <-ctx.Done():
			run.Final = kargo.StepResponse{Status: kargo.StatusAborted, Message: ctx.Err().Error()}
			run.Elapsed = time.Since(start)
			return run
		case <-time.After(wait):
		}
	}
}
