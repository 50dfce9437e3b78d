package gitrepo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

func TestListDirGivesNamesAndIDsWithoutBlobs(t *testing.T) {
	srv := gittest.New(t)
	url := srv.CreateRepo(t, "gitops.git")
	bare := srv.Dir("gitops.git")
	commit := gittest.CommitFiles(t, bare, "main", map[string]string{
		"w/app/builds/current.yaml": "same\n",
		"w/app/builds/git-1.yaml":   "same\n",
		"w/app/builds/git-2.yaml":   "other\n",
		"w/app/builds/sub/x":        "x\n",
		"top.txt":                   "t\n",
	}, "c")
	r := open(t, url, gitrepo.Options{})
	ctx := context.Background()
	files, err := r.ListDir(ctx, h(commit), "w/app/builds")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]gitrepo.File{}
	for _, f := range files {
		got[f.Path] = f
		if f.Data != nil {
			t.Errorf("%s: data %q, want none", f.Path, f.Data)
		}
	}
	want := map[string]string{
		"w/app/builds/current.yaml": gittest.Git(t, bare, "rev-parse", commit+":w/app/builds/current.yaml"),
		"w/app/builds/git-1.yaml":   gittest.Git(t, bare, "rev-parse", commit+":w/app/builds/git-1.yaml"),
		"w/app/builds/git-2.yaml":   gittest.Git(t, bare, "rev-parse", commit+":w/app/builds/git-2.yaml"),
		"w/app/builds/sub":          gittest.Git(t, bare, "rev-parse", commit+":w/app/builds/sub"),
	}
	if len(got) != len(want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	for p, id := range want {
		if got[p].Hash.String() != id {
			t.Errorf("%s: %s, want %s", p, got[p].Hash, id)
		}
	}
	if got["w/app/builds/sub"].Mode != filemode.Dir || got["w/app/builds/git-1.yaml"].Mode != filemode.Regular {
		t.Errorf("modes %v", got)
	}
	if got["w/app/builds/current.yaml"].Hash != got["w/app/builds/git-1.yaml"].Hash {
		t.Error("identical files have different IDs")
	}
	if up := srv.Stats().Service(gittest.ServiceUploadPack).Requests; up != 1 {
		t.Errorf("%d upload-pack requests, want 1 (no blob fetched)", up)
	}
	root, err := r.ListDir(ctx, h(commit), "")
	if err != nil || len(root) != 2 {
		t.Fatalf("root: %v, %v", root, err)
	}
	for _, bad := range []string{"w/nope", "top.txt", "top.txt/x"} {
		if _, err := r.ListDir(ctx, h(commit), bad); !errors.Is(err, gitrepo.ErrPathNotFound) {
			t.Errorf("%q: %v, want ErrPathNotFound", bad, err)
		}
	}
	if _, err := r.ListDir(ctx, h(commit), "../x"); !errors.Is(err, gitrepo.ErrPathOutsideRepo) {
		t.Errorf("../x: %v, want ErrPathOutsideRepo", err)
	}
}
