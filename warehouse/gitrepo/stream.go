package gitrepo

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	gohash "hash"
	"hash/adler32"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/hash"
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

// readPack reads a pack from rd, which need not seek, as it arrives: see
// packOptions.
func readPack(rd io.Reader, opts packOptions) ([]*packObject, streamStats, error) {
	p := newPackParser(opts)
	defer p.done()
	p.rd.src, p.rd.buf = rd, p.scr.buf
	return p.parse()
}

// readPackBytes reads the pack in pack, which it does not change and which
// the objects returned do not share.
func readPackBytes(pack []byte, opts packOptions) ([]*packObject, streamStats, error) {
	p := newPackParser(opts)
	defer p.done()
	p.rd.buf, p.rd.w = pack, len(pack)
	return p.parse()
}

// packParser reads one pack. Every entry is inflated and checked; the
// objects kept have their deltas resolved, by offset inside the pack or by
// ID from the pack or from opts.held. A REF_DELTA whose base is not known
// yet waits for the end of the pack when every type is kept (its base may
// come later); otherwise it is taken for a delta of a type not kept, whose
// IDs are not computed.
type packParser struct {
	opts  packOptions
	all   bool // every type is kept: every entry's ID is known
	rd    packReader
	scr   *packScratch
	adler gohash.Hash32 // of the entry being inflated
	idh   gohash.Hash   // go-git's SHA-1 (collision-detecting), for IDs
	hdr   [32]byte      // object header, hashed before the content
	one   [1]byte
	small [20]byte // read, without an allocation each time

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

// packScratch is what reading a pack needs whatever the pack, kept from
// one pack to the next.
type packScratch struct {
	fr    io.ReadCloser // flate reader, reset for each entry
	buf   []byte        // read buffer, when reading from a stream
	delta []byte        // the inflated delta, or what is inflated and dropped
}

// noBytes is what an idle flate reader points to; it is never read.
var noBytes = bytes.NewReader(nil)

var scratchPool = sync.Pool{New: func() any { return &packScratch{buf: make([]byte, 64<<10)} }}

// done gives the scratch back, unless a delta made it big.
func (p *packParser) done() {
	if p.scr != nil && cap(p.scr.delta) <= 1<<20 {
		if p.scr.fr != nil {
			// Let go of this parser, and of what it read.
			_ = p.scr.fr.(flate.Resetter).Reset(noBytes, nil)
		}
		p.rd.src, p.rd.buf = nil, nil
		scratchPool.Put(p.scr)
	}
	p.scr = nil
}

// pendingDelta is a delta whose base was not known when it was read.
type pendingDelta struct {
	entry   int
	ref     plumbing.Hash // base by ID, or
	baseOff int64         // by offset
	delta   []byte
}

func newPackParser(opts packOptions) *packParser {
	p := &packParser{opts: opts, idh: hash.New(hash.CryptoType), adler: adler32.New(), scr: scratchPool.Get().(*packScratch)}
	p.rd.sum = sha1.New()
	p.all = true
	for _, t := range []plumbing.ObjectType{plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject} {
		if !p.keep(t) {
			p.all = false
		}
	}
	return p
}

func (p *packParser) keep(t plumbing.ObjectType) bool {
	if p.opts.keep == nil {
		return t.Valid() && !t.IsDelta()
	}
	return p.opts.keep(t)
}

func (p *packParser) parse() (objs []*packObject, st streamStats, err error) {
	// The reader checks what it reads; this is the last line of defence:
	// a corrupt pack from the network must not bring the process down.
	defer func() {
		if v := recover(); v != nil {
			objs, err = nil, fmt.Errorf("%w: %v", errCorruptPack, v)
		}
	}()
	var head [12]byte
	if err := p.rd.readFull(head[:]); err != nil {
		return nil, p.st, fmt.Errorf("reading the pack header: %w", p.readErr(err))
	}
	if string(head[:4]) != "PACK" {
		return nil, p.st, fmt.Errorf("%w: no pack signature", errCorruptPack)
	}
	if v := binary.BigEndian.Uint32(head[4:]); v != 2 && v != 3 {
		return nil, p.st, fmt.Errorf("%w: pack version %d", errCorruptPack, v)
	}
	count := binary.BigEndian.Uint32(head[8:])
	hint := int(min(count, 1<<16))
	p.offsets = make([]int64, 0, hint)
	p.types = make([]plumbing.ObjectType, 0, hint)
	p.objAt = make([]*packObject, 0, hint)
	p.byHash = make(map[plumbing.Hash]*packObject, hint)
	for i := range count {
		off := p.rd.offset()
		if err := p.entry(off); err != nil {
			return nil, p.st, fmt.Errorf("reading entry %d of %d at offset %d: %w", i+1, count, off, err)
		}
	}
	if err := p.checksum(); err != nil {
		return nil, p.st, err
	}
	if err := p.resolvePending(); err != nil {
		return nil, p.st, err
	}
	p.st.entries = int(count)
	p.st.packBytes = p.rd.offset()
	return p.objs, p.st, nil
}

// readErr tells a source that failed from a pack that ends too soon or is
// corrupt.
func (p *packParser) readErr(err error) error {
	if p.rd.err != nil && !errors.Is(p.rd.err, io.EOF) {
		return p.rd.err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: pack cut short", errCorruptPack)
	}
	if errors.Is(err, errCorruptPack) {
		return err
	}
	return fmt.Errorf("%w: %w", errCorruptPack, err)
}

// entry reads the entry at offset off.
func (p *packParser) entry(off int64) error {
	c, err := p.rd.ReadByte()
	if err != nil {
		return p.readErr(err)
	}
	typ := plumbing.ObjectType((c >> 4) & 7)
	size := int64(c & 15)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if shift > 64-7 {
			return fmt.Errorf("%w: entry size overflows", errCorruptPack)
		}
		if c, err = p.rd.ReadByte(); err != nil {
			return p.readErr(err)
		}
		size += int64(c&0x7f) << shift
	}
	if size < 0 {
		return fmt.Errorf("%w: entry size overflows", errCorruptPack)
	}
	switch typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		if !p.keep(typ) {
			p.add(off, typ, nil)
			return p.discard(size)
		}
		if err := p.checkSize(size); err != nil {
			return err
		}
		data := make([]byte, size)
		if err := p.inflate(data); err != nil {
			return err
		}
		p.add(off, typ, p.newObject(typ, data))
		return nil
	case plumbing.OFSDeltaObject:
		c, err := p.rd.ReadByte()
		if err != nil {
			return p.readErr(err)
		}
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if rel >= 1<<(63-7)-1 {
				return fmt.Errorf("%w: base offset overflows", errCorruptPack)
			}
			if c, err = p.rd.ReadByte(); err != nil {
				return p.readErr(err)
			}
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		if rel <= 0 || rel > off {
			return fmt.Errorf("%w: base offset %d back is outside the pack", errCorruptPack, rel)
		}
		j, ok := p.find(off - rel)
		if !ok {
			return fmt.Errorf("%w: no entry at base offset %d", errCorruptPack, off-rel)
		}
		bt := p.types[j]
		if bt == plumbing.InvalidObject && p.all {
			// The base is a delta waiting for its own base.
			return p.wait(off, size, pendingDelta{baseOff: off - rel})
		}
		if !p.keep(bt) {
			p.add(off, bt, nil)
			return p.discard(size)
		}
		if p.objAt[j] == nil {
			return fmt.Errorf("%w: no %s at base offset %d", errCorruptPack, bt, off-rel)
		}
		return p.resolve(off, size, p.objAt[j])
	case plumbing.REFDeltaObject:
		if err := p.rd.readFull(p.small[:20]); err != nil {
			return p.readErr(err)
		}
		ref := plumbing.Hash(p.small[:20])
		var base plumbing.EncodedObject
		if obj, ok := p.byHash[ref]; ok {
			base = obj
		} else if p.opts.held != nil {
			base = p.opts.held(ref)
		}
		switch {
		case base != nil && p.keep(base.Type()):
			return p.resolve(off, size, base)
		case base != nil:
			p.add(off, base.Type(), nil)
			return p.discard(size)
		case p.all:
			return p.wait(off, size, pendingDelta{ref: ref})
		default:
			// A delta of an object whose ID is not computed.
			p.add(off, plumbing.InvalidObject, nil)
			return p.discard(size)
		}
	default:
		return fmt.Errorf("%w: invalid entry type %d", errCorruptPack, typ)
	}
}

