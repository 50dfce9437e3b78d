package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// notOurRefHelp explains upload-pack's "not our ref". Over smart HTTP git
// sends any commit that a branch or tag reaches, whatever
// uploadpack.allowReachableSHA1InWant says; what it refuses is a commit no
// ref reaches.
const notOurRefHelp = "the server will not send it (\"not our ref\"): no branch or tag of the repository reaches it there " +
	"(it was never pushed, or a force-push left it behind); only a server with uploadpack.allowAnySHA1InWant=true sends such a commit"

// serverError is an ERR line the server sent instead of a pack.
type serverError struct{ msg string }

func (e *serverError) Error() string { return "server said: " + e.msg }

func (e *serverError) notOurRef() bool { return strings.Contains(e.msg, "not our ref") }

// caps returns the upload-pack capabilities, advertising once if needed.
func (r *Remote) caps(ctx context.Context) (*capability.List, error) {
	r.mu.RLock()
	c := r.upCaps
	r.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	if _, err := r.advertise(ctx); err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.upCaps == nil {
		return nil, fmt.Errorf("repository is empty: %w", ErrCommitNotFound)
	}
	return r.upCaps, nil
}

// uploadPack makes one upload-pack request for wants (depth > 0 makes it
// shallow; filter "" asks for everything) and adds the objects received to
// the store.
func (r *Remote) uploadPack(ctx context.Context, caps *capability.List, wants, haves []plumbing.Hash, depth int, filter packp.Filter) error {
	return r.uploadPackN(ctx, caps, wants, haves, depth, filter, 0, 0)
}

// errTooLarge is an upload-pack answer over the caller's limit.
var errTooLarge = errors.New("answer larger than expected")

