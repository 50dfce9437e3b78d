package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

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
// downloading the source tree or any blob.
//
// The first request goes straight to upload-pack, without reading the
// advertisement: a depth-1 fetch of the commit with the trees of the first
// two levels only (filter combine:tree:2+blob:none; tree:1 or tree:0 for
// shorter paths). Deeper levels are fetched one tree at a time, by ID
// (filter tree:0). A path of at most two components thus costs one request
// and a few kilobytes, whatever the size of the repository.
//
// Servers that allow only tree:0 (uploadpackfilter.tree.maxDepth=0, as on
// GitHub) are remembered per host for the life of the process and walked
// from the root tree by ID. A server that refuses the first request for
// another reason (no `filter`, no `shallow`) is asked the usual way, after
// reading its advertisement; without `filter` the whole commit comes down
// and a warning says so.
//
// Errors wrap ErrCommitNotFound, ErrPathNotFound or ErrPathOutsideRepo (a
// "..", an absolute path or a symbolic link on the way).
func ProbePath(ctx context.Context, url string, commit plumbing.Hash, path string, opts Options) (ProbeStats, error) {
	r, err := Open(ctx, url, opts)
	if err != nil {
		return ProbeStats{}, err
	}
	err = r.probe(ctx, commit, path)
	st := r.Stats()
	return ProbeStats(st), err
}

// ServerNotes remembers what Remotes learned about Git servers, for the
// Remotes opened after them with the same notes (Options.ServerNotes): the
// hosts (host:port) known to refuse tree:<n> filters with n > 0, so that a
// later probe asks them for tree:0 at once instead of being refused first.
// github.com is one: it allows tree:0 only (Taylor Blau on the Git mailing
// list, March 2020, when GitHub rolled out filter limits). It is safe for
// concurrent use.
type ServerNotes struct {
	treeZeroOnly sync.Map // host:port → true
	large        largeRepos
}

// NewServerNotes returns notes that know nothing yet.
func NewServerNotes() *ServerNotes { return &ServerNotes{} }

func (r *Remote) hostKey() string {
	if r.ep.Port == 0 {
		return r.ep.Host
	}
	return net.JoinHostPort(r.ep.Host, fmt.Sprint(r.ep.Port))
}

func (r *Remote) allowsTreeDepth() bool {
	if r.ep.Host == "github.com" {
		return false
	}
	_, refused := r.notes.treeZeroOnly.Load(r.hostKey())
	return !refused
}

// refusesTreeDepth reports whether an upload-pack error says that a tree
// depth (or combined) filter is not allowed, in the words of git 2.29 to
// 2.39 ("tree filter allows max depth 0, but got 1") and of later versions
// ("filter 'tree' not supported (maximum depth: 0, but got: 1)", "filter
// 'combine' not supported").
func refusesTreeDepth(err error) bool {
	var se *serverError
	if !errors.As(err, &se) {
		return false
	}
	m := strings.ToLower(se.msg)
	return strings.Contains(m, "filter") && !strings.Contains(m, "not negotiated") &&
		(strings.Contains(m, "depth") || strings.Contains(m, "not supported"))
}

// firstProbeFilter is the filter of the request that fetches the commit:
// it brings the trees of as many of the path's levels as is cheap.
func firstProbeFilter(components int, treeDepth bool) packp.Filter {
	switch {
	case components == 0 || !treeDepth:
		return packp.FilterTreeDepth(0)
	case components == 1:
		return packp.FilterTreeDepth(1)
	default:
		return packp.FilterCombine(packp.FilterTreeDepth(2), packp.FilterBlobNone())
	}
}

// assumedCaps are the capabilities the first probe request uses without
// reading the advertisement: every filtering server has them.
func assumedCaps() *capability.List {
	c := capability.NewList()
	for _, k := range []capability.Capability{capability.OFSDelta, capability.NoProgress, capability.Shallow, capability.Filter} {
		_ = c.Set(k)
	}
	return c
}