// checkSize refuses an object of size bytes that would go over the bound,
// or that the rest of an in-memory pack could not inflate to (deflate
// expands at most 1032 times).
func (p *packParser) checkSize(size int64) error {
	if p.opts.maxKept > 0 && p.st.keptBytes+size > p.opts.maxKept {
		return fmt.Errorf("objects kept over %d bytes", p.opts.maxKept)
	}
	if p.rd.src == nil && size > 1032*int64(p.rd.w-p.rd.r)+64 {
		return fmt.Errorf("%w: %d bytes declared in %d bytes of pack", errCorruptPack, size, p.rd.w-p.rd.r)
	}
	return nil
}

// add records the entry at off.
func (p *packParser) add(off int64, t plumbing.ObjectType, obj *packObject) {
	p.offsets = append(p.offsets, off)
	p.types = append(p.types, t)
	p.objAt = append(p.objAt, obj)
}

// find returns the index of the entry at off.
func (p *packParser) find(off int64) (int, bool) {
	i, ok := slices.BinarySearch(p.offsets, off)
	return i, ok
}

// newObject returns the object of type t with content data (which it
// keeps), or the one with the same ID kept already.
func (p *packParser) newObject(t plumbing.ObjectType, data []byte) *packObject {
	p.st.keptBytes += int64(len(data))
	hdr := append(p.hdr[:0], typeName(t)...)
	hdr = append(hdr, ' ')
	hdr = strconv.AppendInt(hdr, int64(len(data)), 10)
	hdr = append(hdr, 0)
	p.idh.Reset()
	_, _ = p.idh.Write(hdr)
	_, _ = p.idh.Write(data)
	var id plumbing.Hash
	p.idh.Sum(id[:0])
	if obj, ok := p.byHash[id]; ok {
		return obj
	}
	obj := &packObject{h: id, t: t, data: data}
	p.byHash[id] = obj
	p.objs = append(p.objs, obj)
	return obj
}

