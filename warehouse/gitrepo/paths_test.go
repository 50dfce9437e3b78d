package gitrepo_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// monorepo commits a tree of dirs×files small files (a monorepo's shape:
// many directories, each read by nobody here) beside the paths a promotion
// reads and writes, and returns the tip.
func monorepo(t *testing.T, srv *gittest.Server, name string, dirs, files int) (url, tip string) {
	t.Helper()
	url = srv.CreateRepo(t, name)
	entries := []gittest.Entry{
		{Path: "apps/codeai/deployments/staging/deployment.yaml", Data: "targetRevision: a\n"},
		{Path: "apps/codeai/deployments/staging/values.yaml", Data: "image: a\n"},
		{Path: "warehouses/codeai/builds/current.yaml", Data: "gitCommit: a\n"},
	}
	for d := 0; d < dirs; d++ {
		for f := 0; f < files; f++ {
			entries = append(entries, gittest.Entry{Path: fmt.Sprintf("apps/mono/svc-%03d/mod-%02d/res-%d.yaml", d/10, d%10, f), Data: fmt.Sprintf("name: %d-%d\n", d, f)})
		}
	}
	tip = gittest.CommitEntries(t, srv.Dir(name), "main", "monorepo", entries...)
	return url, tip
}

// TestTreesByPathFetchOnlyThePathsTrees: in path mode a promotion's reads
// and its commit fetch the trees on its paths only, one request per tree
// level beyond what the commit request brings, and the push lands on a
// strict server (fsck, every pack kept) and on one that allows tree:0
// only, as GitHub does.
func TestTreesByPathFetchOnlyThePathsTrees(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []gittest.Option
		requests int // upload-pack requests for the reads
	}{
		// The commit with two tree levels; apps/codeai, then
		// deployments and warehouses/codeai/builds' parent, staging and
		// builds; the blobs.
		{"depth filters allowed", nil, 5},
		// The commit with two levels, refused (a first contact: the
		// ServerNotes of a process remember it), then the commit alone;
		// the root; apps and warehouses; their codeai; deployments and
		// builds; staging; the blobs.
		{"tree:0 only", []gittest.Option{gittest.WithTreeZeroOnly()}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := gittest.New(t, tc.opts...)
			url, tip := monorepo(t, srv, "gitops.git", 400, 5)
			whole := open(t, url, gitrepo.Options{TreeFetch: gitrepo.TreesWhole})
			srv.ResetStats()
			if _, err := whole.ReadFiles(context.Background(), plumbing.NewHash(tip), "apps/codeai/deployments/staging/deployment.yaml"); err != nil {
				t.Fatal(err)
			}
			wholeBytes := srv.Stats().BytesSent

			r := open(t, url, gitrepo.Options{TreeFetch: gitrepo.TreesPaths})
			ctx := context.Background()
			head, err := r.Tip(ctx, "main")
			if err != nil {
				t.Fatal(err)
			}
			srv.ResetStats()
			res, err := r.Update(ctx, "main", gitrepo.UpdateOptions{}, func(ctx context.Context, snap gitrepo.Snapshot) (*gitrepo.Edit, error) {
				files, err := snap.ReadFiles(ctx, "apps/codeai/deployments/staging/deployment.yaml", "apps/codeai/deployments/staging/values.yaml",
					"warehouses/codeai/builds/current.yaml", "apps/codeai/deployments/staging/missing.yaml")
				if err != nil {
					return nil, err
				}
				if string(files["apps/codeai/deployments/staging/values.yaml"].Data) != "image: a\n" || files["apps/codeai/deployments/staging/missing.yaml"].Exists {
					return nil, fmt.Errorf("read %v", files)
				}
				return &gitrepo.Edit{Message: "promote", Author: author, Changes: []gitrepo.Change{
					{Path: "apps/codeai/deployments/staging/deployment.yaml", Data: []byte("targetRevision: b\n")},
					{Path: "apps/codeai/deployments/staging/new/extra.yaml", Data: []byte("x: 1\n")},
				}}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Changed || head.String() != tip {
				t.Fatalf("changed %v", res.Changed)
			}
			st := srv.Stats()
			if up := st.Service(gittest.ServiceUploadPack).Requests; up != tc.requests {
				t.Errorf("%d upload-pack requests, want %d", up, tc.requests)
			}
			if st.BytesSent*10 > wholeBytes {
				t.Errorf("path mode read %d bytes, the whole trees %d: want under a tenth", st.BytesSent, wholeBytes)
			}
			got := gittest.Git(t, srv.Dir("gitops.git"), "show", "main:apps/codeai/deployments/staging/deployment.yaml")
			if got != "targetRevision: b" {
				t.Errorf("pushed deployment.yaml = %q", got)
			}
			if n := gittest.Git(t, srv.Dir("gitops.git"), "ls-tree", "-r", "--name-only", "main"); strings.Count(n, "\n")+1 != 2000+4 {
				t.Errorf("the pushed tree has %d files, want 2004 (every unread file kept)", strings.Count(n, "\n")+1)
			}
			if out := gittest.Git(t, srv.Dir("gitops.git"), "fsck", "--strict"); strings.Contains(out, "error") {
				t.Errorf("fsck: %s", out)
			}
		})
	}
}