// speculativeLimit bounds the answer to the first probe request: a server
// that ignored the filter would send the whole commit.
const speculativeLimit = 4 << 20

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
	caps, err := r.fetchProbeCommit(ctx, commit, len(parts))
	if err != nil {
		return err
	}
	r.mu.RLock()
	tree, ok := r.commitTreeLocked(commit)
	r.mu.RUnlock()
	if !ok {
		return fmt.Errorf("fetching %s from %s: server did not send it: %w", short(commit), r.url, ErrCommitNotFound)
	}
	for i, name := range parts {
		if err := r.ensureTree(ctx, caps, tree, commit); err != nil {
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

// fetchProbeCommit fetches commit with the first levels of its trees and
// returns the capabilities to fetch further trees with.
func (r *Remote) fetchProbeCommit(ctx context.Context, commit plumbing.Hash, components int) (*capability.List, error) {
	notFound := func() error {
		return fmt.Errorf("fetching %s from %s: %w", short(commit), r.url, ErrCommitNotFound)
	}
	// Straight to upload-pack, with the capabilities every filtering server
	// has. Anything but a clear answer sends us the usual way below.
	caps := assumedCaps()
	err := r.fetchCommitTrees(ctx, caps, commit, components, speculativeLimit)
	var se *serverError
	switch {
	case err == nil:
		return caps, nil
	case errors.As(err, &se) && se.notOurRef():
		return nil, notFound()
	case errors.Is(err, ErrAuth), errors.Is(err, ErrRepositoryNotFound), ctx.Err() != nil:
		return nil, fmt.Errorf("fetching %s from %s: %w", short(commit), r.url, err)
	}
	r.log.Debug("the server refused a request without advertisement; reading it", "url", r.url, "error", err)

	caps, err = r.caps(ctx)
	if err != nil {
		return nil, fmt.Errorf("probing %s in %s: %w", short(commit), r.url, err)
	}
	if !caps.Supports(capability.Filter) {
		// Correct but not cheap: the whole commit comes down. GitHub, GitLab
		// and git-http-backend with uploadpack.allowFilter all filter. The
		// pack is read as a stream keeping commits and trees only, so
		// memory stays bounded by the trees, whatever the blobs weigh.
		r.log.Warn("the source server does not support filters; the source check downloads the whole commit", "url", r.url)
		err := r.fetchCommitStreaming(ctx, caps, commit)
		if errors.As(err, &se) && se.notOurRef() {
			return nil, notFound()
		}
		if err != nil {
			return nil, fmt.Errorf("fetching %s from %s: %w", short(commit), r.url, err)
		}
		return caps, nil
	}
	err = r.fetchCommitTrees(ctx, caps, commit, components, 0)
	if errors.As(err, &se) && se.notOurRef() {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("probing %s in %s: %w", short(commit), r.url, err)
	}
	return caps, nil
}

// fetchCommitTrees fetches commit at depth 1 with the first levels of its
// trees (see firstProbeFilter). A server that refuses tree filters deeper
// than tree:0 is remembered as such and asked again with tree:0. A limit
// over 0 bounds each answer (see uploadPackN).
func (r *Remote) fetchCommitTrees(ctx context.Context, caps *capability.List, commit plumbing.Hash, components int, limit int64) error {
	wants := []plumbing.Hash{commit}
	err := r.uploadPackN(ctx, caps, wants, nil, 1, firstProbeFilter(components, r.allowsTreeDepth()), limit, 0)
	if refusesTreeDepth(err) {
		r.notes.treeZeroOnly.Store(r.hostKey(), true)
		r.log.Debug("the server allows filter tree:0 only; walking trees by ID", "url", r.url)
		err = r.uploadPackN(ctx, caps, wants, nil, 1, packp.FilterTreeDepth(0), limit, 0)
	}
	return err
}

// ensureTree fetches one tree object by ID, without its subtrees or blobs,
// unless it is held; commit (held) anchors the request (see fetchAlone).
func (r *Remote) ensureTree(ctx context.Context, caps *capability.List, tree, commit plumbing.Hash) error {
	r.mu.RLock()
	_, held := r.store.ObjectStorage.Trees[tree]
	r.mu.RUnlock()
	if held {
		return nil
	}
	if err := r.fetchAlone(ctx, caps, []plumbing.Hash{tree}, true, commit, 0, 0); err != nil {
		return err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, held := r.store.ObjectStorage.Trees[tree]; !held {
		return errors.New("server did not send it")
	}
	return nil
}
