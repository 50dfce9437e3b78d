package gitrepo_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/argo-refs/argo-refs/internal/gitserver"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// matrixServer is one kind of Git host the Git layer must work with. Each
// starts a server with an empty bare repository gitops.git that the git CLI
// can write to directly, and returns its URL and directory.
type matrixServer struct {
	name  string
	start func(t *testing.T) (url, dir string)
	// shaWants is false when the host refuses to send a commit that is not
	// a branch tip (uploadpack.allowReachableSHA1InWant=false).
	shaWants bool
}

func httpBackend(opts ...gittest.Option) func(t *testing.T) (string, string) {
	return func(t *testing.T) (string, string) {
		srv := gittest.New(t, opts...)
		return srv.CreateRepo(t, "gitops.git"), srv.Dir("gitops.git")
	}
}

// goGitServer serves a bare repository on disk through go-git's own server
// (no shallow, no filter, and it refuses capabilities it does not know).
func goGitServer(t *testing.T) (string, string) {
	// The git http-backend server only creates the directory (with its
	// strict config and the fsck at the end); go-git serves it.
	dir := httpBackendDir(t)
	srv := gitserver.New()
	srv.Add("/gitops.git", filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault()))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL + "/gitops.git", dir
}

func httpBackendDir(t *testing.T) string {
	srv := gittest.New(t)
	srv.CreateRepo(t, "gitops.git")
	return srv.Dir("gitops.git")
}

// servers is the matrix: git http-backend as strict hosts run it
// (CreateRepo's receive.fsckObjects, transfer.fsckObjects,
// receive.unpackLimit=1), speaking protocol v0 to us (go-git speaks v0/v1
// only and asks for neither, so every host answers it v0; the git CLI's
// protocol v2 clone of the same repository is checked at the end); without
// partial fetches; with only tree:0 (GitHub); without fetches of objects by
// ID; and go-git's own server.
var servers = []matrixServer{
	{"http-backend v0 strict", httpBackend(), true},
	{"http-backend without filter", httpBackend(gittest.WithoutFilter()), true},
	{"http-backend tree:0 only", httpBackend(gittest.WithTreeZeroOnly()), true},
	// Over smart HTTP git's upload-pack runs stateless and sends any commit
	// reachable from a ref whatever allowReachableSHA1InWant says
	// (upload-pack.c, check_non_tip); what it then refuses is a commit no
	// ref reaches, e.g. one a force-push left behind.
	{"http-backend without SHA-1 wants", httpBackend(
		gittest.WithConfig("uploadpack.allowReachableSHA1InWant", "false"),
		gittest.WithConfig("uploadpack.allowAnySHA1InWant", "false"),
		gittest.WithConfig("uploadpack.allowTipSHA1InWant", "false")), false},
	{"go-git server", goGitServer, true},
}

