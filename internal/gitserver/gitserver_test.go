package gitserver

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

func commitFile(t *testing.T, repo *git.Repository, name, content string) plumbing.Hash {
	t.Helper()
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	f, err := wt.Filesystem.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := wt.Add(name); err != nil {
		t.Fatal(err)
	}
	h, err := wt.Commit("add "+name, &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1700000000, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCloneAndPushThroughGoGitServer(t *testing.T) {
	// The served repository: one commit on main.
	origin, err := git.Init(memory.NewStorage(), memfs.New())
	if err != nil {
		t.Fatal(err)
	}
	first := commitFile(t, origin, "a.txt", "one\n")
	if err := origin.Storer.SetReference(plumbing.NewHashReference("refs/heads/main", first)); err != nil {
		t.Fatal(err)
	}
	srv := New()
	srv.Add("/repo.git", origin.Storer)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	clone, err := git.Clone(memory.NewStorage(), memfs.New(), &git.CloneOptions{URL: ts.URL + "/repo.git", ReferenceName: "refs/heads/main"})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	second := commitFile(t, clone, "b.txt", "two\n")
	if err := clone.Push(&git.PushOptions{RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/main"}}); err != nil {
		t.Fatalf("push: %v", err)
	}
	ref, err := origin.Storer.Reference("refs/heads/main")
	if err != nil {
		t.Fatal(err)
	}
	if ref.Hash() != second {
		t.Fatalf("server main = %s, want the pushed %s", ref.Hash(), second)
	}
	if _, err := origin.CommitObject(second); err != nil {
		t.Fatalf("pushed commit missing on the server: %v", err)
	}
}

func TestUnknownRepositoryIs404(t *testing.T) {
	ts := httptest.NewServer(New())
	defer ts.Close()
	_, err := git.Clone(memory.NewStorage(), nil, &git.CloneOptions{URL: ts.URL + "/nope.git"})
	if err == nil {
		t.Fatal("clone of an unknown repository succeeded")
	}
}
