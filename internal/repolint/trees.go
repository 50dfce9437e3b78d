package repolint

// The two trees lint reads: a checkout on disk, and a remote ref read
// through gitrepo (trees at depth 1 without blobs, then the files needed,
// in few requests).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// DirTree is a checkout on disk.
type DirTree struct{ Root string }

// ReadDir lists dir under Root.
func (t DirTree) ReadDir(_ context.Context, dir string) ([]Entry, error) {
	es, err := os.ReadDir(filepath.Join(t.Root, filepath.FromSlash(dir)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(es))
	for i, e := range es {
		out[i] = Entry{Name: e.Name(), IsDir: e.IsDir()}
	}
	return out, nil
}

// ReadFiles reads the files under Root.
func (t DirTree) ReadFiles(_ context.Context, paths ...string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join(t.Root, filepath.FromSlash(p)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[p] = data
	}
	return out, nil
}

// RemoteTree is one commit of a remote repository.
type RemoteTree struct {
	Remote *gitrepo.Remote
	Commit plumbing.Hash
}

// ReadDir lists dir at the commit; no blob is fetched.
func (t RemoteTree) ReadDir(ctx context.Context, dir string) ([]Entry, error) {
	fs, err := t.Remote.ListDir(ctx, t.Commit, dir)
	if errors.Is(err, gitrepo.ErrPathNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(fs))
	for i, f := range fs {
		out[i] = Entry{Name: filepath.Base(f.Path), IsDir: f.Mode == filemode.Dir}
	}
	return out, nil
}

// ReadFiles reads the files at the commit, missing blobs in one request.
func (t RemoteTree) ReadFiles(ctx context.Context, paths ...string) (map[string][]byte, error) {
	if len(paths) == 0 {
		return map[string][]byte{}, nil
	}
	files, err := t.Remote.ReadFiles(ctx, t.Commit, paths...)
	if err != nil {
		return nil, fmt.Errorf("reading files at %s: %w", t.Commit, err)
	}
	out := map[string][]byte{}
	for p, f := range files {
		if f.Exists {
			out[p] = f.Data
		}
	}
	return out, nil
}