// uploadPackN is uploadPack failing with errTooLarge once the answer
// exceeds limit bytes (0: no limit), and with ErrFileTooLarge for a blob
// that declares more than maxBlob bytes (0: no limit).
func (r *Remote) uploadPackN(ctx context.Context, caps *capability.List, wants, haves []plumbing.Hash, depth int, filter packp.Filter, limit, maxBlob int64) error {
	req := packp.NewUploadPackRequest()
	req.Wants = append([]plumbing.Hash(nil), wants...)
	// A server without `shallow` (go-git's own, for one) gets a plain fetch
	// of the wants' whole history, without haves: our depth-1 commits are no
	// base it could compute a pack against. Only small repositories live on
	// such servers.
	shallow := caps.Supports(capability.Shallow)
	if !shallow {
		depth, haves = 0, nil
	}
	if len(haves) > 0 {
		// Every commit held here is a depth-1 boundary: say so, so the
		// server does not assume we have their history. A thin pack is
		// what makes the server leave out the trees the haves share with
		// the wants (without it, pack-objects walks with --objects, not
		// --objects-edge); its deltas against held objects resolve below.
		req.Haves = append([]plumbing.Hash(nil), haves...)
		req.Shallows = append([]plumbing.Hash(nil), haves...)
		r.mu.RLock()
		thin := r.thinPack
		r.mu.RUnlock()
		if thin {
			_ = req.Capabilities.Set(capability.ThinPack)
		}
	}
	setBasicCaps(req, caps)
	if depth > 0 {
		_ = req.Capabilities.Set(capability.Shallow)
		req.Depth = packp.DepthCommits(depth)
	}
	if filter != "" {
		if !caps.Supports(capability.Filter) {
			return ErrFilterUnsupported
		}
		_ = req.Capabilities.Set(capability.Filter)
		req.Filter = filter
	}

	res, sn, done, err := r.sendUploadPack(ctx, req)
	if err != nil {
		return err
	}
	defer done()
	// Read the pack first, so the store is not locked during network I/O.
	body := res
	if limit > 0 {
		body = io.LimitReader(res, limit+1)
	}
	pack, err := io.ReadAll(body)
	if err != nil {
		return r.classify(ctx, err)
	}
	if limit > 0 && int64(len(pack)) > limit {
		return fmt.Errorf("upload-pack of %s: %w (over %d bytes)", shorts(wants), errTooLarge, limit)
	}
	if msg, ok := sn.errLine(); ok {
		return &serverError{msg: msg}
	}
	// Bases of REF_DELTA entries not in the pack (a thin pack): objects
	// held already.
	held := func(h plumbing.Hash) plumbing.EncodedObject {
		r.mu.RLock()
		defer r.mu.RUnlock()
		if obj, ok := r.store.ObjectStorage.Objects[h]; ok {
			return obj
		}
		return nil
	}
	objs, _, err := readPackBytes(pack, packOptions{held: held, maxBlob: maxBlob})
	if err != nil {
		return fmt.Errorf("reading pack of %d bytes: %w", len(pack), err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.storeLocked(objs)
}

// setBasicCaps asks for what every upload-pack request here wants when the
// server offers it: offset deltas, no progress, and our agent name. No
// side-band: the answer is the pack itself, after the shallow and NAK lines
// go-git reads.
func setBasicCaps(req *packp.UploadPackRequest, caps *capability.List) {
	for _, c := range []capability.Capability{capability.OFSDelta, capability.NoProgress} {
		if caps.Supports(c) {
			_ = req.Capabilities.Set(c)
		}
	}
	if caps.Supports(capability.Agent) {
		_ = req.Capabilities.Set(capability.Agent, capability.DefaultAgent())
	}
}

// sendUploadPack sends req and returns the pack that answers it, the
// sniffer holding the answer's first bytes (for ERR lines), and done, which
// closes the answer and the session. An ERR line instead of an answer is a
// *serverError.
func (r *Remote) sendUploadPack(ctx context.Context, req *packp.UploadPackRequest) (pack io.Reader, sn *sniffer, done func(), err error) {
	sess, err := r.client.NewUploadPackSession(r.ep, r.authMethod())
	if err != nil {
		return nil, nil, nil, r.classify(ctx, err)
	}
	sctx, sn := withSniffer(ctx)
	res, err := sess.UploadPack(sctx, req)
	if err != nil {
		sess.Close()
		if msg, ok := sn.errLine(); ok {
			return nil, nil, nil, &serverError{msg: msg}
		}
		return nil, nil, nil, r.classify(ctx, err)
	}
	return res, sn, func() {
		res.Close()
		sess.Close()
	}, nil
}

// storeLocked adds objects read from a pack to the store. Callers hold r.mu
// for writing.
func (r *Remote) storeLocked(objs []*packObject) error {
	for _, obj := range objs {
		if _, err := r.store.SetEncodedObject(obj); err != nil {
			return fmt.Errorf("storing object %s: %w", obj.Hash(), err)
		}
	}
	return nil
}

func shorts(hs []plumbing.Hash) string {
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = short(h)
	}
	return strings.Join(s, ", ")
}

// Fetch makes the commits and all their trees available locally with ONE
// depth-1 upload-pack request: without blobs (filter blob:none) when the
// server advertises `filter`, with them otherwise. When the Remote fetches
// trees by path (TreeFetch), it brings the commits with their first tree
// levels at most, and reads fetch the trees on their paths. Commits already held are
// skipped; if none is missing, no request is made. A commit the server
// refuses or does not send yields ErrCommitNotFound.
func (r *Remote) Fetch(ctx context.Context, commits ...plumbing.Hash) error {
	var missing []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	r.mu.RLock()
	for _, c := range commits {
		if seen[c] {
			continue
		}
		seen[c] = true
		if _, ok := r.store.ObjectStorage.Commits[c]; !ok {
			missing = append(missing, c)
		}
	}
	r.mu.RUnlock()
	if len(missing) == 0 {
		return nil
	}
	for _, c := range missing {
		if c.IsZero() {
			return fmt.Errorf("fetching from %s: zero commit hash: %w", r.url, ErrCommitNotFound)
		}
	}
	wrap := func(err error) error {
		return fmt.Errorf("fetching %s from %s: %w", shorts(missing), r.url, err)
	}
	caps, err := r.caps(ctx)
	if err != nil {
		return wrap(err)
	}
	if caps.Supports(capability.Filter) && r.treesByPath() {
		err = r.fetchCommitsByPath(ctx, caps, missing)
	} else {
		var filter packp.Filter
		if caps.Supports(capability.Filter) {
			filter = packp.FilterBlobNone()
		}
		// In TreesAuto the whole trees are read up to the size that makes
		// the repository large; past it the answer is dropped unread and
		// the commits come by path: the first promotion of a monorepo in
		// a process holds a few MB, not the whole trees.
		var limit int64
		if filter != "" && r.treeFetch == TreesAuto {
			limit = r.largeTree
		}
		before := r.received.Load()
		err = r.uploadPackN(ctx, caps, missing, r.haves(missing), 1, filter, limit, 0)
		r.noteTreeBytes(r.received.Load() - before)
		if errors.Is(err, errTooLarge) {
			err = r.fetchCommitsByPath(ctx, caps, missing)
		}
	}
	var se *serverError
	if errors.As(err, &se) && se.notOurRef() {
		for _, c := range missing {
			if strings.Contains(se.msg, c.String()) {
				return fmt.Errorf("fetching %s from %s: %w: %s", short(c), r.url, ErrCommitNotFound, notOurRefHelp)
			}
		}
		return wrap(fmt.Errorf("%w (%s): %s", ErrCommitNotFound, se.msg, notOurRefHelp))
	}
	if err != nil {
		return wrap(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range missing {
		if _, ok := r.store.ObjectStorage.Commits[c]; !ok {
			return fmt.Errorf("fetching %s from %s: server did not send it: %w", short(c), r.url, ErrCommitNotFound)
		}
	}
	r.rememberOnServer(missing...)
	return nil
}

// maxHaves bounds the commits offered as "have": the latest ones are the
// closest to any new tip.
const maxHaves = 16

// haves returns the latest commits known to be on the server (fetched, or
// pushed from here), except those wanted. Offering them lets the server
// leave out every tree they share with what is wanted, so fetching a tip
// that moved costs only the trees that changed.
func (r *Remote) haves(wants []plumbing.Hash) []plumbing.Hash {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []plumbing.Hash
	for i := len(r.onServer) - 1; i >= 0 && len(out) < maxHaves; i-- {
		h := r.onServer[i]
		if !slices.Contains(wants, h) && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}
