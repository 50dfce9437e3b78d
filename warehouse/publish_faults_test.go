package warehouse_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/faults"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/logbuf"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// Twenty CI runs publish at once through a proxy that fails, resets and
// loses the answers of some pushes: every record lands once, history stays
// linear, current.yaml ends at the newest record, and the token is nowhere.
func TestPublishTwentyAtOnceThroughFaults(t *testing.T) {
	t.Parallel()
	const secret = "ci-t0ken-9f8e7d-do-not-leak"
	srv := gittest.New(t, gittest.WithBasicAuth("ci", secret))
	srv.CreateRepo(t, "gitops.git")
	bare := srv.Dir("gitops.git")
	start := gittest.CommitFiles(t, bare, "main", map[string]string{"README.md": "gitops\n"}, "init")
	proxy := faults.New(t, srv.URL)
	push := faults.Rule{Method: http.MethodPost, PathContains: "/git-receive-pack"}
	with := func(a faults.Action, times, skip int) faults.Rule {
		r := push
		r.Action, r.Times, r.Skip, r.Code = a, times, skip, http.StatusServiceUnavailable
		return r
	}
	proxy.Add(
		with(faults.Status, 3, 0),      // the first three pushes: 503
		with(faults.ResetBefore, 2, 5), // two pushes cut before the server
		with(faults.ResetAfter, 2, 9),  // two pushes land, their answers lost
	)

	const n = 20
	base := time.Date(2026, 3, 22, 10, 0, 0, 0, time.UTC)
	recs := make([]*warehouse.Record, n)
	for i := range recs {
		// Out of order: the newest record is not the last to start.
		recs[i] = record(t, i, base.Add(time.Duration((i*7)%n)*time.Minute))
	}
	newest := recs[0]
	for _, r := range recs {
		if r.CreatedAt.After(newest.CreatedAt) {
			newest = r
		}
	}
	logs := &logbuf.Buffer{}
	results := make([]warehouse.PublishResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, rec := range recs {
		wg.Go(func() {
			remote, err := gitrepo.Open(context.Background(), proxy.URL+"/gitops.git", gitrepo.Options{
				Auth:   &gitrepo.Auth{Username: "ci", Password: secret},
				Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				errs[i] = err
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
			defer cancel()
			results[i], errs[i] = warehouse.Publish(ctx, remote, rec, warehouse.PublishOptions{
				Dir: dir, Branch: "main", MaxAttempts: 3 * n, BaseDelay: 20 * time.Millisecond,
				Author: ciAuthor(),
			})
		})
	}
	wg.Wait()

	attempts := make([]int, n)
	for i, r := range results {
		attempts[i] = r.Attempts
	}
	t.Logf("attempts: %v", attempts)
	if got := proxy.Injected(); got != 7 {
		t.Fatalf("%d faults injected, want 7", got)
	}
	for i, err := range errs {
		if err != nil {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the token leaked into an error: %v", err)
			}
			t.Fatalf("publish %d: %v", i, err)
		}
		if results[i].Outcome == "" {
			t.Fatalf("publish %d: no outcome", i)
		}
	}
	git := func(args ...string) string { return gittest.Git(t, bare, args...) }
	if got := git("rev-list", "--count", start+"..main"); got != "20" {
		t.Fatalf("%s commits for 20 records, want one each", got)
	}
	if merges := git("rev-list", "--merges", "--count", "main"); merges != "0" {
		t.Fatalf("%s merge commits; history must stay linear", merges)
	}
	for _, rec := range recs {
		if got := git("show", "main:"+dir+"/"+warehouse.HistoricalName(rec.GitCommit)) + "\n"; got != string(rec.Render()) {
			t.Fatalf("record %s:\n%s\nwant:\n%s", rec.ReleaseID, got, rec.Render())
		}
		if got := git("log", "--format=%H", "main", "--", dir+"/"+warehouse.HistoricalName(rec.GitCommit)); strings.Count(got, "\n") != 0 {
			t.Fatalf("record %s was written by several commits:\n%s", rec.ReleaseID, got)
		}
	}
	if got := git("show", "main:"+dir+"/current.yaml") + "\n"; got != string(newest.Render()) {
		t.Fatalf("current.yaml holds:\n%s\nwant the newest record %s", got, newest.ReleaseID)
	}
	for where, text := range map[string]string{"logs": logs.String(), "commit messages": git("log", "--format=%B", "main")} {
		if strings.Contains(text, secret) {
			t.Fatalf("the token leaked into the %s", where)
		}
	}
}
