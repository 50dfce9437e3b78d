package faults

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func backend(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "hello from the backend")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func get(t *testing.T, ctx context.Context, url string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func TestStatusForNextNThenThrough(t *testing.T) {
	srv, hits := backend(t)
	p := New(t, srv.URL)
	p.Add(Rule{PathContains: "/v2/", Times: 2, Action: Status, Code: 429, RetryAfter: 2 * time.Second})
	for i := 0; i < 2; i++ {
		code, _, err := get(t, context.Background(), p.URL+"/v2/x")
		if err != nil || code != 429 {
			t.Fatalf("request %d: code %d err %v, want 429", i, code, err)
		}
	}
	code, body, err := get(t, context.Background(), p.URL+"/v2/x")
	if err != nil || code != 200 || body != "hello from the backend" {
		t.Fatalf("third request: %d %q %v", code, body, err)
	}
	if hits.Load() != 1 || p.Injected() != 2 || p.Requests() != 3 {
		t.Fatalf("backend hits %d injected %d requests %d, want 1, 2, 3", hits.Load(), p.Injected(), p.Requests())
	}
}

func TestResetAfterReachesBackendButLosesAnswer(t *testing.T) {
	srv, hits := backend(t)
	p := New(t, srv.URL)
	p.Add(Rule{Times: 1, Action: ResetAfter})
	if _, _, err := get(t, context.Background(), p.URL+"/push"); err == nil {
		t.Fatal("the answer was not lost")
	}
	if hits.Load() != 1 {
		t.Fatalf("backend hits %d, want 1: the request must land", hits.Load())
	}
}

func TestTruncateCutsTheBody(t *testing.T) {
	srv, _ := backend(t)
	p := New(t, srv.URL)
	p.Add(Rule{Action: Truncate, Bytes: 5})
	_, body, err := get(t, context.Background(), p.URL+"/x")
	if err == nil || body != "hello" {
		t.Fatalf("body %q err %v, want a short read of %q", body, err, "hello")
	}
}

func TestSkipThenStallUntilClientGivesUp(t *testing.T) {
	srv, hits := backend(t)
	p := New(t, srv.URL)
	p.Add(Rule{Skip: 1, Action: Stall})
	if code, _, err := get(t, context.Background(), p.URL+"/x"); err != nil || code != 200 {
		t.Fatalf("first request should pass: %d %v", code, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, _, err := get(t, ctx, p.URL+"/x"); err == nil {
		t.Fatal("a stalled request returned")
	}
	if hits.Load() != 1 {
		t.Fatalf("backend hits %d, want 1", hits.Load())
	}
}
