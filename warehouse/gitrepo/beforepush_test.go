package gitrepo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// TestUpdateBeforePushGatesThePush: BeforePush runs after the commit is
// built; its error stops Update with nothing pushed, and its nil lets the
// push through.
func TestUpdateBeforePushGatesThePush(t *testing.T) {
	srv := gittest.New(t)
	url := srv.CreateRepo(t, "gitops.git")
	bare := srv.Dir("gitops.git")
	tip := gittest.CommitFiles(t, bare, "main", map[string]string{"deploy.yaml": "targetRevision: old\n"}, "init")
	edit := func(ctx context.Context, s gitrepo.Snapshot) (*gitrepo.Edit, error) {
		return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "deploy.yaml", Data: []byte("targetRevision: new\n")}},
			Message: "move", Author: gitrepo.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1774174300, 0)}}, nil
	}
	refused := errors.New("registry says no")
	for _, tc := range []struct {
		name    string
		gate    error
		want    error
		changed bool
	}{
		{"refused", refused, refused, false},
		{"allowed", nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := gitrepo.Open(context.Background(), url, gitrepo.Options{})
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			res, err := r.Update(context.Background(), "main", gitrepo.UpdateOptions{BeforePush: func(context.Context) error {
				calls++
				return tc.gate
			}}, edit)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Update: %v, want %v", err, tc.want)
			}
			if calls != 1 || res.Changed != tc.changed {
				t.Fatalf("BeforePush called %d times, result %+v", calls, res)
			}
			got := gittest.Git(t, bare, "rev-parse", "main")
			if moved := got != tip; moved != tc.changed {
				t.Fatalf("server tip %s (was %s), want moved=%v", got, tip, tc.changed)
			}
		})
	}
}