func typeName(t plumbing.ObjectType) string {
	switch t {
	case plumbing.CommitObject:
		return "commit"
	case plumbing.TreeObject:
		return "tree"
	case plumbing.BlobObject:
		return "blob"
	case plumbing.TagObject:
		return "tag"
	}
	return t.String()
}

// resetInflater reads the zlib header of the next entry and starts
// inflating it. The zlib framing is read here, not by compress/zlib, so
// that one flate reader and one Adler-32 serve every entry.
func (p *packParser) resetInflater() error {
	hdr := p.small[:2]
	if err := p.rd.readFull(hdr); err != nil {
		return p.readErr(err)
	}
	if hdr[0]&0x0f != 8 || hdr[0]>>4 > 7 || binary.BigEndian.Uint16(hdr)%31 != 0 {
		return fmt.Errorf("%w: bad zlib header %x", errCorruptPack, hdr)
	}
	if hdr[1]&0x20 != 0 {
		return fmt.Errorf("%w: zlib preset dictionary", errCorruptPack)
	}
	if p.scr.fr == nil {
		p.scr.fr = flate.NewReader(&p.rd)
	} else if err := p.scr.fr.(flate.Resetter).Reset(&p.rd, nil); err != nil {
		return p.readErr(err)
	}
	p.adler.Reset()
	return nil
}

// endInflate checks that the entry's deflate stream ends here and that its
// Adler-32 trailer matches.
func (p *packParser) endInflate(declared int64) error {
	n, err := p.scr.fr.Read(p.one[:])
	if n > 0 {
		return fmt.Errorf("%w: more bytes inflated than the %d declared", errCorruptPack, declared)
	}
	if err != io.EOF {
		return p.readErr(err)
	}
	sum := p.small[:4]
	if err := p.rd.readFull(sum); err != nil {
		return p.readErr(err)
	}
	if binary.BigEndian.Uint32(sum) != p.adler.Sum32() {
		return fmt.Errorf("%w: zlib checksum mismatch", errCorruptPack)
	}
	return nil
}

