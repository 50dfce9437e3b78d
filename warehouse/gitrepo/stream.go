package gitrepo

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// fetchCommitStreaming fetches commit with all its trees from a server
// without `filter`: the depth-1 pack holds every blob of the commit too.
// The pack is read as it arrives and only commits and trees are kept;
// blobs are inflated and dropped, so memory is bounded by the size of the
// trees, not of the pack. A commit held already costs no request.
//
// A refused want comes back as a *serverError.
func (r *Remote) fetchCommitStreaming(ctx context.Context, caps *capability.List, commit plumbing.Hash) error {
	r.mu.RLock()
	_, held := r.store.ObjectStorage.Commits[commit]
	r.mu.RUnlock()
	if held {
		return nil
	}
	req := packp.NewUploadPackRequest()
	req.Wants = []plumbing.Hash{commit}
	setBasicCaps(req, caps)
	// Without `shallow` the whole history comes down, as in uploadPackN.
	if caps.Supports(capability.Shallow) {
		_ = req.Capabilities.Set(capability.Shallow)
		req.Depth = packp.DepthCommits(1)
	}

	res, sn, done, err := r.sendUploadPack(ctx, req)
	if err != nil {
		return err
	}
	defer done()

	// Bases of REF_DELTA entries not in the pack: objects held already.
	heldBase := func(h plumbing.Hash) plumbing.EncodedObject {
		r.mu.RLock()
		defer r.mu.RUnlock()
		obj, ok := r.store.ObjectStorage.Objects[h]
		if !ok || !keepType(obj.Type()) {
			return nil
		}
		return obj
	}
	objs, st, err := readTreesAndCommits(res, heldBase)
	if err != nil {
		if msg, ok := sn.errLine(); ok {
			return &serverError{msg: msg}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("reading the pack as a stream: %w", err)
	}
	r.log.Debug("read the whole commit, keeping its commits and trees",
		"url", r.url, "commit", commit.String(), "entries", st.entries, "pack_bytes", st.packBytes,
		"kept", len(objs), "kept_bytes", st.keptBytes, "deltas_resolved", st.resolved)

	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.storeLocked(objs); err != nil {
		return err
	}
	if _, ok := r.store.ObjectStorage.Commits[commit]; ok {
		r.rememberOnServer(commit)
	}
	return nil
}

// keepType reports whether objects of type t are kept from a streamed
// pack: only commits and trees are needed to walk a path.
func keepType(t plumbing.ObjectType) bool {
	return t == plumbing.CommitObject || t == plumbing.TreeObject
}

// maxKeptBytes bounds the commits and trees kept from one streamed pack: a
// server that sends more is broken or hostile, and the step's memory is
// limited.
const maxKeptBytes = 256 << 20
