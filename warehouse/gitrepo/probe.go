package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// ProbeStats counts what a ProbePath call cost.
type ProbeStats struct {
	Requests      int
	BytesReceived int64
}

// ProbePath proves that commit exists in the repository at url and that
// path (a directory or a file; "" or "." is the root) exists in it, without
// downloading the source tree: a depth-1 fetch of the commit and its root
// tree only (filter tree:1), then, level by level, only the trees along the
// path, by ID (filter tree:0). It never fetches a blob, so it costs
// 2 + (number of path components - 1) upload-pack requests plus one
// advertisement, and a few kilobytes, whatever the size of the repository.
//
// Errors wrap ErrCommitNotFound, ErrPathNotFound, ErrPathOutsideRepo (a
// "..", an absolute path or a symbolic link on the way), or
// ErrFilterUnsupported if the server cannot filter.
func ProbePath(ctx context.Context, url string, commit plumbing.Hash, path string, opts Options) (ProbeStats, error) {
	r, err := Open(ctx, url, opts)
	if err != nil {
		return ProbeStats{}, err
	}
	err = r.probe(ctx, commit, path)
	st := r.Stats()
	return ProbeStats(st), err
}

func (r *Remote) probe(ctx context.Context, commit plumbing.Hash, p string) error {
	p = strings.TrimSuffix(p, "/")
	var parts []string
	if p != "" && p != "." {
		var err error
		if parts, err = splitPath(p); err != nil {
			return fmt.Errorf("probing %s at %s in %s: %w", p, short(commit), r.url, err)
		}
	}
	wrap := func(err error) error {
		return fmt.Errorf("probing %q at %s in %s: %w", p, short(commit), r.url, err)
	}
	if commit.IsZero() {
		return wrap(fmt.Errorf("zero commit hash: %w", ErrCommitNotFound))
	}
	caps, err := r.caps(ctx)
	if err != nil {
		return wrap(err)
	}
	if !caps.Supports(capability.Filter) {
		// Correct but not cheap: the whole commit comes down. GitHub, GitLab
		// and git-http-backend with uploadpack.allowFilter all filter.
		r.log.Warn("the source server does not support filters; the source check downloads the whole commit", "url", r.url)
		if err := r.Fetch(ctx, commit); err != nil {
			return err
		}
	} else if err := r.uploadPack(ctx, caps, []plumbing.Hash{commit}, nil, 1, packp.FilterTreeDepth(1)); err != nil {
		var se *serverError
		if errors.As(err, &se) && se.notOurRef() {
			return fmt.Errorf("fetching %s from %s: %w", short(commit), r.url, ErrCommitNotFound)
		}
		return wrap(err)
	}
	r.mu.RLock()
	tree, ok := r.commitTreeLocked(commit)
	r.mu.RUnlock()
	if !ok {
		return fmt.Errorf("fetching %s from %s: server did not send it: %w", short(commit), r.url, ErrCommitNotFound)
	}
	for i, name := range parts {
		if err := r.ensureTree(ctx, caps, tree); err != nil {
			return wrap(fmt.Errorf("fetching tree %s of %q: %w", short(tree), strings.Join(parts[:i], "/"), err))
		}
		r.mu.RLock()
		t, err := r.treeLocked(tree)
		r.mu.RUnlock()
		if err != nil {
			return wrap(err)
		}
		e, ok := findEntry(t, name)
		sofar := strings.Join(parts[:i+1], "/")
		switch {
		case !ok:
			return wrap(fmt.Errorf("no %q: %w", sofar, ErrPathNotFound))
		case e.Mode == filemode.Symlink:
			return wrap(fmt.Errorf("%q is a symbolic link: %w", sofar, ErrPathOutsideRepo))
		case i == len(parts)-1:
			return nil
		case e.Mode != filemode.Dir:
			return wrap(fmt.Errorf("%q is %s, not a directory: %w", sofar, describeMode(e.Mode), ErrPathNotFound))
		}
		tree = e.Hash
	}
	return nil
}

// ensureTree fetches one tree object by ID, without its subtrees or blobs,
// unless it is held.
func (r *Remote) ensureTree(ctx context.Context, caps *capability.List, tree plumbing.Hash) error {
	r.mu.RLock()
	_, held := r.store.ObjectStorage.Trees[tree]
	r.mu.RUnlock()
	if held {
		return nil
	}
	if err := r.uploadPack(ctx, caps, []plumbing.Hash{tree}, nil, 0, packp.FilterTreeDepth(0)); err != nil {
		return err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, held := r.store.ObjectStorage.Trees[tree]; !held {
		return errors.New("server did not send it")
	}
	return nil
}
