package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
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
	// No side-band: the answer is the pack itself, after the shallow and
	// NAK lines, which go-git reads.
	for _, c := range []capability.Capability{capability.OFSDelta, capability.NoProgress} {
		if caps.Supports(c) {
			_ = req.Capabilities.Set(c)
		}
	}
	if caps.Supports(capability.Agent) {
		_ = req.Capabilities.Set(capability.Agent, capability.DefaultAgent())
	}
	// Without `shallow` the whole history comes down, as in uploadPackN.
	if caps.Supports(capability.Shallow) {
		_ = req.Capabilities.Set(capability.Shallow)
		req.Depth = packp.DepthCommits(1)
	}

	sess, err := r.client.NewUploadPackSession(r.ep, r.authMethod())
	if err != nil {
		return r.classify(ctx, err)
	}
	defer sess.Close()
	sctx, sn := withSniffer(ctx)
	res, err := sess.UploadPack(sctx, req)
	if err != nil {
		if msg, ok := sn.errLine(); ok {
			return &serverError{msg: msg}
		}
		return r.classify(ctx, err)
	}
	defer res.Close()

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
	for _, obj := range objs {
		if _, err := r.store.SetEncodedObject(obj); err != nil {
			return fmt.Errorf("storing object %s: %w", obj.Hash(), err)
		}
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

// errCorruptPack is a pack that is not what it says it is.
var errCorruptPack = errors.New("corrupt pack")

// streamStats describes a pack read by readTreesAndCommits.
type streamStats struct {
	entries   int
	packBytes int64
	keptBytes int64
	resolved  int // deltas resolved into kept objects
}

// entryTypes maps the offset of every pack entry read so far to the type
// of its object (for a delta, its base's type), in pack order, in a few
// bytes per entry.
type entryTypes struct {
	offsets []int64
	types   []plumbing.ObjectType
}

func (e *entryTypes) add(off int64, t plumbing.ObjectType) {
	e.offsets = append(e.offsets, off)
	e.types = append(e.types, t)
}

func (e *entryTypes) at(off int64) (plumbing.ObjectType, bool) {
	i := sort.Search(len(e.offsets), func(i int) bool { return e.offsets[i] >= off })
	if i == len(e.offsets) || e.offsets[i] != off {
		return plumbing.InvalidObject, false
	}
	return e.types[i], true
}

// readTreesAndCommits reads a pack from rd, which need not seek, and
// returns its commits and trees, deltas resolved. Blobs, tags and deltas
// of them are inflated (the zlib checksums and the pack's checksum are
// verified) and dropped. held returns an object outside the pack that a
// REF_DELTA may use as base, or nil.
//
// A REF_DELTA whose base is neither a commit nor a tree of the pack, nor held,
// is taken for a blob delta (blob IDs are not computed): should it have been
// a tree, the tree walk reports the tree missing.
func readTreesAndCommits(rd io.Reader, held func(plumbing.Hash) plumbing.EncodedObject) (objs []*plumbing.MemoryObject, st streamStats, err error) {
	// go-git's scanner checks what it reads; this is the last line of
	// defence: a corrupt pack from the network must not bring the process
	// down.
	defer func() {
		if p := recover(); p != nil {
			objs, err = nil, fmt.Errorf("%w: %v", errCorruptPack, p)
		}
	}()
	cr := &countingReader{r: rd}
	sc := packfile.NewScanner(cr)
	_, count, err := sc.Header()
	if err != nil {
		return nil, st, fmt.Errorf("reading the pack header: %w", err)
	}
	var (
		types    entryTypes
		byOffset = map[int64]*plumbing.MemoryObject{}
		byHash   = map[plumbing.Hash]*plumbing.MemoryObject{}
		buf      bytes.Buffer // inflated content or delta, reused
	)
	types.offsets = make([]int64, 0, min(count, 1<<16))
	types.types = make([]plumbing.ObjectType, 0, min(count, 1<<16))
	for i := range count {
		h, err := sc.NextObjectHeader()
		if err != nil {
			return nil, st, fmt.Errorf("reading entry %d of %d: %w", i+1, count, err)
		}
		where := func(err error) error {
			return fmt.Errorf("reading entry %d of %d (%s at offset %d): %w", i+1, count, h.Type, h.Offset, err)
		}
		var (
			typ  plumbing.ObjectType
			base plumbing.EncodedObject
		)
		switch h.Type {
		case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
			typ = h.Type
		case plumbing.OFSDeltaObject:
			t, ok := types.at(h.OffsetReference)
			if !ok {
				return nil, st, where(fmt.Errorf("%w: no entry at base offset %d", errCorruptPack, h.OffsetReference))
			}
			typ = t
			if keepType(t) {
				obj, ok := byOffset[h.OffsetReference]
				if !ok {
					return nil, st, where(fmt.Errorf("%w: no %s at base offset %d", errCorruptPack, t, h.OffsetReference))
				}
				base = obj
			}
		case plumbing.REFDeltaObject:
			if obj, ok := byHash[h.Reference]; ok {
				base = obj
			} else if obj := held(h.Reference); obj != nil {
				base = obj
			}
			if base != nil {
				typ = base.Type()
			}
		default:
			return nil, st, where(fmt.Errorf("%w: invalid entry type", errCorruptPack))
		}
		types.add(h.Offset, typ)
		if !keepType(typ) {
			n, _, err := sc.NextObject(io.Discard)
			if err == nil && n != h.Length {
				err = fmt.Errorf("%w: %d bytes inflated, %d declared", errCorruptPack, n, h.Length)
			}
			if err != nil {
				return nil, st, where(err)
			}
			continue
		}
		if st.keptBytes+h.Length > maxKeptBytes {
			return nil, st, where(fmt.Errorf("commits and trees over %d bytes", maxKeptBytes))
		}
		buf.Reset()
		n, _, err := sc.NextObject(&buf)
		if err == nil && n != h.Length {
			err = fmt.Errorf("%w: %d bytes inflated, %d declared", errCorruptPack, n, h.Length)
		}
		if err != nil {
			return nil, st, where(err)
		}
		obj := &plumbing.MemoryObject{}
		obj.SetType(typ)
		if base == nil {
			_, _ = obj.Write(buf.Bytes())
		} else {
			if err := packfile.ApplyDelta(obj, base, buf.Bytes()); err != nil {
				return nil, st, where(fmt.Errorf("%w: applying delta: %w", errCorruptPack, err))
			}
			st.resolved++
		}
		st.keptBytes += obj.Size()
		if st.keptBytes > maxKeptBytes {
			return nil, st, where(fmt.Errorf("commits and trees over %d bytes", maxKeptBytes))
		}
		id := obj.Hash()
		byOffset[h.Offset] = obj
		if _, dup := byHash[id]; !dup {
			byHash[id] = obj
			objs = append(objs, obj)
		}
	}
	if _, err := sc.Checksum(); err != nil {
		return nil, st, fmt.Errorf("reading the pack checksum: %w", err)
	}
	st.entries = int(count)
	st.packBytes = cr.n
	return objs, st, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