// inflate inflates the entry's content into dst, which has the declared
// size, and checks it ends there.
func (p *packParser) inflate(dst []byte) error {
	if err := p.resetInflater(); err != nil {
		return err
	}
	if _, err := io.ReadFull(p.scr.fr, dst); err != nil {
		if (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && !p.rd.exhausted() {
			return fmt.Errorf("%w: fewer bytes inflated than the %d declared", errCorruptPack, len(dst))
		}
		return p.readErr(err)
	}
	_, _ = p.adler.Write(dst)
	return p.endInflate(int64(len(dst)))
}

// discard inflates size bytes and drops them.
func (p *packParser) discard(size int64) error {
	if err := p.resetInflater(); err != nil {
		return err
	}
	if cap(p.scr.delta) < 32<<10 {
		p.scr.delta = make([]byte, 32<<10)
	}
	buf := p.scr.delta[:cap(p.scr.delta)]
	var n int64
	for {
		m, err := p.scr.fr.Read(buf)
		n += int64(m)
		if n > size {
			return fmt.Errorf("%w: more bytes inflated than the %d declared", errCorruptPack, size)
		}
		_, _ = p.adler.Write(buf[:m])
		if err == io.EOF {
			break
		}
		if err != nil {
			return p.readErr(err)
		}
	}
	if n != size {
		return fmt.Errorf("%w: %d bytes inflated, %d declared", errCorruptPack, n, size)
	}
	return p.endInflate(size)
}

// readDelta inflates a delta of size bytes into p.delta.
func (p *packParser) readDelta(size int64) ([]byte, error) {
	if err := p.checkSize(size); err != nil {
		return nil, err
	}
	if int64(cap(p.scr.delta)) < size {
		p.scr.delta = make([]byte, max(size, 32<<10))
	}
	d := p.scr.delta[:size]
	return d, p.inflate(d)
}

// resolve reads the delta at off against base and keeps the result.
func (p *packParser) resolve(off, size int64, base plumbing.EncodedObject) error {
	delta, err := p.readDelta(size)
	if err != nil {
		return err
	}
	obj, err := p.apply(base, delta)
	if err != nil {
		return err
	}
	p.add(off, obj.t, obj)
	return nil
}

// wait reads the delta at off and keeps it until its base is known.
func (p *packParser) wait(off, size int64, pd pendingDelta) error {
	delta, err := p.readDelta(size)
	if err != nil {
		return err
	}
	pd.entry = len(p.offsets)
	pd.delta = bytes.Clone(delta)
	p.pending = append(p.pending, pd)
	p.add(off, plumbing.InvalidObject, nil)
	return nil
}

// apply applies delta to base and keeps the result.
func (p *packParser) apply(base plumbing.EncodedObject, delta []byte) (*packObject, error) {
	src, err := objectData(base)
	if err != nil {
		return nil, fmt.Errorf("reading delta base %s: %w", base.Hash(), err)
	}
	limit := int64(-1)
	if p.opts.maxKept > 0 {
		limit = max(p.opts.maxKept-p.st.keptBytes, 0)
	}
	data, err := patchDelta(src, delta, limit)
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

// checksum checks the pack's trailer: the SHA-1 of all that precedes it.
func (p *packParser) checksum() error {
	p.rd.hashConsumed()
	var want, got [20]byte
	p.rd.sum.Sum(want[:0])
	if err := p.rd.readFull(got[:]); err != nil {
		return fmt.Errorf("reading the pack checksum: %w", p.readErr(err))
	}
	if want != got {
		return fmt.Errorf("%w: pack checksum %x, content hashes to %x", errCorruptPack, got, want)
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
	data := make([]byte, 0, max(obj.Size(), 0)+1)
	for {
		n, err := rd.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
		if len(data) == cap(data) {
			data = slices.Grow(data, 4<<10)
		}
	}
}

// patchDelta applies delta to src as git's patch-delta.c does. The result
// may not be over limit bytes (negative: no bound). It grows as the delta
// is applied, so a delta cannot make it allocate what it does not write.
func patchDelta(src, delta []byte, limit int64) ([]byte, error) {
	srcSize, delta, err := deltaSize(delta)
	if err != nil {
		return nil, err
	}
	if srcSize != uint64(len(src)) {
		return nil, fmt.Errorf("%w: base of %d bytes, %d expected", packfile.ErrInvalidDelta, len(src), srcSize)
	}
	dstSize, delta, err := deltaSize(delta)
	if err != nil {
		return nil, err
	}
	if dstSize > 1<<62 || (limit >= 0 && int64(dstSize) > limit) {
		return nil, fmt.Errorf("%w: result of %d bytes", packfile.ErrInvalidDelta, dstSize)
	}
	dst := make([]byte, 0, min(dstSize, uint64(len(src))+uint64(len(delta))))
	for len(delta) > 0 {
		cmd := delta[0]
		delta = delta[1:]
		switch {
		case cmd&0x80 != 0:
			var off, n uint64
			for i := range 4 {
				if cmd&(1<<i) != 0 {
					if len(delta) == 0 {
						return nil, packfile.ErrInvalidDelta
					}
					off |= uint64(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			for i := range 3 {
				if cmd&(0x10<<i) != 0 {
					if len(delta) == 0 {
						return nil, packfile.ErrInvalidDelta
					}
					n |= uint64(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > uint64(len(src)) || n > dstSize-uint64(len(dst)) {
				return nil, packfile.ErrInvalidDelta
			}
			dst = append(dst, src[off:off+n]...)
		case cmd != 0:
			n := uint64(cmd)
			if n > uint64(len(delta)) || n > dstSize-uint64(len(dst)) {
				return nil, packfile.ErrInvalidDelta
			}
			dst = append(dst, delta[:n]...)
			delta = delta[n:]
		default:
			return nil, packfile.ErrDeltaCmd
		}
	}
	if uint64(len(dst)) != dstSize {
		return nil, fmt.Errorf("%w: %d bytes written, %d declared", packfile.ErrInvalidDelta, len(dst), dstSize)
	}
	return dst, nil
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

// packReader reads a pack, from src through buf or, without src, from buf
// alone, counting the offset and hashing what it consumes with SHA-1 (for
// the trailer only: crypto/sha1 is several times faster than the
// collision-detecting one IDs need). It is the io.ByteReader that zlib
// wants, so that inflating reads no byte past the end of an entry.
type packReader struct {
	src    io.Reader
	buf    []byte
	r, w   int
	hashed int   // buf[:hashed] is hashed
	base   int64 // pack offset of buf[0]
	sum    gohash.Hash
	err    error // from src
}

func (p *packReader) offset() int64 { return p.base + int64(p.r) }

// exhausted reports whether the pack ended, or its source failed.
func (p *packReader) exhausted() bool {
	return p.r == p.w && (p.src == nil || p.err != nil)
}

// hashConsumed hashes what was consumed and is not hashed yet.
func (p *packReader) hashConsumed() {
	if p.r > p.hashed {
		_, _ = p.sum.Write(p.buf[p.hashed:p.r])
		p.hashed = p.r
	}
}

// fill reads more of src into buf.
func (p *packReader) fill() error {
	if p.src == nil {
		return io.ErrUnexpectedEOF
	}
	if p.err != nil {
		return p.err
	}
	p.hashConsumed()
	n := copy(p.buf, p.buf[p.r:p.w])
	p.base += int64(p.r)
	p.r, p.w, p.hashed = 0, n, 0
	for range 100 {
		m, err := p.src.Read(p.buf[p.w:])
		p.w += m
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			p.err = err
		}
		if m > 0 {
			return nil
		}
		if p.err != nil {
			return p.err
		}
	}
	p.err = io.ErrNoProgress
	return p.err
}

// ReadByte reads one byte.
func (p *packReader) ReadByte() (byte, error) {
	if p.r == p.w {
		if err := p.fill(); err != nil {
			return 0, err
		}
	}
	c := p.buf[p.r]
	p.r++
	return c, nil
}

// Read reads what is buffered, or fills the buffer first.
func (p *packReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if p.r == p.w {
		if err := p.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(b, p.buf[p.r:p.w])
	p.r += n
	return n, nil
}

func (p *packReader) readFull(b []byte) error {
	_, err := io.ReadFull(p, b)
	return err
}
