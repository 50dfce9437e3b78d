package gitrepo

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// seedPack encodes a small repository (blobs that delta against each
// other, trees, a commit) as go-git's encoder does, with OFS or REF deltas.
func seedPack(tb testing.TB, refDeltas bool) []byte {
	tb.Helper()
	st := memory.NewStorage()
	var hashes []plumbing.Hash
	add := func(o interface {
		Encode(plumbing.EncodedObject) error
	}) plumbing.Hash {
		obj := st.NewEncodedObject()
		if err := o.Encode(obj); err != nil {
			tb.Fatal(err)
		}
		h, err := st.SetEncodedObject(obj)
		if err != nil {
			tb.Fatal(err)
		}
		hashes = append(hashes, h)
		return h
	}
	blob := func(s string) plumbing.Hash {
		obj := st.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		w, _ := obj.Writer()
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		h, err := st.SetEncodedObject(obj)
		if err != nil {
			tb.Fatal(err)
		}
		hashes = append(hashes, h)
		return h
	}
	long := strings.Repeat("targetRevision: 0123456789abcdef\n", 40)
	b1, b2 := blob(long+"image: a:1\n"), blob(long+"image: a:2\n")
	sub := add(&object.Tree{Entries: []object.TreeEntry{{Name: "a.yaml", Mode: filemode.Regular, Hash: b1}, {Name: "b.yaml", Mode: filemode.Regular, Hash: b2}}})
	root := add(&object.Tree{Entries: []object.TreeEntry{{Name: "apps", Mode: filemode.Dir, Hash: sub}, {Name: "c.yaml", Mode: filemode.Regular, Hash: b1}}})
	sig := object.Signature{Name: "f", Email: "f@example.invalid"}
	add(&object.Commit{Author: sig, Committer: sig, Message: "m\n", TreeHash: root})
	var buf bytes.Buffer
	if _, err := packfile.NewEncoder(&buf, st, refDeltas).Encode(hashes, 10); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzReadPack feeds bytes a Git host could send as a pack to readPack, as
// a stream and in memory, keeping everything or only commits and trees
// under a small bound. Whatever the input: no panic (readPack turns one
// into an error; a runtime error there is a bug), every object returned has
// the ID of its content and a kept type, the bound holds, and both ways of
// reading agree.
func FuzzReadPack(f *testing.F) {
	for _, ref := range []bool{false, true} {
		p := seedPack(f, ref)
		f.Add(p)
		f.Add(p[:len(p)-1]) // trailer cut
		f.Add(p[:len(p)/2]) // pack cut
		f.Add(append([]byte(nil), p[:12]...))
		flipped := bytes.Clone(p)
		flipped[len(p)/2] ^= 0x40
		f.Add(flipped)
	}
	f.Add([]byte("PACK\x00\x00\x00\x02\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, pack []byte) {
		const bound = 64 << 10
		for _, opts := range []packOptions{{}, {keep: keepType, maxKept: bound}} {
			mem, _, memErr := readPackBytes(pack, opts)
			str, _, strErr := readPack(bytes.NewReader(pack), opts)
			for _, err := range []error{memErr, strErr} {
				if err != nil && strings.Contains(err.Error(), "runtime error") {
					t.Fatalf("readPack panicked: %v", err)
				}
			}
			if (memErr == nil) != (strErr == nil) || len(mem) != len(str) {
				t.Fatalf("in memory: %d objects, %v; as a stream: %d objects, %v", len(mem), memErr, len(str), strErr)
			}
			var kept int64
			for _, o := range mem {
				if o.h != plumbing.ComputeHash(o.t, o.data) {
					t.Fatalf("object %s does not hash to its ID", o.h)
				}
				if opts.keep != nil && !opts.keep(o.t) {
					t.Fatalf("kept a %s", o.t)
				}
				kept += int64(len(o.data))
			}
			if opts.maxKept > 0 && kept > opts.maxKept {
				t.Fatalf("kept %d bytes, bound %d", kept, opts.maxKept)
			}
		}
	})
}

// FuzzSnifferErrLine: whatever an upload-pack answer starts with, errLine
// does not panic, and a message it finds is the text of an "ERR " pkt-line
// of the input.
func FuzzSnifferErrLine(f *testing.F) {
	f.Add([]byte("0008NAK\nPACK"))
	f.Add([]byte("0000001bERR upload-pack: not our ref 0123\n"))
	f.Add([]byte("0033shallow 0123456789012345678901234567890123456789\n0000PACK"))
	f.Add([]byte("000"))
	f.Add([]byte("0003"))
	f.Fuzz(func(t *testing.T, answer []byte) {
		s := &sniffer{}
		s.write(answer)
		msg, ok := s.errLine()
		if ok && (!bytes.Contains(answer, []byte("ERR ")) || !bytes.Contains(answer, []byte(msg))) {
			t.Fatalf("errLine %q is not the text of an ERR line in the answer %q", msg, answer)
		}
		if !ok && msg != "" {
			t.Fatalf("errLine gave %q without ok", msg)
		}
		_ = s.advertises("side-band-64k")
	})
}

// FuzzServerWords: what a server sends on the side-band of a refused push
// reaches the error message without control characters (no terminal
// escapes), bounded, whatever it was.
func FuzzServerWords(f *testing.F) {
	f.Add([]byte("error: remote unpack failed\nfatal: The same object 0123 appears twice in the pack\n"))
	f.Add([]byte("Resolving deltas: 100% (3/3), done.\r\x1b[31mGH006: Protected branch\x1b[0m\n"))
	f.Fuzz(func(t *testing.T, sent []byte) {
		w := &serverWords{}
		for len(sent) > 0 { // as the demuxer hands it over, in pieces
			n := min(len(sent), 7)
			_, _ = w.Write(sent[:n])
			sent = sent[n:]
		}
		said := w.said()
		for _, r := range said {
			if r < ' ' || r == 0x7f {
				t.Fatalf("control character %q in %q", r, said)
			}
		}
		if len(said) > maxSaid+64 {
			t.Fatalf("%d bytes said, over the bound", len(said))
		}
	})
}

// TestSeedPackReadsBack checks the fuzz seed itself, so that the fuzz
// targets start from a pack readPack accepts.
func TestSeedPackReadsBack(t *testing.T) {
	for _, ref := range []bool{false, true} {
		objs, st, err := readPackBytes(seedPack(t, ref), packOptions{})
		if err != nil || len(objs) != 5 {
			t.Fatalf("ref deltas %v: %d objects, %v", ref, len(objs), err)
		}
		if st.resolved == 0 {
			t.Errorf("ref deltas %v: no delta in the seed (%s)", ref, fmt.Sprint(st))
		}
	}
}
