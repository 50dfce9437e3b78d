package gitrepo

// Reading whole directories (a chart, a Kustomize base) at one or more
// commits with the economy of the source check: the trees on the way by
// ID, the trees under the directories in one request for all of them,
// then one request for every blob.

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// DirRead names a directory at a commit ("" is the root).
type DirRead struct {
	Commit plumbing.Hash
	Dir    string
}

// DirLimits bound what ReadDirs reads; zero fields mean the defaults.
type DirLimits struct {
	// MaxFiles bounds the files of all directories together (default
	// 5000).
	MaxFiles int
	// MaxBytes bounds the bytes of the blobs fetched together, as the
	// server sends them (default 64 MiB); each file is also bounded by
	// Options.MaxFileSize.
	MaxBytes int64
}

// ErrTooManyFiles means the directories hold more files, or bytes, than
// the limits allow.
var ErrTooManyFiles = errors.New("directory over the read limits")

// ReadDirs reads every regular file under each directory, by path
// relative to that directory. Commits and trees not held are fetched as the
// source check fetches them (the commit with the trees on the way), then
// the directories' trees and all their subtrees in one request (filter
// blob:none); blobs not held come in one more. A directory that is missing wraps
// ErrPathNotFound; a symbolic link or submodule under it,
// ErrNotRegularFile; a path through a symbolic link, ErrPathOutsideRepo.
func (r *Remote) ReadDirs(ctx context.Context, reads []DirRead, lim DirLimits) (map[DirRead]map[string][]byte, error) {
	if lim.MaxFiles <= 0 {
		lim.MaxFiles = 5000
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = 64 << 20
	}
	type pending struct {
		read DirRead
		rel  string // path under the directory
		tree plumbing.Hash
	}
	type blob struct {
		read DirRead
		rel  string
		hash plumbing.Hash
	}
	var level []pending
	for _, rd := range reads {
		wrap := func(err error) error {
			return fmt.Errorf("reading %q at %s in %s: %w", rd.Dir, short(rd.Commit), r.url, err)
		}
		var parts []string
		if rd.Dir != "" && rd.Dir != "." {
			var err error
			if parts, err = splitPath(rd.Dir); err != nil {
				return nil, wrap(err)
			}
		}
		r.mu.RLock()
		root, held := r.commitTreeLocked(rd.Commit)
		var tree plumbing.Hash
		var found, partial bool
		var err error
		if held {
			tree, found, partial, err = r.dirTreeLocked(root, rd.Dir, parts)
		}
		r.mu.RUnlock()
		if !held || partial {
			// The commit, or trees on the way, are not here yet: fetch
			// them as the source check does.
			if err := r.probe(ctx, rd.Commit, rd.Dir); err != nil {
				return nil, err
			}
			r.mu.RLock()
			root, _ = r.commitTreeLocked(rd.Commit)
			tree, found, _, err = r.dirTreeLocked(root, rd.Dir, parts)
			r.mu.RUnlock()
		}
		switch {
		case err != nil:
			return nil, wrap(err)
		case !found:
			return nil, wrap(fmt.Errorf("no directory %q: %w", rd.Dir, ErrPathNotFound))
		}
		level = append(level, pending{read: rd, tree: tree})
	}

	var blobs []blob
	for len(level) > 0 {
		var missing []plumbing.Hash
		r.mu.RLock()
		for _, p := range level {
			if _, ok := r.store.ObjectStorage.Trees[p.tree]; !ok {
				missing = append(missing, p.tree)
			}
		}
		r.mu.RUnlock()
		if len(missing) > 0 {
			caps, err := r.caps(ctx)
			if err != nil {
				return nil, fmt.Errorf("reading directories in %s: %w", r.url, err)
			}
			// The wanted trees and every tree under them, without blobs,
			// in one answer (blob:none is the filter every filtering host
			// allows, GitHub included); a server without filters sends
			// the blobs too, which are then held.
			var filter packp.Filter
			if caps.Supports(capability.Filter) {
				filter = packp.FilterBlobNone()
			}
			if err := r.uploadPack(ctx, caps, dedupe(missing), nil, 0, filter); err != nil {
				return nil, fmt.Errorf("fetching %d trees from %s: %w", len(missing), r.url, err)
			}
		}
		var next []pending
		r.mu.RLock()
		for _, p := range level {
			t, err := r.treeLocked(p.tree)
			if err != nil {
				r.mu.RUnlock()
				return nil, fmt.Errorf("reading %q at %s in %s: tree %s: %w", path.Join(p.read.Dir, p.rel), short(p.read.Commit), r.url, short(p.tree), err)
			}
			for _, e := range t.Entries {
				rel := path.Join(p.rel, e.Name)
				switch e.Mode {
				case filemode.Dir:
					next = append(next, pending{read: p.read, rel: rel, tree: e.Hash})
				case filemode.Regular, filemode.Executable, filemode.Deprecated:
					blobs = append(blobs, blob{read: p.read, rel: rel, hash: e.Hash})
				default:
					r.mu.RUnlock()
					return nil, fmt.Errorf("reading %q at %s in %s: %q is %s: %w", p.read.Dir, short(p.read.Commit), r.url, path.Join(p.read.Dir, rel), describeMode(e.Mode), ErrNotRegularFile)
				}
			}
		}
		r.mu.RUnlock()
		if len(blobs) > lim.MaxFiles {
			return nil, fmt.Errorf("reading directories in %s: more than %d files: %w", r.url, lim.MaxFiles, ErrTooManyFiles)
		}
		level = next
	}

	var need []plumbing.Hash
	r.mu.RLock()
	for _, b := range blobs {
		if _, ok := r.store.ObjectStorage.Blobs[b.hash]; !ok {
			need = append(need, b.hash)
		}
	}
	r.mu.RUnlock()
	if len(need) > 0 {
		caps, err := r.caps(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading directories in %s: %w", r.url, err)
		}
		err = r.fetchAlone(ctx, caps, dedupe(need), false, blobs[0].read.Commit, lim.MaxBytes, r.maxFile)
		switch {
		case errors.Is(err, errTooLarge):
			return nil, fmt.Errorf("reading directories in %s: blobs over %d bytes: %w", r.url, lim.MaxBytes, ErrTooManyFiles)
		case err != nil:
			return nil, fmt.Errorf("fetching %d blobs from %s: %w", len(need), r.url, err)
		}
	}
	out := make(map[DirRead]map[string][]byte, len(reads))
	for _, rd := range reads {
		out[rd] = map[string][]byte{}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, b := range blobs {
		obj, ok := r.store.ObjectStorage.Blobs[b.hash]
		if !ok {
			return nil, fmt.Errorf("reading %q in %s: server did not send blob %s: %w", path.Join(b.read.Dir, b.rel), r.url, short(b.hash), ErrPathNotFound)
		}
		data, err := readObject(obj)
		if err != nil {
			return nil, fmt.Errorf("reading blob %s: %w", short(b.hash), err)
		}
		out[b.read][b.rel] = data
	}
	return out, nil
}

// dirTreeLocked finds the tree of dir under root. found is false when a
// component is missing or not a directory; partial is true when a tree on
// the way is not held, so that the answer is not known yet.
func (r *Remote) dirTreeLocked(root plumbing.Hash, dir string, parts []string) (tree plumbing.Hash, found, partial bool, err error) {
	if len(parts) == 0 {
		return root, true, false, nil
	}
	e, found, err := r.lookupLocked(root, dir, parts)
	switch {
	case errors.Is(err, plumbing.ErrObjectNotFound):
		return plumbing.ZeroHash, false, true, nil
	case err != nil:
		return plumbing.ZeroHash, false, false, err
	case !found || e.Mode != filemode.Dir:
		return plumbing.ZeroHash, false, false, nil
	}
	return e.Hash, true, false, nil
}