// TestTreesAutoLearnsLargeRepositories: in TreesAuto a Remote fetches
// whole trees until one fetch of this repository brings more than
// LargeTreeBytes; later Remotes sharing the ServerNotes fetch by path.
func TestTreesAutoLearnsLargeRepositories(t *testing.T) {
	srv := gittest.New(t)
	url, tip := monorepo(t, srv, "gitops.git", 1000, 5)
	notes := gitrepo.NewServerNotes()
	read := func() int64 {
		r := open(t, url, gitrepo.Options{ServerNotes: notes, LargeTreeBytes: 64 << 10})
		srv.ResetStats()
		if _, err := r.ReadFiles(context.Background(), plumbing.NewHash(tip), "apps/codeai/deployments/staging/deployment.yaml"); err != nil {
			t.Fatal(err)
		}
		return srv.Stats().BytesSent
	}
	first, second := read(), read()
	if first < 64<<10 || second*20 > first {
		t.Fatalf("first read %d bytes (whole trees), second %d: want the second under a twentieth", first, second)
	}
}

// TestTreesAutoStopsAWholeFetchAtTheLimit: in TreesAuto, without
// ServerNotes, a whole-tree answer larger than LargeTreeBytes is dropped
// once that much has been read, and the same read completes by path: the
// client receives little more than the limit, not the whole trees.
func TestTreesAutoStopsAWholeFetchAtTheLimit(t *testing.T) {
	srv := gittest.New(t)
	url, tip := monorepo(t, srv, "gitops.git", 1000, 5)
	whole := open(t, url, gitrepo.Options{TreeFetch: gitrepo.TreesWhole})
	ctx := context.Background()
	if err := whole.Fetch(ctx, plumbing.NewHash(tip)); err != nil {
		t.Fatal(err)
	}
	wholeBytes := whole.Stats().BytesReceived

	const limit, slack = 16 << 10, 64 << 10
	r := open(t, url, gitrepo.Options{LargeTreeBytes: limit})
	files, err := r.ReadFiles(ctx, plumbing.NewHash(tip), "apps/codeai/deployments/staging/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(files["apps/codeai/deployments/staging/values.yaml"].Data); got != "image: a\n" {
		t.Fatalf("values.yaml = %q", got)
	}
	got := r.Stats().BytesReceived
	if wholeBytes < 2*(limit+slack) {
		t.Fatalf("the whole trees are %d bytes: too few for this test (limit %d)", wholeBytes, limit)
	}
	// The dropped answer was read in chunks: allow some past the limit.
	if got > limit+slack {
		t.Errorf("auto received %d bytes; the whole trees are %d, the limit %d", got, wholeBytes, limit)
	}
	// The same Remote now reads by path without trying whole trees again.
	before := r.Stats()
	if _, err := r.ReadFiles(ctx, plumbing.NewHash(tip), "warehouses/codeai/builds/current.yaml"); err != nil {
		t.Fatal(err)
	}
	if after := r.Stats(); after.BytesReceived-before.BytesReceived > 8<<10 {
		t.Errorf("the second read received %d bytes", after.BytesReceived-before.BytesReceived)
	}
}
