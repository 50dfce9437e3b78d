package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/argo-refs/argo-refs/step/kargo"
)

// JobOptions bounds the steps the handler runs detached from the requests
// that ask for them. kargo-extended's dispatcher gives up on a call after
// 30 s and calls again; a step that needs longer must outlive the call, and
// the next call must find it instead of starting it again. Zero fields take
// the defaults below.
type JobOptions struct {
	// AnswerWithin is how long a call waits for its step before it answers
	// Running with RetryAfter: 20 s, well under kargo-extended's 30 s
	// client timeout.
	AnswerWithin time.Duration
	// RetryAfter is how long a Running answer asks Kargo to wait before it
	// calls again: 2 s, kargo-extended's own DefaultAgentRetrySeconds.
	RetryAfter time.Duration
	// KeepResults is how long a finished step's answer is kept for a call
	// that repeats it (the caller's retry of a call whose answer it lost):
	// 15 min.
	KeepResults time.Duration
	// MaxResults bounds the finished answers kept; the oldest go first: 1024.
	MaxResults int
	// MaxRunning bounds the steps running at once; a call for a new step
	// beyond it is answered Running and starts nothing: 32.
	MaxRunning int
}

func (o *JobOptions) defaults() {
	if o.AnswerWithin <= 0 {
		o.AnswerWithin = 20 * time.Second
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 2 * time.Second
	}
	if o.KeepResults <= 0 {
		o.KeepResults = 15 * time.Minute
	}
	if o.MaxResults <= 0 {
		o.MaxResults = 1024
	}
	if o.MaxRunning <= 0 {
		o.MaxRunning = 32
	}
}

// job is one step of one promotion, running or finished.
type job struct {
	done     chan struct{} // closed once resp is set
	started  time.Time
	resp     kargo.StepResponse
	finished time.Time
}

// jobs is the process's table of steps, keyed by what identifies one step
// of one promotion (jobKey). It lives in memory only: a call that reaches a
// fresh process runs the step again, which converges as any re-run does.
type jobs struct {
	opts   JobOptions
	base   context.Context // what steps run under; cancelled when a drain runs out of time
	cancel context.CancelFunc

	mu      sync.Mutex
	table   map[string]*job
	running int
	idle    chan struct{} // closed when running drops to 0; nil while nobody waits
}

func newJobs(opts JobOptions) *jobs {
	opts.defaults()
	base, cancel := context.WithCancel(context.Background())
	return &jobs{opts: opts, base: base, cancel: cancel, table: map[string]*job{}}
}

// join returns the job for key: the running or finished one, or a new one
// running run. It returns nil when MaxRunning steps are running already.
func (js *jobs) join(key string, run func(context.Context) kargo.StepResponse) (j *job, joined bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	now := time.Now()
	js.sweepLocked(now)
	if j := js.table[key]; j != nil {
		return j, true
	}
	if js.running >= js.opts.MaxRunning {
		return nil, false
	}
	j = &job{done: make(chan struct{}), started: now}
	js.table[key] = j
	js.running++
	go func() {
		resp := run(js.base)
		js.mu.Lock()
		defer js.mu.Unlock()
		j.resp, j.finished = resp, time.Now()
		close(j.done) // before idle: a drain that returns finds every answer in
		js.running--
		if js.running == 0 && js.idle != nil {
			close(js.idle)
			js.idle = nil
		}
	}()
	return j, false
}

// delivered is told that a finished job's answer reached its caller. An
// Errored answer that is not terminal is dropped then, so that Kargo's next
// attempt (its error threshold allows more) runs the step again instead of
// being handed the same error; any other answer stays for the caller's
// retries.
func (js *jobs) delivered(key string, j *job) {
	if j.resp.Status != kargo.StatusErrored || j.resp.Terminal {
		return
	}
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.table[key] == j {
		delete(js.table, key)
	}
}

// sweepLocked drops finished jobs older than KeepResults and, past
// MaxResults, the oldest finished ones. Running jobs always stay.
func (js *jobs) sweepLocked(now time.Time) {
	var finished int
	for k, j := range js.table {
		if j.finished.IsZero() {
			continue
		}
		if now.Sub(j.finished) > js.opts.KeepResults {
			delete(js.table, k)
			continue
		}
		finished++
	}
	for ; finished > js.opts.MaxResults; finished-- {
		var oldest string
		for k, j := range js.table {
			if !j.finished.IsZero() && (oldest == "" || j.finished.Before(js.table[oldest].finished)) {
				oldest = k
			}
		}
		delete(js.table, oldest)
	}
}

// errDrainTimeout is wrapped when steps were still running at the end of a
// drain's grace period and had to be cancelled.
var errDrainTimeout = errors.New("steps still running when the grace period ended were cancelled")

// drain waits for every running step to finish. When ctx ends first, it
// cancels them, waits a moment for them to notice, and returns an error
// wrapping ctx's.
func (js *jobs) drain(ctx context.Context) error {
	js.mu.Lock()
	if js.running == 0 {
		js.mu.Unlock()
		return nil
	}
	if js.idle == nil {
		js.idle = make(chan struct{})
	}
	idle := js.idle
	js.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
	}
	js.cancel()
	select {
	case <-idle:
	case <-time.After(5 * time.Second):
	}
	return fmt.Errorf("%w: %w", errDrainTimeout, ctx.Err())
}

// jobKey identifies one step of one promotion: the Project, the Promotion
// (name and UID), the step's alias, and a hash of everything else the step's
// outcome depends on (kind, stage, config, Freight). A call that repeats it
// exactly joins the same job; a changed config is another step.
func jobKey(req kargo.StepRequest, alias string, config []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{
		[]byte(req.Step.Kind), []byte(req.Context.Stage), []byte(req.Context.PromotionUID), compactJSON(config),
	} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	freight, _ := json.Marshal(req.Context.Freight) // maps marshal in key order
	h.Write(freight)
	return fmt.Sprintf("%s/%s/%s/%s", req.Context.Project, req.Context.Promotion, alias, hex.EncodeToString(h.Sum(nil)[:12]))
}

// compactJSON removes insignificant space from a JSON value, so that the
// same config sent twice with other spacing is the same step.
func compactJSON(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return b
	}
	return out.Bytes()
}
