package gitrepo

// Fetching only the trees on the paths read, for repositories whose tip
// tree is too large to fetch whole on every promotion (a monorepo of
// hundreds of thousands of files): the commits come without trees, then
// the trees on the paths, level by level, one request per level for all
// the paths of all the commits.

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// TreeFetch says how a Remote brings the trees of the commits it reads.
type TreeFetch int

const (
	// TreesAuto fetches every tree of a commit in the request that brings
	// it, unless this Remote, or this process (ServerNotes), has learnt
	// that the repository's trees are large; then as TreesPaths. It learns
	// it from a whole-tree answer that passes LargeTreeBytes: the answer
	// is dropped there, unread, and the commits fetched by path.
	TreesAuto TreeFetch = iota
	// TreesWhole fetches every tree of a commit in the request that brings
	// it (filter blob:none): one request, whatever the paths read.
	TreesWhole
	// TreesPaths fetches a commit without its trees (filter tree:0), or
	// with its root tree's entries when the server allows tree depth
	// filters (tree:2),
	// then the trees on the paths read, one request per level.
	TreesPaths
)

// largeTreeBytes is the default answer size of a whole-tree fetch from
// which a Remote in TreesAuto notes the repository as large.
const largeTreeBytes = 4 << 20

// initialTreeDepth is the tree depth filter of a commit fetch in path
// mode when the server allows depth filters: the root tree and its
// entries (its directories, which every path read crosses, and the few
// files at the root). Not combined with blob:none: git applies a combined
// filter while walking every tree of the commit, which on a tree of
// 485,000 files cost the server 0.63 s instead of 0.008 s (bench M).
const initialTreeDepth = 2

// largeRepos remembers the repositories whose trees are large.
type largeRepos struct{ m sync.Map } // URL → true

// treesByPath reports whether this Remote fetches trees by path.
func (r *Remote) treesByPath() bool {
	switch r.treeFetch {
	case TreesPaths:
		return true
	case TreesWhole:
		return false
	}
	_, large := r.notes.large.m.Load(r.url)
	return large
}

// noteTreeBytes notes the repository as large after a whole-tree fetch
// that brought n bytes, so that this Remote and the later Remotes of this
// process fetch by path.
func (r *Remote) noteTreeBytes(n int64) {
	if r.treeFetch != TreesAuto || n < r.largeTree {
		return
	}
	if _, had := r.notes.large.m.LoadOrStore(r.url, true); !had {
		r.log.Info("the repository's trees are large; this process now fetches only the trees on the paths it reads", "url", r.url, "bytes", n)
	}
}

// commitFilter is the filter of a commit fetch in path mode.
func (r *Remote) commitFilter() packp.Filter {
	if r.allowsTreeDepth() {
		return packp.FilterTreeDepth(initialTreeDepth)
	}
	return packp.FilterTreeDepth(0)
}

// fetchCommitsByPath fetches wants (commits) at depth 1 with the commit
// filter; a server that refuses depth filters is noted and asked again
// with tree:0.
func (r *Remote) fetchCommitsByPath(ctx context.Context, caps *capability.List, wants []plumbing.Hash) error {
	err := r.uploadPack(ctx, caps, wants, r.haves(wants), 1, r.commitFilter())
	if refusesTreeDepth(err) {
		r.notes.treeZeroOnly.Store(r.hostKey(), true)
		err = r.uploadPack(ctx, caps, wants, r.haves(wants), 1, packp.FilterTreeDepth(0))
	}
	return err
}

// ensurePaths makes held the trees a read of each path at each commit
// crosses: the root tree, every directory on the way, and the path's own
// tree when it is a directory ("" is the root). Missing trees are fetched
// level by level, each level in one request wanting them by ID without
// their subtrees (filter tree:0). Commits not held, and paths that are
// missing or invalid, are skipped: the read that follows reports them.
func (r *Remote) ensurePaths(ctx context.Context, reads map[plumbing.Hash][]string) error {
	type cursor struct {
		tree  plumbing.Hash
		parts []string
	}
	var level []cursor
	var anchor plumbing.Hash
	r.mu.RLock()
	for commit, paths := range reads {
		root, ok := r.commitTreeLocked(commit)
		if !ok {
			continue
		}
		anchor = commit
		for _, p := range paths {
			var parts []string
			if p != "" {
				var err error
				if parts, err = splitPath(p); err != nil {
					continue
				}
			}
			level = append(level, cursor{tree: root, parts: parts})
		}
	}
	r.mu.RUnlock()
	var caps *capability.List
	for depth := 0; len(level) > 0; depth++ {
		var missing []plumbing.Hash
		r.mu.RLock()
		for _, c := range level {
			if _, held := r.store.ObjectStorage.Trees[c.tree]; !held {
				missing = append(missing, c.tree)
			}
		}
		r.mu.RUnlock()
		if len(missing) > 0 {
			if caps == nil {
				var err error
				if caps, err = r.caps(ctx); err != nil {
					return fmt.Errorf("fetching trees from %s: %w", r.url, err)
				}
			}
			missing = dedupe(missing)
			if err := r.fetchAlone(ctx, caps, missing, true, anchor, 0, 0); err != nil {
				return fmt.Errorf("fetching %d trees at depth %d from %s: %w", len(missing), depth, r.url, err)
			}
		}
		var next []cursor
		r.mu.RLock()
		for _, c := range level {
			t, err := r.treeLocked(c.tree)
			if err != nil {
				r.mu.RUnlock()
				return fmt.Errorf("fetching trees from %s: the server did not send %s: %w", r.url, short(c.tree), ErrCommitNotFound)
			}
			if len(c.parts) == 0 {
				continue
			}
			e, ok := findEntry(t, c.parts[0])
			if !ok || e.Mode != filemode.Dir {
				continue
			}
			next = append(next, cursor{tree: e.Hash, parts: c.parts[1:]})
		}
		r.mu.RUnlock()
		level = next
	}
	return nil
}

// parentDirs returns the directories holding each path ("" for the root).
func parentDirs(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		dir := ""
		for i := len(p) - 1; i >= 0; i-- {
			if p[i] == '/' {
				dir = p[:i]
				break
			}
		}
		out = append(out, dir)
	}
	return out
}
