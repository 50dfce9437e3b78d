package ghchecks_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/ghchecks"
	"github.com/argo-refs/argo-refs/internal/githubtest"
)

const sha = "0cc4cd87f40ae606d1822d5652b552f8c50a4668"

// TestCommitReadsEveryPage: 250 statuses and 230 check runs come back
// whole, over pages of 100 (page= for statuses, the Link header for check
// runs), with the combined state GitHub computes.
func TestCommitReadsEveryPage(t *testing.T) {
	gh := githubtest.New(t)
	for i := range 250 {
		gh.SetStatus("org", "app", sha, fmt.Sprintf("ctx-%03d", i), "success", "")
	}
	for i := range 230 {
		gh.AddCheckRun("org", "app", sha, fmt.Sprintf("check-%03d", i), "completed", "success", "")
	}
	c := &ghchecks.Client{APIURL: gh.URL}
	rep, err := c.Commit(context.Background(), "org", "app", sha)
	if err != nil {
		t.Fatal(err)
	}
	if rep.State != "success" || len(rep.Statuses) != 250 || len(rep.CheckRuns) != 230 {
		t.Fatalf("state %s, %d statuses, %d check runs; want success, 250, 230", rep.State, len(rep.Statuses), len(rep.CheckRuns))
	}
	if n := gh.Requests(); n != 3+3 {
		t.Fatalf("%d requests, want 6 (3 pages of each)", n)
	}
	gh.SetStatus("org", "app", sha, "ctx-100", "pending", "")
	if rep, err = c.Commit(context.Background(), "org", "app", sha); err != nil || rep.State != "pending" {
		t.Fatalf("state %v, %v; want pending", rep, err)
	}
}

func TestCommitErrors(t *testing.T) {
	gh := githubtest.New(t)
	gh.AddCommit("org", "app", sha)
	gh.RequireToken("tok")
	c := &ghchecks.Client{APIURL: gh.URL, Token: "tok"}
	if _, err := c.Commit(context.Background(), "org", "app", strings.Repeat("1", 40)); !errors.Is(err, ghchecks.ErrNotFound) {
		t.Errorf("unknown commit: %v", err)
	}
	if _, err := (&ghchecks.Client{APIURL: gh.URL, Token: "nope"}).Commit(context.Background(), "org", "app", sha); !errors.Is(err, ghchecks.ErrUnauthorized) || strings.Contains(err.Error(), "nope") {
		t.Errorf("bad token: %v", err)
	}
	reset := time.Now().Add(time.Hour).Truncate(time.Second)
	gh.RateLimit(1, reset, false)
	var rl *ghchecks.RateLimitError
	if _, err := c.Commit(context.Background(), "org", "app", sha); !errors.As(err, &rl) || !rl.Until.Equal(reset) {
		t.Errorf("primary rate limit: %v", err)
	}
	gh.RateLimit(1, time.Time{}, true)
	if _, err := c.Commit(context.Background(), "org", "app", sha); !errors.Is(err, ghchecks.ErrRateLimited) {
		t.Errorf("secondary rate limit: %v", err)
	}
}

// TestCommitRefusesHostileAnswers: an answer over the size limit, and a
// next page on another origin (which would get the token), are refused.
func TestCommitRefusesHostileAnswers(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the client followed a link to another origin: %s (Authorization %q)", r.URL, r.Header.Get("Authorization"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/status") && strings.Contains(r.URL.Path, "/big/"):
			fmt.Fprintf(w, `{"state":"success","total_count":1,"statuses":[{"context":"%s"}]}`, strings.Repeat("x", 5<<20))
		case strings.HasSuffix(r.URL.Path, "/status"):
			fmt.Fprint(w, `{"state":"success","total_count":0,"statuses":[]}`)
		default:
			w.Header().Set("Link", `<`+other.URL+`/steal?page=2>; rel="next"`)
			fmt.Fprint(w, `{"total_count":200,"check_runs":[]}`)
		}
	}))
	defer srv.Close()
	c := &ghchecks.Client{APIURL: srv.URL, Token: "tok"}
	if _, err := c.Commit(context.Background(), "org", "big", sha); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized answer: %v", err)
	}
	if _, err := c.Commit(context.Background(), "org", "app", sha); err == nil || !strings.Contains(err.Error(), "another origin") {
		t.Errorf("next page elsewhere: %v", err)
	}
}

func TestRepoFromURL(t *testing.T) {
	for _, tc := range []struct{ url, host, owner, repo string }{
		{"https://github.com/code-dot-org/code-dot-org.git", "github.com", "code-dot-org", "code-dot-org"},
		{"https://GitHub.com/org/app", "github.com", "org", "app"},
		{"https://ghe.example.com/org/app.git/", "ghe.example.com", "org", "app"},
	} {
		o, r, err := ghchecks.RepoFromURL(tc.url, tc.host)
		if err != nil || o != tc.owner || r != tc.repo {
			t.Errorf("RepoFromURL(%q) = %q, %q, %v", tc.url, o, r, err)
		}
	}
	for _, bad := range []string{"https://gitlab.com/org/app.git", "https://github.com/org", "https://github.com/org/app/extra"} {
		if _, _, err := ghchecks.RepoFromURL(bad, "github.com"); err == nil {
			t.Errorf("RepoFromURL(%q) accepted", bad)
		}
	}
}
