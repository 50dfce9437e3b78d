package gitrepo

// Reading files from fetched commits: paths walked through the trees held,
// blobs fetched by ID in one request for all the paths missing, sizes
// bounded before inflating.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// File is a file read from a commit.
type File struct {
	// Path is the path as asked for.
	Path string
	// Data is the file content; nil if the file does not exist.
	Data []byte
	// Hash is the blob ID.
	Hash plumbing.Hash
	// Mode is filemode.Regular or filemode.Executable.
	Mode filemode.FileMode
	// Exists is false if nothing is at Path.
	Exists bool
}

// splitPath checks a repository-relative, slash-separated path and splits
// it into components.
func splitPath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("empty path: %w", ErrPathOutsideRepo)
	}
	if strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path %q is absolute: %w", p, ErrPathOutsideRepo)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return nil, fmt.Errorf("path %q contains NUL: %w", p, ErrPathOutsideRepo)
	}
	parts := strings.Split(p, "/")
	for _, c := range parts {
		switch {
		case c == "":
			return nil, fmt.Errorf("path %q has an empty component: %w", p, ErrPathOutsideRepo)
		case c == "." || c == "..":
			return nil, fmt.Errorf("path %q has a %q component: %w", p, c, ErrPathOutsideRepo)
		case strings.EqualFold(c, ".git"):
			return nil, fmt.Errorf("path %q goes into .git: %w", p, ErrPathOutsideRepo)
		}
	}
	return parts, nil
}

// treeLocked decodes a tree held in the store. Callers hold r.mu.
func (r *Remote) treeLocked(h plumbing.Hash) (*object.Tree, error) {
	obj, err := r.store.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, fmt.Errorf("tree %s not held: %w", short(h), err)
	}
	t := &object.Tree{}
	if err := t.Decode(obj); err != nil {
		return nil, fmt.Errorf("decoding tree %s: %w", short(h), err)
	}
	return t, nil
}

// commitTreeLocked returns the root tree hash of a held commit.
func (r *Remote) commitTreeLocked(c plumbing.Hash) (plumbing.Hash, bool) {
	obj, ok := r.store.ObjectStorage.Commits[c]
	if !ok {
		return plumbing.ZeroHash, false
	}
	cm := &object.Commit{}
	if err := cm.Decode(obj); err != nil {
		return plumbing.ZeroHash, false
	}
	return cm.TreeHash, true
}

func findEntry(t *object.Tree, name string) (object.TreeEntry, bool) {
	for _, e := range t.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return object.TreeEntry{}, false
}

// lookupLocked walks parts from the root tree, refusing symbolic links on
// the way and at the end. found is false if a component is missing or a
// parent is not a directory.
func (r *Remote) lookupLocked(root plumbing.Hash, p string, parts []string) (e object.TreeEntry, found bool, err error) {
	t, err := r.treeLocked(root)
	if err != nil {
		return e, false, err
	}
	for i, name := range parts {
		e, ok := findEntry(t, name)
		if !ok {
			return e, false, nil
		}
		if e.Mode == filemode.Symlink {
			return e, false, fmt.Errorf("path %q: %q is a symbolic link: %w", p, strings.Join(parts[:i+1], "/"), ErrPathOutsideRepo)
		}
		if i == len(parts)-1 {
			return e, true, nil
		}
		if e.Mode != filemode.Dir {
			return e, false, nil
		}
		if t, err = r.treeLocked(e.Hash); err != nil {
			return e, false, err
		}
	}
	return e, false, nil
}

