package gitrepo

// Fetching objects by ID (trees without their subtrees, blobs) in requests
// that git's upload-pack answers without its reachability bitmap.

import (
	"context"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// fetchAlone fetches ids (blobs, or trees without what lies under them:
// trees says which) by ID. A server without `filter` sends what lies under
// a tree too.
//
// anchor, a commit fetched from this server (zero: none), is named in the
// same request at depth 1, with filter tree:0, when the server offers
// `shallow` and `filter`. git's upload-pack packs a shallow request
// without its reachability bitmap, which it otherwise loads for every
// request: on bench M (650,000 objects) 0.075 s of server CPU per request
// where the pack has no reverse index (git before 2.41 writes none by
// default), 0.008 s where it has one, and 0.002-0.005 s with the anchor,
// which costs one commit object (a few hundred bytes) more. Not when the anchor's own root tree is
// wanted: git reaches it from the anchor first, omits it by the filter and
// then does not send it as wanted either. A server that refuses the filter
// for the anchored request is asked again without the anchor.
func (r *Remote) fetchAlone(ctx context.Context, caps *capability.List, ids []plumbing.Hash, trees bool, anchor plumbing.Hash, limit, maxBlob int64) error {
	// Without an anchor, blobs need no filter (every server sends a
	// wanted blob); trees need tree:0 where there is one.
	var plain packp.Filter
	if trees && caps.Supports(capability.Filter) {
		plain = packp.FilterTreeDepth(0)
	}
	if anchor.IsZero() || !caps.Supports(capability.Filter) || !caps.Supports(capability.Shallow) || r.anchorsOwnRoot(anchor, ids) {
		return r.uploadPackN(ctx, caps, ids, nil, 0, plain, limit, maxBlob)
	}
	wants := append(ids[:len(ids):len(ids)], anchor)
	err := r.uploadPackN(ctx, caps, wants, nil, 1, packp.FilterTreeDepth(0), limit, maxBlob)
	if refusesTreeDepth(err) {
		return r.uploadPackN(ctx, caps, ids, nil, 0, plain, limit, maxBlob)
	}
	return err
}

// anchorsOwnRoot reports whether ids hold the root tree of commit (or
// commit is not held, so that its root tree is not known).
func (r *Remote) anchorsOwnRoot(commit plumbing.Hash, ids []plumbing.Hash) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	root, ok := r.commitTreeLocked(commit)
	return !ok || slices.Contains(ids, root)
}
