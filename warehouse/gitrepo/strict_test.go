package gitrepo_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// TestPushSendsEachObjectOnce: two paths given the same bytes are one blob.
// The strict server (receive.unpackLimit=1, fsck) refuses a pack that holds
// it twice ("The same object … appears twice in the pack"), and the
// repository must pass git fsck --strict and verify-pack afterwards.
func TestPushSendsEachObjectOnce(t *testing.T) {
	f := newFixture(t, 0)
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	if err := r.Fetch(ctx, h(f.tip)); err != nil {
		t.Fatal(err)
	}
	same := []byte("schemaVersion: v1\n")
	c, err := r.Commit(h(f.tip), gitrepo.Edit{Changes: []gitrepo.Change{
		{Path: "warehouses/a/builds/git-1.yaml", Data: same},
		{Path: "warehouses/a/builds/current.yaml", Data: same},
		{Path: "apps/c/values.yaml", Data: same},
	}, Message: "same bytes three times", Author: author})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, "main", h(f.tip), c); err != nil {
		t.Fatalf("push of one blob at three paths: %v", err)
	}
	// A second commit on top that builds the same blob again, plus an
	// earlier commit's objects still pending, also goes through.
	c2, err := r.Commit(c, gitrepo.Edit{Changes: []gitrepo.Change{{Path: "apps/d/values.yaml", Data: same}, {Path: "apps/e/values.yaml", Data: []byte("x\n")}}, Message: "again", Author: author})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, "main", c, c2); err != nil {
		t.Fatalf("second push: %v", err)
	}
	if got := gittest.Git(t, f.dir, "cat-file", "-p", "main:apps/d/values.yaml"); got+"\n" != string(same) {
		t.Errorf("server has %q", got)
	}
}

// TestPushRefusedByTheServerIsFinal: a refusal that a retry cannot change
// (here index-pack refusing a pack over receive.maxInputSize) wraps
// ErrPushRefused, not ErrStale or ErrPushOutcomeUnknown, carries the
// server's own words, and Update does not retry it.
func TestPushRefusedByTheServerIsFinal(t *testing.T) {
	f := newFixture(t, 0)
	gittest.Git(t, f.dir, "config", "receive.maxInputSize", "16")
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	var attempts int
	_, err := r.Update(ctx, "main", gitrepo.UpdateOptions{}, func(_ context.Context, tip gitrepo.Snapshot) (*gitrepo.Edit, error) {
		attempts++
		return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "y", Data: []byte("y")}}, Message: "m", Author: author}, nil
	})
	if !errors.Is(err, gitrepo.ErrPushRefused) || !errors.Is(err, gitrepo.ErrPushRejected) {
		t.Fatalf("Update err = %v, want ErrPushRefused", err)
	}
	if errors.Is(err, gitrepo.ErrStale) || errors.Is(err, gitrepo.ErrPushOutcomeUnknown) {
		t.Errorf("err = %v: a refusal is neither a race nor an unknown outcome", err)
	}
	if !strings.Contains(err.Error(), "could not unpack") || !strings.Contains(err.Error(), "maximum allowed size") {
		t.Errorf("err = %v, want the unpack status and the server's own words", err)
	}
	if attempts != 1 {
		t.Errorf("%d attempts; a definite refusal must not be retried", attempts)
	}
	if got := gittest.Git(t, f.dir, "rev-parse", "main"); got != f.tip {
		t.Errorf("main moved to %s", got)
	}
}

// TestPushDeclinedByAHookIsRetryable: a hook's verdict (a freeze window, a
// branch rule) may change, so it is a plain ErrPushRejected, with the
// hook's words.
func TestPushDeclinedByAHookIsRetryable(t *testing.T) {
	f := newFixture(t, 0)
	hook := filepath.Join(f.dir, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'GH006: Protected branch update failed for refs/heads/main.' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	if err := r.Fetch(ctx, h(f.tip)); err != nil {
		t.Fatal(err)
	}
	c, err := r.Commit(h(f.tip), gitrepo.Edit{Changes: []gitrepo.Change{{Path: "x", Data: []byte("x")}}, Message: "m", Author: author})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Push(ctx, "main", h(f.tip), c)
	if !errors.Is(err, gitrepo.ErrPushRejected) || errors.Is(err, gitrepo.ErrPushRefused) || errors.Is(err, gitrepo.ErrStale) {
		t.Fatalf("Push err = %v, want ErrPushRejected only", err)
	}
	if !strings.Contains(err.Error(), "GH006: Protected branch update failed") {
		t.Errorf("Push err = %v, want the hook's own words", err)
	}
}