// ReadFiles reads files at a commit. The commit is fetched first if it is
// not held. Blobs not held are fetched with ONE upload-pack request wanting
// exactly them. A missing path gives File{Exists: false}; a path that is
// empty, absolute, has a "..", or goes through a symbolic link gives
// ErrPathOutsideRepo; a directory or submodule gives ErrNotRegularFile.
func (r *Remote) ReadFiles(ctx context.Context, commit plumbing.Hash, paths ...string) (map[string]File, error) {
	wrap := func(err error) error {
		return fmt.Errorf("reading files at %s in %s: %w", short(commit), r.url, err)
	}
	split := make([][]string, len(paths))
	for i, p := range paths {
		parts, err := splitPath(p)
		if err != nil {
			return nil, wrap(err)
		}
		split[i] = parts
	}
	if err := r.Fetch(ctx, commit); err != nil {
		return nil, err
	}
	if err := r.ensurePaths(ctx, map[plumbing.Hash][]string{commit: paths}); err != nil {
		return nil, wrap(err)
	}
	out := make(map[string]File, len(paths))
	var need []plumbing.Hash
	r.mu.RLock()
	root, ok := r.commitTreeLocked(commit)
	if !ok {
		r.mu.RUnlock()
		return nil, wrap(ErrCommitNotFound)
	}
	for i, p := range paths {
		e, found, err := r.lookupLocked(root, p, split[i])
		if err != nil {
			r.mu.RUnlock()
			return nil, wrap(err)
		}
		if !found {
			out[p] = File{Path: p}
			continue
		}
		if e.Mode != filemode.Regular && e.Mode != filemode.Executable && e.Mode != filemode.Deprecated {
			r.mu.RUnlock()
			return nil, wrap(fmt.Errorf("path %q is %s: %w", p, describeMode(e.Mode), ErrNotRegularFile))
		}
		out[p] = File{Path: p, Hash: e.Hash, Mode: e.Mode, Exists: true}
		if _, held := r.store.ObjectStorage.Blobs[e.Hash]; !held {
			need = append(need, e.Hash)
		}
	}
	r.mu.RUnlock()
	if len(need) > 0 {
		need = dedupe(need)
		caps, err := r.caps(ctx)
		if err != nil {
			return nil, wrap(err)
		}
		if err := r.fetchAlone(ctx, caps, need, false, commit, 0, r.maxFile); err != nil {
			var se *serverError
			if errors.As(err, &se) && se.notOurRef() {
				err = fmt.Errorf("%w: blob refused (%s)", ErrPathNotFound, se.msg)
			}
			if errors.Is(err, ErrFileTooLarge) {
				return nil, wrap(r.whichTooLarge(ctx, caps, out, err))
			}
			return nil, wrap(fmt.Errorf("fetching %d blobs: %w", len(need), err))
		}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for p, f := range out {
		if !f.Exists {
			continue
		}
		obj, ok := r.store.ObjectStorage.Blobs[f.Hash]
		if !ok {
			return nil, wrap(fmt.Errorf("server did not send blob %s of %q: %w", short(f.Hash), p, ErrPathNotFound))
		}
		data, err := readObject(obj)
		if err != nil {
			return nil, wrap(fmt.Errorf("reading blob %s of %q: %w", short(f.Hash), p, err))
		}
		f.Data = data
		out[p] = f
	}
	return out, nil
}

func readObject(obj plumbing.EncodedObject) ([]byte, error) {
	rd, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

func dedupe(hs []plumbing.Hash) []plumbing.Hash {
	seen := map[plumbing.Hash]bool{}
	out := hs[:0]
	for _, h := range hs {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

func describeMode(m filemode.FileMode) string {
	switch m {
	case filemode.Dir:
		return "a directory"
	case filemode.Submodule:
		return "a submodule"
	case filemode.Symlink:
		return "a symbolic link"
	default:
		return "a file"
	}
}

// whichTooLarge names the file of out that is over the size limit, asking
// for each unread blob alone (a request each, on the failure path only);
// err is the error of the request for them all.
func (r *Remote) whichTooLarge(ctx context.Context, caps *capability.List, out map[string]File, err error) error {
	paths := make([]string, 0, len(out))
	for p := range out {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		f := out[p]
		if !f.Exists {
			continue
		}
		r.mu.RLock()
		_, held := r.store.ObjectStorage.Blobs[f.Hash]
		r.mu.RUnlock()
		if held {
			continue
		}
		if one := r.fetchAlone(ctx, caps, []plumbing.Hash{f.Hash}, false, plumbing.ZeroHash, 0, r.maxFile); errors.Is(one, ErrFileTooLarge) {
			return fmt.Errorf("file %q: %w", p, one)
		}
	}
	return err
}

// PrefetchTrees makes held the trees that reading the given paths of each
// commit crosses (fetching the commits first if they are not held), so
// that ListDir of their directories and the tree walk of ReadFiles then
// cost no request. When trees come with their commits (TreesWhole) it
// costs nothing more; when they come by path, they are fetched level by
// level for all the paths of all the commits at once, one request per
// level. Like Prefetch, it is best-effort about missing paths.
func (r *Remote) PrefetchTrees(ctx context.Context, reads map[plumbing.Hash][]string) error {
	commits := make([]plumbing.Hash, 0, len(reads))
	for c := range reads {
		commits = append(commits, c)
	}
	if err := r.Fetch(ctx, commits...); err != nil {
		return err
	}
	return r.ensurePaths(ctx, reads)
}

// Prefetch fetches, in one request, every blob that ReadFiles would need for
// the given paths of each commit, so that those ReadFiles calls then cost no
// request. The commits are fetched first if they are not held. It is
// best-effort: a path that is missing, leaves the repository or is not a
// regular file is skipped, for ReadFiles to report.
func (r *Remote) Prefetch(ctx context.Context, reads map[plumbing.Hash][]string) error {
	if err := r.PrefetchTrees(ctx, reads); err != nil {
		return err
	}
	var need []plumbing.Hash
	var anchor plumbing.Hash
	r.mu.RLock()
	for commit, paths := range reads {
		root, ok := r.commitTreeLocked(commit)
		if !ok {
			continue
		}
		anchor = commit
		for _, p := range paths {
			parts, err := splitPath(p)
			if err != nil {
				continue
			}
			e, found, err := r.lookupLocked(root, p, parts)
			if err != nil || !found || (e.Mode != filemode.Regular && e.Mode != filemode.Executable && e.Mode != filemode.Deprecated) {
				continue
			}
			if _, held := r.store.ObjectStorage.Blobs[e.Hash]; !held {
				need = append(need, e.Hash)
			}
		}
	}
	r.mu.RUnlock()
	if len(need) == 0 {
		return nil
	}
	need = dedupe(need)
	caps, err := r.caps(ctx)
	if err != nil {
		return fmt.Errorf("prefetching %d blobs from %s: %w", len(need), r.url, err)
	}
	if err := r.fetchAlone(ctx, caps, need, false, anchor, 0, r.maxFile); err != nil {
		return fmt.Errorf("prefetching %d blobs from %s: %w", len(need), r.url, err)
	}
	return nil
}
