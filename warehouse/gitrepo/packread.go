package gitrepo

// Reading a pack as it streams in: go-git's packfile.Scanner for the
// entries, with sizes bounded from the headers before anything is inflated,
// deltas resolved in memory, and only the object types asked for kept.

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// errCorruptPack is a pack that is not what it says it is.
var errCorruptPack = errors.New("corrupt pack")

// errReadOnly is a write to an object read from a pack.
var errReadOnly = errors.New("object read from a pack is read-only")

// streamStats describes a pack read by readPack.
type streamStats struct {
	entries   int
	packBytes int64
	keptBytes int64
	resolved  int // deltas resolved into kept objects
}

// packObject is an object read from a pack. It is immutable: its ID is
// computed once, SetType and SetSize do nothing, and Writer fails.
type packObject struct {
	h    plumbing.Hash
	t    plumbing.ObjectType
	data []byte
}

// Hash returns the object ID.
func (o *packObject) Hash() plumbing.Hash { return o.h }

// Type returns the object type.
func (o *packObject) Type() plumbing.ObjectType { return o.t }

// SetType does nothing: the object is immutable.
func (o *packObject) SetType(plumbing.ObjectType) {}

// Size returns the size of the content.
func (o *packObject) Size() int64 { return int64(len(o.data)) }

// SetSize does nothing: the object is immutable.
func (o *packObject) SetSize(int64) {}

// Reader returns a seekable reader of the content, like a
// plumbing.MemoryObject's.
func (o *packObject) Reader() (io.ReadCloser, error) {
	return nopCloser{bytes.NewReader(o.data)}, nil
}

// Writer fails: the object is immutable.
func (o *packObject) Writer() (io.WriteCloser, error) { return nil, errReadOnly }

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// packOptions says what readPack keeps and where it finds the bases of
// a thin pack's deltas.
type packOptions struct {
	// keep says which objects to keep (for a delta, by its base's type);
	// nil keeps every object. The others are inflated, checked and
	// dropped.
	keep func(plumbing.ObjectType) bool
	// held returns an object outside the pack that a REF_DELTA may use
	// as base, or nil; held itself may be nil.
	held func(plumbing.Hash) plumbing.EncodedObject
	// maxKept bounds the bytes kept (0: no bound). Reading from a stream
	// needs it: a declared size is allocated before it is inflated.
	maxKept int64
	// packLen is the length of an in-memory pack (0: a stream): no entry
	// may declare more than deflate can expand the pack to.
	packLen int64
	// maxBlob bounds each blob kept, by the size its entry (or its delta)
	// declares, before it is inflated (0: no bound); over it is
	// ErrFileTooLarge.
	maxBlob int64
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
func readTreesAndCommits(rd io.Reader, held func(plumbing.Hash) plumbing.EncodedObject) ([]*packObject, streamStats, error) {
	return readPack(rd, packOptions{keep: keepType, held: held, maxKept: maxKeptBytes})
}

// readPackBytes reads the pack in pack, which it does not change and which
// the objects returned do not share.
func readPackBytes(pack []byte, opts packOptions) ([]*packObject, streamStats, error) {
	opts.packLen = int64(len(pack))
	return readPack(bytes.NewReader(pack), opts)
}

// readPack reads a pack from rd, which need not seek, as it arrives, with
// go-git's packfile.Scanner: it checks the signature, the version, each
// entry's zlib stream and inflated size against its header, and the
// trailer's SHA-1. On top of it readPack keeps only what opts asks for,
// bounds what it keeps before inflating it (sizes from the headers), and
// resolves deltas by offset in the pack or by ID from the pack or from
// opts.held. A REF_DELTA whose base is not known yet waits for the end of
// the pack when every type is kept (its base may come later); otherwise it
// is taken for a delta of a type not kept, whose IDs are not computed.
func readPack(rd io.Reader, opts packOptions) (objs []*packObject, st streamStats, err error) {
	// go-git's scanner checks what it reads; this is the last line of
	// defence: a corrupt pack from the network must not bring the process
	// down.
	defer func() {
		if v := recover(); v != nil {
			objs, err = nil, fmt.Errorf("%w: %v", errCorruptPack, v)
		}
	}()
	cr := &countingReader{r: rd}
	p := &packParser{opts: opts, sc: packfile.NewScanner(cr), all: true}
	for _, t := range []plumbing.ObjectType{plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject} {
		if !p.keep(t) {
			p.all = false
		}
	}
	_, count, err := p.sc.Header()
	if err != nil {
		return nil, p.st, fmt.Errorf("reading the pack header: %w", scanErr(err))
	}
	hint := int(min(count, 1<<16))
	p.offsets = make([]int64, 0, hint)
	p.types = make([]plumbing.ObjectType, 0, hint)
	p.objAt = make([]*packObject, 0, hint)
	p.byHash = make(map[plumbing.Hash]*packObject, hint)
	for i := range count {
		h, err := p.sc.NextObjectHeader()
		if err != nil {
			return nil, p.st, fmt.Errorf("reading entry %d of %d: %w", i+1, count, scanErr(err))
		}
		if err := p.entry(h); err != nil {
			return nil, p.st, fmt.Errorf("reading entry %d of %d (%s at offset %d): %w", i+1, count, h.Type, h.Offset, err)
		}
	}
	if _, err := p.sc.Checksum(); err != nil {
		return nil, p.st, fmt.Errorf("reading the pack checksum: %w", scanErr(err))
	}
	if err := p.resolvePending(); err != nil {
		return nil, p.st, err
	}
	p.st.entries = int(count)
	p.st.packBytes = cr.n
	return p.objs, p.st, nil
}

// scanErr marks what go-git's scanner refused as a corrupt pack, and a pack
// that ends too soon as one cut short; a failing source stays as it is.
func scanErr(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: pack cut short", errCorruptPack)
	case errors.Is(err, packfile.ErrMalformedPackFile), errors.Is(err, packfile.ErrBadSignature),
		errors.Is(err, packfile.ErrUnsupportedVersion), errors.Is(err, packfile.ErrInflatedSizeMismatch),
		errors.Is(err, zlib.ErrChecksum), errors.Is(err, zlib.ErrHeader):
		return fmt.Errorf("%w: %w", errCorruptPack, err)
	}
	var ce flate.CorruptInputError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %w", errCorruptPack, err)
	}
	return err
}

