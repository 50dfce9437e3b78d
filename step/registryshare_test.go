package step

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/step/kargo"
)

// TestConcurrentPromotionsShareTheRegistryCheck: stages promoting one
// Freight at once in one process ask the registry about the digest once
// (the record is read once too), while a slow registry answers.
func TestConcurrentPromotionsShareTheRegistryCheck(t *testing.T) {
	slow := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(300 * time.Millisecond)
			next.ServeHTTP(w, r)
		})
	}
	var stages []string
	for i := range 8 {
		stages = append(stages, fmt.Sprintf("stage%02d", i))
	}
	f := newFaultFixture(t, stages, slow)
	f.reg.ResetCounters()
	var wg sync.WaitGroup
	results := make([]Result, len(stages))
	noSource := map[string]any{"checks": map[string]any{"sourceCommit": false}, "timeout": "60s"}
	for i, stage := range stages {
		wg.Go(func() {
			results[i] = f.runner.Run(context.Background(), KindVerify, f.context(stage), f.config(t, noSource), Options{})
		})
	}
	wg.Wait()
	for _, res := range results {
		wantStatus(t, res, kargo.StatusSucceeded, false)
	}
	if got := f.reg.ManifestRequests(); got != 1 {
		t.Errorf("%d manifest requests for 8 concurrent checks of one digest, want 1", got)
	}
}
