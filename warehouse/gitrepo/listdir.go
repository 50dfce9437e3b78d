package gitrepo

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// ListDir returns the entries of directory dir ("" is the root) at commit:
// name (as Path, joined to dir), mode and object ID, without contents
// (Data is nil). The commit is fetched first if it is not held; no blob is
// fetched. A missing dir, or a path through something that is not a
// directory, wraps ErrPathNotFound; a path through a symbolic link,
// ErrPathOutsideRepo.
func (r *Remote) ListDir(ctx context.Context, commit plumbing.Hash, dir string) ([]File, error) {
	wrap := func(err error) error {
		return fmt.Errorf("listing %q at %s in %s: %w", dir, short(commit), r.url, err)
	}
	var parts []string
	if dir != "" {
		var err error
		if parts, err = splitPath(dir); err != nil {
			return nil, wrap(err)
		}
	}
	if err := r.Fetch(ctx, commit); err != nil {
		return nil, err
	}
	if err := r.ensurePaths(ctx, map[plumbing.Hash][]string{commit: {dir}}); err != nil {
		return nil, wrap(err)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	tree, ok := r.commitTreeLocked(commit)
	if !ok {
		return nil, wrap(ErrCommitNotFound)
	}
	if len(parts) > 0 {
		e, found, err := r.lookupLocked(tree, dir, parts)
		if err != nil {
			return nil, wrap(err)
		}
		if !found || e.Mode != filemode.Dir {
			return nil, wrap(fmt.Errorf("no directory %q: %w", dir, ErrPathNotFound))
		}
		tree = e.Hash
	}
	t, err := r.treeLocked(tree)
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]File, 0, len(t.Entries))
	for _, e := range t.Entries {
		p := e.Name
		if dir != "" {
			p = dir + "/" + e.Name
		}
		out = append(out, File{Path: p, Hash: e.Hash, Mode: e.Mode, Exists: true})
	}
	return out, nil
}