// packParser is the state of one readPack.
type packParser struct {
	opts packOptions
	all  bool // every type is kept: every entry's ID is known
	sc   *packfile.Scanner
	buf  bytes.Buffer // the entry being inflated

	// Every entry, in pack order: offset, type (for a delta, its base's;
	// InvalidObject while unknown), object if kept.
	offsets []int64
	types   []plumbing.ObjectType
	objAt   []*packObject

	byHash  map[plumbing.Hash]*packObject
	objs    []*packObject
	pending []pendingDelta
	st      streamStats
}

// pendingDelta is a delta whose base was not known when it was read.
type pendingDelta struct {
	entry   int
	ref     plumbing.Hash // base by ID, or
	baseOff int64         // by offset
	delta   []byte
}

func (p *packParser) keep(t plumbing.ObjectType) bool {
	if p.opts.keep == nil {
		return t.Valid() && !t.IsDelta()
	}
	return p.opts.keep(t)
}

// entry reads the entry whose header is h.
func (p *packParser) entry(h *packfile.ObjectHeader) error {
	switch h.Type {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		if !p.keep(h.Type) {
			p.add(h.Offset, h.Type, nil)
			return p.discard(h)
		}
		if err := p.checkBlob(h.Type, h.Length); err != nil {
			return err
		}
		data, err := p.inflate(h)
		if err != nil {
			return err
		}
		p.add(h.Offset, h.Type, p.newObject(h.Type, bytes.Clone(data)))
		return nil
	case plumbing.OFSDeltaObject:
		j, ok := p.find(h.OffsetReference)
		if !ok || h.OffsetReference >= h.Offset {
			return fmt.Errorf("%w: no entry at base offset %d", errCorruptPack, h.OffsetReference)
		}
		bt := p.types[j]
		if bt == plumbing.InvalidObject && p.all {
			// The base is a delta waiting for its own base.
			return p.wait(h, pendingDelta{baseOff: h.OffsetReference})
		}
		if !p.keep(bt) {
			p.add(h.Offset, bt, nil)
			return p.discard(h)
		}
		if p.objAt[j] == nil {
			return fmt.Errorf("%w: no %s at base offset %d", errCorruptPack, bt, h.OffsetReference)
		}
		return p.resolve(h, p.objAt[j])
	case plumbing.REFDeltaObject:
		var base plumbing.EncodedObject
		if obj, ok := p.byHash[h.Reference]; ok {
			base = obj
		} else if p.opts.held != nil {
			base = p.opts.held(h.Reference)
		}
		switch {
		case base != nil && p.keep(base.Type()):
			return p.resolve(h, base)
		case base != nil:
			p.add(h.Offset, base.Type(), nil)
			return p.discard(h)
		case p.all:
			return p.wait(h, pendingDelta{ref: h.Reference})
		default:
			// A delta of an object whose ID is not computed.
			p.add(h.Offset, plumbing.InvalidObject, nil)
			return p.discard(h)
		}
	default:
		return fmt.Errorf("%w: invalid entry type %d", errCorruptPack, h.Type)
	}
}

