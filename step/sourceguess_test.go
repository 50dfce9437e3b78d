package step

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// heldBlobRequest holds the GitOps server's second upload-pack request (the
// record's blob) for a while, and notes when the source server's first
// request arrived and when the held request ended.
type heldBlobRequest struct {
	mu           sync.Mutex
	gitopsPacks  int
	sourcePacks  int
	sourceFirst  time.Time
	blobFinished time.Time
}

func (h *heldBlobRequest) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			next.ServeHTTP(w, r)
			return
		}
		h.mu.Lock()
		switch {
		case strings.Contains(r.URL.Path, "/source"):
			h.sourcePacks++
			if h.sourceFirst.IsZero() {
				h.sourceFirst = time.Now()
			}
			h.mu.Unlock()
			next.ServeHTTP(w, r)
			return
		case strings.Contains(r.URL.Path, "/gitops.git/"):
			h.gitopsPacks++
		}
		blob := h.gitopsPacks == 2
		h.mu.Unlock()
		if blob {
			time.Sleep(400 * time.Millisecond)
		}
		next.ServeHTTP(w, r)
		if blob {
			h.mu.Lock()
			h.blobFinished = time.Now()
			h.mu.Unlock()
		}
	})
}

// TestSourceCheckRunsWhileTheRecordIsRead: with packaging.sourceRepo and
// sourcePath in the config, the source check starts from the Freight's
// directory listing and runs while the record's blob is fetched, once.
func TestSourceCheckRunsWhileTheRecordIsRead(t *testing.T) {
	for _, kind := range []Kind{KindVerify, KindPromote} {
		t.Run(string(kind), func(t *testing.T) {
			held := &heldBlobRequest{}
			f := newFixture(t, fixtureOpt{gitMW: held.middleware})
			res := f.run(t, kind, "staging", map[string]any{"packaging": map[string]any{"sourceRepo": f.sourceURL, "sourcePath": "k8s/helm"}})
			wantStatus(t, res, kargo.StatusSucceeded, false)
			held.mu.Lock()
			defer held.mu.Unlock()
			if held.sourceFirst.IsZero() || held.blobFinished.IsZero() || !held.sourceFirst.Before(held.blobFinished) {
				t.Fatalf("source check at %v, record blob fetched by %v: want the source check while the blob was held",
					held.sourceFirst.Format(time.StampMicro), held.blobFinished.Format(time.StampMicro))
			}
			if held.sourcePacks != 1 {
				t.Fatalf("%d source upload-pack requests, want 1", held.sourcePacks)
			}
		})
	}
}

// TestSourceGuessOfAnotherURLIsCheckedAgain: the config's sourceRepo names
// the same repository as the record (after normalisation) but not the same
// URL; the early check used the config's URL, which this server does not
// serve, so the record's URL is checked afterwards and the promotion lands.
func TestSourceGuessOfAnotherURLIsCheckedAgain(t *testing.T) {
	held := &heldBlobRequest{}
	f := newFixture(t, fixtureOpt{gitMW: held.middleware})
	tip := f.tip(t)
	other := strings.TrimSuffix(f.sourceURL, ".git")
	res := f.run(t, KindPromote, "staging", map[string]any{"packaging": map[string]any{"sourceRepo": other, "sourcePath": "k8s/helm"}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if f.tip(t) == tip {
		t.Fatal("nothing pushed")
	}
	held.mu.Lock()
	defer held.mu.Unlock()
	if held.sourcePacks < 2 {
		t.Fatalf("%d source upload-pack requests, want the early one and the record's", held.sourcePacks)
	}
}

// TestSourceGuessFindingNoCommitFails: when the early check is about what
// the record names, its finding is the check's finding.
func TestSourceGuessFindingNoCommitFails(t *testing.T) {
	missing := strings.Repeat("cd", 20)
	f := newFixture(t, fixtureOpt{recordSource: missing})
	tip := f.tip(t)
	res := f.run(t, KindPromote, "staging", map[string]any{"packaging": map[string]any{"sourceRepo": f.sourceURL, "sourcePath": "k8s/helm"}})
	wantStatus(t, res, kargo.StatusFailed, true)
	if !errors.Is(res.Err, gitrepo.ErrCommitNotFound) || !strings.Contains(res.Message, "cdcdcdc") {
		t.Fatalf("error %v, message %q", res.Err, res.Message)
	}
	if f.tip(t) != tip {
		t.Fatal("pushed despite a missing source commit")
	}
	if n := f.git.Stats().Service(gittest.ServiceReceivePack).Requests; n != 0 {
		t.Fatalf("%d receive-pack requests", n)
	}
}
