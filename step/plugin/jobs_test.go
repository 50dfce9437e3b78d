package plugin

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/step/kargo"
)

func finishedJob(js *jobs, key string, resp kargo.StepResponse) *job {
	j, _ := js.join(key, func(context.Context) kargo.StepResponse { return resp })
	<-j.done
	return j
}

func TestJobsJoinRunsOnceAndKeepsTheAnswer(t *testing.T) {
	js := newJobs(JobOptions{})
	var runs atomic.Int64
	release := make(chan struct{})
	run := func(context.Context) kargo.StepResponse {
		runs.Add(1)
		<-release
		return kargo.StepResponse{Status: kargo.StatusSucceeded}
	}
	a, joinedA := js.join("k", run)
	b, joinedB := js.join("k", run)
	if a != b || joinedA || !joinedB {
		t.Fatalf("second join: same job %v, joined %v/%v; want the running job joined", a == b, joinedA, joinedB)
	}
	close(release)
	<-a.done
	js.delivered("k", a)
	if c, joined := js.join("k", run); c != a || !joined {
		t.Error("a finished Succeeded answer was not kept for a repeated call")
	}
	if runs.Load() != 1 {
		t.Errorf("%d runs, want 1", runs.Load())
	}
}

func TestJobsDropAnErroredAnswerOnceDelivered(t *testing.T) {
	js := newJobs(JobOptions{})
	errored := finishedJob(js, "e", kargo.StepResponse{Status: kargo.StatusErrored, Error: "blip"})
	if j, joined := js.join("e", nil); j != errored || !joined {
		t.Fatal("an undelivered Errored answer must wait for the caller's retry")
	}
	js.delivered("e", errored)
	ran := false
	j, joined := js.join("e", func(context.Context) kargo.StepResponse {
		ran = true
		return kargo.StepResponse{Status: kargo.StatusSucceeded}
	})
	<-j.done
	if joined || !ran {
		t.Error("after a delivered Errored answer, the next call must run the step again")
	}
	terminal := finishedJob(js, "t", kargo.StepResponse{Status: kargo.StatusErrored, Error: "bad", Terminal: true})
	js.delivered("t", terminal)
	if j, _ := js.join("t", nil); j != terminal {
		t.Error("a terminal Errored answer must be kept like a Failed one")
	}
}

func TestJobsBoundsRunningAndFinished(t *testing.T) {
	js := newJobs(JobOptions{MaxRunning: 2, MaxResults: 3, KeepResults: time.Hour})
	block := make(chan struct{})
	defer close(block)
	wait := func(context.Context) kargo.StepResponse {
		<-block
		return kargo.StepResponse{Status: kargo.StatusSucceeded}
	}
	for i := range 5 {
		finishedJob(js, fmt.Sprint("f", i), kargo.StepResponse{Status: kargo.StatusSucceeded})
		time.Sleep(time.Millisecond) // distinct finish times
	}
	js.join("r1", wait)
	js.join("r2", wait)
	if j, _ := js.join("r3", wait); j != nil {
		t.Fatal("a third step started with MaxRunning 2")
	}
	js.mu.Lock()
	js.sweepLocked(time.Now())
	_, oldest := js.table["f0"]
	_, newest := js.table["f4"]
	n := len(js.table)
	js.mu.Unlock()
	if n != 2+3 || oldest || !newest {
		t.Errorf("table holds %d (f0 %v, f4 %v); want the 2 running and the 3 newest finished", n, oldest, newest)
	}
}

func TestJobsForgetAnswersAfterKeepResults(t *testing.T) {
	js := newJobs(JobOptions{KeepResults: time.Minute})
	finishedJob(js, "old", kargo.StepResponse{Status: kargo.StatusSucceeded})
	js.mu.Lock()
	js.sweepLocked(time.Now().Add(2 * time.Minute))
	_, kept := js.table["old"]
	js.mu.Unlock()
	if kept {
		t.Error("an answer older than KeepResults was kept")
	}
}

func TestJobsDrainCancelsWhatOutlivesTheGrace(t *testing.T) {
	js := newJobs(JobOptions{})
	js.join("slow", func(ctx context.Context) kargo.StepResponse {
		<-ctx.Done()
		return kargo.StepResponse{Status: kargo.StatusErrored, Error: ctx.Err().Error()}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := js.drain(ctx); err == nil {
		t.Fatal("drain returned nil with a step still running")
	}
	j, _ := js.join("slow", nil)
	select {
	case <-j.done:
	default:
		t.Fatal("the step was not cancelled at the end of the grace")
	}
}

func TestJobKeyIdentifiesOneStepOfOnePromotion(t *testing.T) {
	req := kargo.StepRequest{
		Context: kargo.StepContext{Project: "p", Promotion: "staging.1", PromotionUID: "u", Stage: "staging"},
		Step:    kargo.StepRequestStep{Kind: "argo-refs-promote"},
	}
	base := jobKey(req, "promote", []byte(`{"a": 1}`))
	if got := jobKey(req, "promote", []byte(`{"a":1}`)); got != base {
		t.Error("the same config with other spacing is another key")
	}
	for name, mutate := range map[string]func(*kargo.StepRequest) ([]byte, string){
		"config": func(*kargo.StepRequest) ([]byte, string) { return []byte(`{"a":2}`), "promote" },
		"alias":  func(*kargo.StepRequest) ([]byte, string) { return []byte(`{"a":1}`), "verify" },
		"promotion": func(r *kargo.StepRequest) ([]byte, string) {
			r.Context.Promotion = "staging.2"
			return []byte(`{"a":1}`), "promote"
		},
		"uid": func(r *kargo.StepRequest) ([]byte, string) {
			r.Context.PromotionUID = "v"
			return []byte(`{"a":1}`), "promote"
		},
		"kind": func(r *kargo.StepRequest) ([]byte, string) {
			r.Step.Kind = "argo-refs-verify"
			return []byte(`{"a":1}`), "promote"
		},
		"freight": func(r *kargo.StepRequest) ([]byte, string) {
			r.Context.Freight = kargo.FreightCollection{ID: "f2"}
			return []byte(`{"a":1}`), "promote"
		},
	} {
		r := req
		config, alias := mutate(&r)
		if jobKey(r, alias, config) == base {
			t.Errorf("another %s gives the same key", name)
		}
	}
}