// checkSize refuses an entry of size bytes that would go over the bound,
// or that an in-memory pack could not inflate to (deflate expands at most
// 1032 times), before anything is allocated for it.
func (p *packParser) checkSize(size int64) error {
	if p.opts.maxKept > 0 && p.st.keptBytes+size > p.opts.maxKept {
		return fmt.Errorf("objects kept over %d bytes", p.opts.maxKept)
	}
	if p.opts.packLen > 0 && size > 1032*p.opts.packLen+64 {
		return fmt.Errorf("%w: %d bytes declared in a pack of %d bytes", errCorruptPack, size, p.opts.packLen)
	}
	return nil
}

// checkBlob refuses a blob that declares more than opts.maxBlob bytes.
func (p *packParser) checkBlob(t plumbing.ObjectType, size int64) error {
	if t == plumbing.BlobObject && p.opts.maxBlob > 0 && size > p.opts.maxBlob {
		return fmt.Errorf("%w: the pack declares a file of %d bytes, over the limit of %d bytes; it was not read", ErrFileTooLarge, size, p.opts.maxBlob)
	}
	return nil
}

// inflate reads the content of the entry h into p.buf, which it returns.
func (p *packParser) inflate(h *packfile.ObjectHeader) ([]byte, error) {
	if err := p.checkSize(h.Length); err != nil {
		return nil, err
	}
	p.buf.Reset()
	// The declared size is the server's word: grow as the content is
	// inflated (go-git stops it at that size), not all at once.
	p.buf.Grow(int(min(h.Length, 1<<20)))
	n, _, err := p.sc.NextObject(&p.buf)
	if err == nil && n != h.Length {
		err = fmt.Errorf("%w: %d bytes inflated, %d declared", errCorruptPack, n, h.Length)
	}
	if err != nil {
		return nil, scanErr(err)
	}
	return p.buf.Bytes(), nil
}

// discard inflates the entry h, checks it and drops it.
func (p *packParser) discard(h *packfile.ObjectHeader) error {
	n, _, err := p.sc.NextObject(io.Discard)
	if err == nil && n != h.Length {
		err = fmt.Errorf("%w: %d bytes inflated, %d declared", errCorruptPack, n, h.Length)
	}
	return scanErr(err)
}

// add records the entry at off.
func (p *packParser) add(off int64, t plumbing.ObjectType, obj *packObject) {
	p.offsets = append(p.offsets, off)
	p.types = append(p.types, t)
	p.objAt = append(p.objAt, obj)
}

// find returns the index of the entry at off.
func (p *packParser) find(off int64) (int, bool) {
	return slices.BinarySearch(p.offsets, off)
}

// newObject returns the object of type t with content data (which it
// keeps), or the one with the same ID kept already.
func (p *packParser) newObject(t plumbing.ObjectType, data []byte) *packObject {
	p.st.keptBytes += int64(len(data))
	id := plumbing.ComputeHash(t, data)
	if obj, ok := p.byHash[id]; ok {
		return obj
	}
	obj := &packObject{h: id, t: t, data: data}
	p.byHash[id] = obj
	p.objs = append(p.objs, obj)
	return obj
}

