package gitrepo

// Reading a branch's history: commits only, no trees or blobs, in one
// request.

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// LogEntry is one commit of a branch's history.
type LogEntry struct {
	Commit    plumbing.Hash
	Message   string
	Author    Signature
	Committer Signature
}

// Log returns up to limit commits of branch, newest first, following first
// parents from the tip. It fetches them in one request of at most limit
// commits deep, without trees or blobs (filter tree:0) when the server
// allows partial fetches; a server without them sends what it has (the
// whole history, on a server without shallow fetches either). Fewer than
// limit commits come back when the history is shorter.
func (r *Remote) Log(ctx context.Context, branch string, limit int) ([]LogEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("reading the history of %s in %s: limit %d is not positive", branch, r.url, limit)
	}
	tip, err := r.Tip(ctx, branch)
	if err != nil {
		return nil, err
	}
	wrap := func(err error) error {
		return fmt.Errorf("reading %d commits of %s at %s in %s: %w", limit, branch, short(tip), r.url, err)
	}
	caps, err := r.caps(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	var filter packp.Filter
	if caps.Supports(capability.Filter) {
		filter = packp.FilterTreeDepth(0)
	}
	if err := r.uploadPack(ctx, caps, []plumbing.Hash{tip}, nil, limit, filter); err != nil {
		return nil, wrap(err)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []LogEntry
	for h := tip; len(out) < limit; {
		obj, ok := r.store.ObjectStorage.Commits[h]
		if !ok {
			if h == tip {
				return nil, wrap(fmt.Errorf("server did not send the tip: %w", ErrCommitNotFound))
			}
			break // the shallow boundary
		}
		c, err := object.DecodeCommit(r.store, obj)
		if err != nil {
			return nil, wrap(fmt.Errorf("decoding commit %s: %w", short(h), err))
		}
		out = append(out, LogEntry{Commit: h, Message: c.Message,
			Author:    Signature{Name: c.Author.Name, Email: c.Author.Email, When: c.Author.When},
			Committer: Signature{Name: c.Committer.Name, Email: c.Committer.Email, When: c.Committer.When}})
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	return out, nil
}
