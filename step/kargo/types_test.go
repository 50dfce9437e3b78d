package kargo

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// criteria mirrors Kargo's health.Criteria (pkg/health/criteria.go): two
// fields without JSON tags, so encoding/json matches the keys "Kind" and
// "Input" case-insensitively.
type criteria struct {
	Kind  string
	Input map[string]any
}

// wireResponse mirrors kargo-extended's executor.StepExecuteResponse
// (extended/pkg/stepplugin/executor/wiretypes.go). RetryAfter there is a
// *metav1.Duration, which decodes a string with time.ParseDuration.
type wireResponse struct {
	Status      string         `json:"status"`
	Message     string         `json:"message,omitempty"`
	Output      map[string]any `json:"output,omitempty"`
	HealthCheck *criteria      `json:"healthCheck,omitempty"`
	RetryAfter  *string        `json:"retryAfter,omitempty"`
	Error       string         `json:"error,omitempty"`
	Terminal    bool           `json:"terminal,omitempty"`
}

func TestStepResponseWire(t *testing.T) {
	resp := StepResponse{
		Status:      StatusRunning,
		Message:     "still verifying",
		Output:      map[string]any{"releaseId": "git-0123"},
		HealthCheck: &HealthCheck{Kind: "argocd-update", Input: map[string]any{"apps": []any{"codeai-staging"}}},
		RetryAfter:  "5s",
		Error:       "not finished",
		Terminal:    true,
	}
	got, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "response.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.TrimSpace(want)) {
		t.Errorf("wire response:\n got %s\nwant %s", got, bytes.TrimSpace(want))
	}

	var k wireResponse
	if err := json.Unmarshal(got, &k); err != nil {
		t.Fatal(err)
	}
	if k.HealthCheck == nil || k.HealthCheck.Kind != "argocd-update" || k.HealthCheck.Input["apps"] == nil {
		t.Errorf("Kargo's health.Criteria decoded %+v from %s; the kind or input was lost", k.HealthCheck, got)
	}
	if k.RetryAfter == nil {
		t.Fatal("retryAfter lost")
	}
	if d, err := time.ParseDuration(*k.RetryAfter); err != nil || d != 5*time.Second {
		t.Errorf("retryAfter %q: %v, %v; want 5s", *k.RetryAfter, d, err)
	}
}