// resolve reads the delta h against base and keeps the result.
func (p *packParser) resolve(h *packfile.ObjectHeader, base plumbing.EncodedObject) error {
	delta, err := p.inflate(h)
	if err != nil {
		return err
	}
	obj, err := p.apply(base, delta)
	if err != nil {
		return err
	}
	p.add(h.Offset, obj.t, obj)
	return nil
}

// wait reads the delta h and keeps it until its base is known.
func (p *packParser) wait(h *packfile.ObjectHeader, pd pendingDelta) error {
	delta, err := p.inflate(h)
	if err != nil {
		return err
	}
	pd.entry = len(p.offsets)
	pd.delta = bytes.Clone(delta)
	p.pending = append(p.pending, pd)
	p.add(h.Offset, plumbing.InvalidObject, nil)
	return nil
}

// apply applies delta to base with go-git's PatchDelta and keeps the
// result, after checking the size the delta declares against the bound.
func (p *packParser) apply(base plumbing.EncodedObject, delta []byte) (*packObject, error) {
	src, err := objectData(base)
	if err != nil {
		return nil, fmt.Errorf("reading delta base %s: %w", base.Hash(), err)
	}
	_, rest, err := deltaSize(delta)
	if err != nil {
		return nil, fmt.Errorf("%w: applying delta on %s: %w", errCorruptPack, base.Hash(), err)
	}
	size, _, err := deltaSize(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: applying delta on %s: %w", errCorruptPack, base.Hash(), err)
	}
	if size > 1<<62 {
		return nil, fmt.Errorf("%w: applying delta on %s: result of %d bytes", errCorruptPack, base.Hash(), size)
	}
	if err := p.checkBlob(base.Type(), int64(size)); err != nil {
		return nil, err
	}
	if err := p.checkSize(int64(size)); err != nil {
		return nil, fmt.Errorf("applying delta on %s: %w", base.Hash(), err)
	}
	data, err := packfile.PatchDelta(src, delta)
	if err != nil {
		return nil, fmt.Errorf("%w: applying delta on %s: %w", errCorruptPack, base.Hash(), err)
	}
	p.st.resolved++
	return p.newObject(base.Type(), data), nil
}

// resolvePending resolves the deltas whose bases came after them.
func (p *packParser) resolvePending() error {
	for len(p.pending) > 0 {
		rest := p.pending[:0]
		for _, pd := range p.pending {
			var base plumbing.EncodedObject
			if pd.ref.IsZero() {
				if j, ok := p.find(pd.baseOff); ok && p.objAt[j] != nil {
					base = p.objAt[j]
				}
			} else if obj, ok := p.byHash[pd.ref]; ok {
				base = obj
			} else if p.opts.held != nil {
				base = p.opts.held(pd.ref)
			}
			if base == nil {
				rest = append(rest, pd)
				continue
			}
			obj, err := p.apply(base, pd.delta)
			if err != nil {
				return fmt.Errorf("reading the delta at offset %d: %w", p.offsets[pd.entry], err)
			}
			p.types[pd.entry], p.objAt[pd.entry] = obj.t, obj
		}
		if len(rest) == len(p.pending) {
			pd := rest[0]
			if pd.ref.IsZero() {
				return fmt.Errorf("%w: the delta at offset %d has no base", errCorruptPack, p.offsets[pd.entry])
			}
			return fmt.Errorf("the delta at offset %d: %w: %s is neither in the pack nor held", p.offsets[pd.entry], packfile.ErrReferenceDeltaNotFound, pd.ref)
		}
		p.pending = rest
	}
	return nil
}

// objectData returns the content of obj.
func objectData(obj plumbing.EncodedObject) ([]byte, error) {
	if o, ok := obj.(*packObject); ok {
		return o.data, nil
	}
	rd, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// deltaSize decodes a size at the start of a delta.
func deltaSize(b []byte) (uint64, []byte, error) {
	var v uint64
	for i, shift := 0, 0; i < len(b); i, shift = i+1, shift+7 {
		if shift > 63 {
			break
		}
		v |= uint64(b[i]&0x7f) << shift
		if b[i]&0x80 == 0 {
			return v, b[i+1:], nil
		}
	}
	return 0, nil, fmt.Errorf("%w: bad size", packfile.ErrInvalidDelta)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
