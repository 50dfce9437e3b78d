package gitrepo_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// uploadPackBodies records the bodies of the upload-pack requests a
// server receives.
type uploadPackBodies struct {
	mu     sync.Mutex
	bodies []string
}

func (u *uploadPackBodies) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/git-upload-pack") {
			b, _ := io.ReadAll(req.Body)
			u.mu.Lock()
			u.bodies = append(u.bodies, string(b))
			u.mu.Unlock()
			req.Body = io.NopCloser(bytes.NewReader(b))
		}
		next.ServeHTTP(w, req)
	})
}

func (u *uploadPackBodies) reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.bodies = nil
}

func (u *uploadPackBodies) all() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.bodies...)
}

// TestObjectsByIDAreAnchored: the requests for trees and blobs by ID also
// name the commit being read at depth 1 with filter tree:0 (git's
// upload-pack then packs without loading its reachability bitmap; see
// fetchAlone), except the request for a commit's own root tree, which
// git would not send beside its commit under tree:0. The reads are right
// on a host that allows depth filters and on a tree:0-only one.
func TestObjectsByIDAreAnchored(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       []gittest.Option
		unanchored int // requests by ID that cannot be anchored
	}{
		{"depth filters allowed", nil, 0},
		// The root tree, fetched alone after the commit.
		{"tree:0 only", []gittest.Option{gittest.WithTreeZeroOnly()}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec uploadPackBodies
			srv := gittest.New(t, append(tc.opts, gittest.WithMiddleware(rec.middleware))...)
			url, tip := monorepo(t, srv, "gitops.git", 40, 2)
			r := open(t, url, gitrepo.Options{TreeFetch: gitrepo.TreesPaths})
			ctx := context.Background()
			commit := plumbing.NewHash(tip)
			if err := r.Fetch(ctx, commit); err != nil {
				t.Fatal(err)
			}
			rec.reset()
			files, err := r.ReadFiles(ctx, commit, "apps/codeai/deployments/staging/values.yaml", "warehouses/codeai/builds/current.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if got := string(files["apps/codeai/deployments/staging/values.yaml"].Data); got != "image: a\n" {
				t.Fatalf("values.yaml = %q", got)
			}
			if got := string(files["warehouses/codeai/builds/current.yaml"].Data); got != "gitCommit: a\n" {
				t.Fatalf("current.yaml = %q", got)
			}
			bodies := rec.all()
			if len(bodies) < 3 {
				t.Fatalf("%d upload-pack requests for the trees and blobs; want at least 3", len(bodies))
			}
			unanchored := 0
			for i, b := range bodies {
				anchored := strings.Contains(b, "want "+tip) && strings.Contains(b, "deepen 1") && strings.Contains(b, "filter tree:0")
				if !anchored {
					unanchored++
					if strings.Contains(b, "deepen") {
						t.Errorf("request %d deepens without naming the commit: %q", i, b)
					}
				}
			}
			if unanchored != tc.unanchored {
				t.Errorf("%d of %d requests by ID are not anchored, want %d:\n%s", unanchored, len(bodies), tc.unanchored, strings.Join(bodies, "\n---\n"))
			}
		})
	}
}
