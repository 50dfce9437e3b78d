package gitrepo_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

func TestProbePathOnALargeRepo(t *testing.T) {
	srv := gittest.New(t)
	url := srv.CreateRepo(t, "source.git")
	dir := srv.Dir("source.git")
	entries := append(randomEntries(20<<20, 40, 7),
		gittest.Entry{Path: "k8s/helm/Chart.yaml", Data: "name: app\n"},
		gittest.Entry{Path: "k8s/kustomize/base/kustomization.yaml", Data: "resources: []\n"},
		gittest.Entry{Path: "k8s/link", Data: "/etc", Mode: gittest.ModeSymlink},
	)
	commit := gittest.CommitEntries(t, dir, "main", "source", entries...)
	// Another commit on top, so the probed commit is not the tip.
	gittest.CommitFiles(t, dir, "main", map[string]string{"later.txt": "later\n"}, "later")
	if size := gittest.Git(t, dir, "count-objects", "-v"); size == "" {
		t.Fatal("count-objects printed nothing")
	}

	ctx := context.Background()
	for _, tc := range []struct {
		path     string
		requests int
	}{
		// One request brings the commit and two levels of trees; each
		// deeper level is one more. No advertisement is read.
		{"k8s/helm", 1},
		{"k8s/kustomize/base/", 2},
		{"k8s/helm/Chart.yaml", 2},
		{"noise/d07/sub", 2},
		{"", 1},
		{".", 1},
	} {
		t.Run(tc.path, func(t *testing.T) {
			srv.ResetStats()
			st, err := gitrepo.ProbePath(ctx, url, h(commit), tc.path, gitrepo.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%q: %+v", tc.path, st)
			if st.BytesReceived > 100<<10 {
				t.Errorf("received %d bytes, budget is 100 KB", st.BytesReceived)
			}
			if st.Requests != tc.requests {
				t.Errorf("%d requests, want %d", st.Requests, tc.requests)
			}
			if n := srv.Stats().Service(gittest.ServiceInfoRefs).Requests; n != 0 {
				t.Errorf("%d advertisements read, want none", n)
			}
			if sent := srv.Stats().BytesSent; sent != st.BytesReceived || srv.Stats().Requests != st.Requests {
				t.Errorf("server saw %+v, client %+v", srv.Stats(), st)
			}
		})
	}
	for _, tc := range []struct {
		name, path string
		commit     string
		want       error
	}{
		{"missing dir", "k8s/nope", commit, gitrepo.ErrPathNotFound},
		{"missing deep", "k8s/helm/templates/x", commit, gitrepo.ErrPathNotFound},
		{"under a file", "k8s/helm/Chart.yaml/x", commit, gitrepo.ErrPathNotFound},
		{"later file", "later.txt", commit, gitrepo.ErrPathNotFound},
		{"symlink", "k8s/link/passwd", commit, gitrepo.ErrPathOutsideRepo},
		{"dotdot", "k8s/../..", commit, gitrepo.ErrPathOutsideRepo},
		{"absolute", "/etc", commit, gitrepo.ErrPathOutsideRepo},
		{"missing commit", "k8s/helm", "0123456789abcdef0123456789abcdef01234567", gitrepo.ErrCommitNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := gitrepo.ProbePath(ctx, url, h(tc.commit), tc.path, gitrepo.Options{})
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if st.BytesReceived > 100<<10 {
				t.Errorf("received %d bytes", st.BytesReceived)
			}
		})
	}
}

// TestProbePathWithoutFilterFallsBack: a server that refuses filters still
// gets a correct answer (the whole commit comes down, and a warning says so).
func TestProbePathWithoutFilterFallsBack(t *testing.T) {
	srv := gittest.New(t, gittest.WithoutFilter())
	url := srv.CreateRepo(t, "source.git")
	commit := gittest.CommitFiles(t, srv.Dir("source.git"), "main", map[string]string{"k8s/helm/Chart.yaml": "x"}, "c")
	var logs bytes.Buffer
	opts := gitrepo.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if _, err := gitrepo.ProbePath(context.Background(), url, h(commit), "k8s/helm", opts); err != nil {
		t.Fatalf("probe without filter: %v", err)
	}
	if !strings.Contains(logs.String(), "does not support filters") {
		t.Errorf("no warning that the whole commit was downloaded; logs:\n%s", logs.String())
	}
	if _, err := gitrepo.ProbePath(context.Background(), url, h(commit), "k8s/nope", opts); !errors.Is(err, gitrepo.ErrPathNotFound) {
		t.Errorf("missing path without filter: %v, want ErrPathNotFound", err)
	}
}

// TestProbePathWhereOnlyTreeZeroIsAllowed: on a server that allows filter
// tree:0 only, as GitHub does, the probe walks the trees by ID, and later
// probes of the same host with the same ServerNotes do so at once; without
// notes, each probe is refused first.
func TestProbePathWhereOnlyTreeZeroIsAllowed(t *testing.T) {
	srv := gittest.New(t, gittest.WithTreeZeroOnly())
	url := srv.CreateRepo(t, "source.git")
	dir := srv.Dir("source.git")
	commit := gittest.CommitFiles(t, dir, "main", map[string]string{
		"k8s/helm/Chart.yaml": "name: app\n",
		"README.md":           "readme\n",
	}, "source")
	ctx := context.Background()
	notes := gitrepo.NewServerNotes()
	for i, tc := range []struct {
		notes *gitrepo.ServerNotes
		want  int
	}{
		{notes, 4}, // refused + commit + root + k8s
		{notes, 3}, // without the refusal
		{nil, 4},
		{nil, 4},
		{gitrepo.NewServerNotes(), 4},
		{notes, 3},
	} {
		want := tc.want
		srv.ResetStats()
		st, err := gitrepo.ProbePath(ctx, url, h(commit), "k8s/helm", gitrepo.Options{ServerNotes: tc.notes})
		if err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		if st.Requests != want {
			t.Errorf("probe %d: %d requests, want %d", i, st.Requests, want)
		}
	}
	if _, err := gitrepo.ProbePath(ctx, url, h(commit), "k8s/nope", gitrepo.Options{}); !errors.Is(err, gitrepo.ErrPathNotFound) {
		t.Errorf("missing path: %v, want ErrPathNotFound", err)
	}
	if _, err := gitrepo.ProbePath(ctx, url, h("0123456789abcdef0123456789abcdef01234567"), "k8s", gitrepo.Options{}); !errors.Is(err, gitrepo.ErrCommitNotFound) {
		t.Errorf("missing commit: %v, want ErrCommitNotFound", err)
	}
	// The GitOps side needs only blob:none and blobs by ID.
	r, err := gitrepo.Open(ctx, url, gitrepo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.ReadFiles(ctx, h(commit), "k8s/helm/Chart.yaml")
	if err != nil || string(files["k8s/helm/Chart.yaml"].Data) != "name: app\n" {
		t.Fatalf("ReadFiles on a tree:0-only server: %q, %v", files["k8s/helm/Chart.yaml"].Data, err)
	}
}