// TestServerMatrix runs what a promotion does on each kind of host: fetch
// the branch tip and an older commit (the Freight), read files at both,
// list a directory, commit and push, lose a push race and win the retry,
// and probe a source path. The git CLI then reads the result, over
// protocol v2 too, and the repository passes git fsck --strict and
// verify-pack (CreateRepo's check at the end of the test).
func TestServerMatrix(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url, dir := s.start(t)
			prev := gittest.CommitEntries(t, dir, "main", "first",
				gittest.Entry{Path: "apps/a/values.yaml", Data: "image: a:1\n"},
				gittest.Entry{Path: "k8s/helm/Chart.yaml", Data: "name: x\n"})
			tip := gittest.CommitFiles(t, dir, "main", map[string]string{"apps/a/values.yaml": "image: a:2\n"}, "second")

			// A commit that no ref reaches any more (a force-push moved the
			// branch past it), as a stale Freight can name.
			gone := gittest.CommitFiles(t, dir, "main", map[string]string{"apps/a/values.yaml": "image: gone\n"}, "force-pushed away")
			gittest.Git(t, dir, "update-ref", "refs/heads/main", tip)

			r := open(t, url, gitrepo.Options{})
			if err := r.Fetch(ctx, h(tip), h(prev)); err != nil {
				t.Fatalf("Fetch of the tip and an older commit: %v", err)
			}
			err := open(t, url, gitrepo.Options{}).Fetch(ctx, h(tip), h(gone))
			if s.shaWants && err != nil {
				t.Errorf("Fetch of an unreachable commit from a host that allows any SHA-1: %v", err)
			}
			if !s.shaWants && (!errors.Is(err, gitrepo.ErrCommitNotFound) || !strings.Contains(err.Error(), "no branch or tag") || !strings.Contains(err.Error(), "uploadpack.allowAnySHA1InWant")) {
				t.Errorf("Fetch of an unreachable commit: %v; want ErrCommitNotFound saying no branch or tag reaches it and which setting allows it", err)
			}
			for commit, want := range map[string]string{prev: "image: a:1\n", tip: "image: a:2\n"} {
				files, err := r.ReadFiles(ctx, h(commit), "apps/a/values.yaml")
				if err != nil || string(files["apps/a/values.yaml"].Data) != want {
					t.Fatalf("ReadFiles at %.7s: %q, %v; want %q", commit, files["apps/a/values.yaml"].Data, err, want)
				}
			}
			if entries, err := r.ListDir(ctx, h(tip), "apps/a"); err != nil || len(entries) != 1 {
				t.Fatalf("ListDir: %v, %v", entries, err)
			}

			raced := false
			res, err := r.Update(ctx, "main", gitrepo.UpdateOptions{BaseDelay: 1}, func(ctx context.Context, snap gitrepo.Snapshot) (*gitrepo.Edit, error) {
				if !raced {
					raced = true // another writer lands first
					gittest.CommitFiles(t, dir, "main", map[string]string{"apps/b/values.yaml": "image: b:1\n"}, "someone else")
				}
				files, err := snap.ReadFiles(ctx, "apps/a/values.yaml")
				if err != nil {
					return nil, err
				}
				same := files["apps/a/values.yaml"].Data
				return &gitrepo.Edit{Changes: []gitrepo.Change{
					{Path: "apps/a/values.yaml", Data: []byte("image: a:3\n")},
					{Path: "warehouses/a/current.yaml", Data: same}, // an existing blob again
					{Path: "warehouses/a/git-1.yaml", Data: same},
				}, Message: "promote", Author: author}, nil
			})
			if err != nil || !res.Changed || res.Attempts != 2 {
				t.Fatalf("Update: %+v, %v; want a change landed on the second attempt", res, err)
			}
			if got := gittest.Git(t, dir, "rev-parse", "main"); got != res.Commit.String() {
				t.Fatalf("main is %s, Update pushed %s", got, res.Commit)
			}
			if got := gittest.Git(t, dir, "show", "main:apps/b/values.yaml"); got != "image: b:1" {
				t.Errorf("the other writer's commit was lost: %q", got)
			}

			if _, err := gitrepo.ProbePath(ctx, url, h(prev), "k8s/helm", gitrepo.Options{}); err != nil {
				t.Errorf("ProbePath k8s/helm: %v", err)
			}
			if _, err := gitrepo.ProbePath(ctx, url, h(prev), "k8s/kustomize", gitrepo.Options{}); !errors.Is(err, gitrepo.ErrPathNotFound) {
				t.Errorf("ProbePath of a missing path: %v, want ErrPathNotFound", err)
			}

			// The git CLI reads what we pushed, over protocol v2 as well.
			clone := t.TempDir()
			gittest.Git(t, "", "-c", "protocol.version=2", "clone", "--quiet", "--bare", url, clone)
			if got := gittest.Git(t, clone, "show", "main:apps/a/values.yaml"); got != "image: a:3" {
				t.Errorf("a protocol v2 clone reads %q", got)
			}
		})
	}
}
