package gitrepo_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/argo-refs/argo-refs/internal/gitserver"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// minimalServer serves one repository through go-git's own server, which
// advertises neither `shallow` nor `filter`.
func minimalServer(t *testing.T, files map[string]string) (*git.Repository, string, plumbing.Hash) {
	t.Helper()
	repo, err := git.Init(memory.NewStorage(), memfs.New())
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	for p, content := range files {
		f, err := wt.Filesystem.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.Write([]byte(content))
		f.Close()
		if _, err := wt.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	h, err := wt.Commit("init", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1774174209, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference("refs/heads/main", h)); err != nil {
		t.Fatal(err)
	}
	srv := gitserver.New()
	srv.Add("/repo.git", repo.Storer)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return repo, ts.URL + "/repo.git", h
}

func TestServerWithoutShallowOrFilter(t *testing.T) {
	ctx := context.Background()
	repo, url, first := minimalServer(t, map[string]string{"deploy.yaml": "targetRevision: old\n", "k8s/helm/Chart.yaml": "name: x\n"})

	remote, err := gitrepo.Open(ctx, url, gitrepo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := remote.Update(ctx, "main", gitrepo.UpdateOptions{}, func(ctx context.Context, tip gitrepo.Snapshot) (*gitrepo.Edit, error) {
		files, err := tip.ReadFiles(ctx, "deploy.yaml")
		if err != nil {
			return nil, err
		}
		if string(files["deploy.yaml"].Data) != "targetRevision: old\n" {
			t.Fatalf("read %q", files["deploy.yaml"].Data)
		}
		return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "deploy.yaml", Data: []byte("targetRevision: new\n")}},
			Message: "move", Author: gitrepo.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1774174300, 0)}}, nil
	})
	if err != nil {
		t.Fatalf("update on a server without shallow: %v", err)
	}
	ref, _ := repo.Reference("refs/heads/main", true)
	c, err := repo.CommitObject(ref.Hash())
	if err != nil || !res.Changed || ref.Hash() != res.Commit || c.ParentHashes[0] != first {
		t.Fatalf("server tip %s, result %+v, err %v", ref.Hash(), res, err)
	}
	f, err := c.File("deploy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Contents(); got != "targetRevision: new\n" {
		t.Fatalf("pushed content %q", got)
	}

	if _, err := gitrepo.ProbePath(ctx, url, first, "k8s/helm", gitrepo.Options{}); err != nil {
		t.Fatalf("probe without filter: %v", err)
	}
	if _, err := gitrepo.ProbePath(ctx, url, first, "k8s/nope", gitrepo.Options{}); !errors.Is(err, gitrepo.ErrPathNotFound) {
		t.Fatalf("probe of a missing path: %v", err)
	}
}
