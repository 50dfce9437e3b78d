package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/argo-refs/argo-refs/internal/faults"
	"github.com/argo-refs/argo-refs/internal/gittest"
)

// ReadTreesAndCommitsForTest reads pack as the source check does.
func ReadTreesAndCommitsForTest(pack []byte) (int, error) {
	objs, _, err := readTreesAndCommits(bytes.NewReader(pack), func(plumbing.Hash) plumbing.EncodedObject { return nil })
	return len(objs), err
}

// ReadPackBytesForTest reads pack as uploadPackN does, keeping every object.
func ReadPackBytesForTest(pack []byte) (int, error) {
	objs, _, err := readPackBytes(pack, packOptions{})
	return len(objs), err
}

// ParseWithGoGitForTest reads pack with go-git's Parser, as uploadPackN
// did before it had its own reader.
func ParseWithGoGitForTest(pack []byte) (int, error) {
	tmp := memory.NewStorage()
	parser, err := packfile.NewParserWithStorage(packfile.NewScanner(bytes.NewReader(pack)), &tmp.ObjectStorage)
	if err == nil {
		_, err = parser.Parse()
	}
	return len(tmp.ObjectStorage.Objects), err
}

// layered writes into ObjectStorage and reads from it, then from base: how
// go-git's Parser is given the bases of a thin pack's deltas.
type layered struct {
	*memory.ObjectStorage
	base *memory.ObjectStorage
}

func (l layered) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := l.ObjectStorage.EncodedObject(t, h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return l.base.EncodedObject(t, h)
	}
	return obj, err
}

// storedObject is an object's type and content.
type storedObject struct {
	t    plumbing.ObjectType
	data []byte
}

// storeSnapshot copies the objects of s.
func storeSnapshot(t *testing.T, s *memory.ObjectStorage) map[plumbing.Hash]storedObject {
	t.Helper()
	out := make(map[plumbing.Hash]storedObject, len(s.Objects))
	for id, obj := range s.Objects {
		data, err := objectData(obj)
		if err != nil {
			t.Fatalf("reading %s: %v", id, err)
		}
		if int64(len(data)) != obj.Size() {
			t.Fatalf("object %s: %d bytes read, size %d", id, len(data), obj.Size())
		}
		out[id] = storedObject{obj.Type(), bytes.Clone(data)}
	}
	return out
}

// goGitStore is what uploadPackN stored before it had its own reader:
// held, plus what go-git's Parser reads from pack with held as base.
func goGitStore(t *testing.T, held map[plumbing.Hash]storedObject, pack []byte) map[plumbing.Hash]storedObject {
	t.Helper()
	base := memory.NewStorage()
	for _, o := range held {
		obj := &plumbing.MemoryObject{}
		obj.SetType(o.t)
		_, _ = obj.Write(o.data)
		if _, err := base.SetEncodedObject(obj); err != nil {
			t.Fatal(err)
		}
	}
	tmp := memory.NewStorage()
	parser, err := packfile.NewParserWithStorage(packfile.NewScanner(bytes.NewReader(pack)), layered{ObjectStorage: &tmp.ObjectStorage, base: &base.ObjectStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(); err != nil {
		t.Fatalf("go-git's parser: %v", err)
	}
	for _, obj := range tmp.ObjectStorage.Objects {
		if _, err := base.SetEncodedObject(obj); err != nil {
			t.Fatal(err)
		}
	}
	return storeSnapshot(t, &base.ObjectStorage)
}

// packOfAnswer returns the pack after the pkt-lines of an upload-pack
// answer.
func packOfAnswer(t *testing.T, answer []byte) []byte {
	t.Helper()
	for len(answer) >= 4 && string(answer[:4]) != "PACK" {
		n, err := strconv.ParseUint(string(answer[:4]), 16, 16)
		if err != nil || (n != 0 && n < 4) || int(n) > len(answer) {
			t.Fatalf("bad pkt-line before the pack: %q", answer[:min(len(answer), 40)])
		}
		answer = answer[max(n, 4):]
	}
	if len(answer) < 4 {
		t.Fatal("no pack in the answer")
	}
	return answer
}

// packEntries counts the entries of a pack by type as stored: blob, tree,
// ofs-delta, ref-delta...; "thin" counts the REF_DELTAs whose base is not
// in the pack, "thin blob", "thin tree"... those whose base is a held blob,
// tree...
func packEntries(t *testing.T, pack []byte, held map[plumbing.Hash]storedObject) map[string]int {
	t.Helper()
	objs, _, err := readPackBytes(pack, packOptions{keep: func(plumbing.ObjectType) bool { return true }, held: func(plumbing.Hash) plumbing.EncodedObject { return nil }})
	if err != nil && !errors.Is(err, packfile.ErrReferenceDeltaNotFound) {
		t.Fatalf("reading the pack: %v", err)
	}
	inPack := map[plumbing.Hash]bool{}
	for _, o := range objs {
		inPack[o.h] = true
	}
	sc := packfile.NewScanner(bytes.NewReader(pack))
	_, count, err := sc.Header()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for range count {
		h, err := sc.NextObjectHeader()
		if err != nil {
			t.Fatal(err)
		}
		out[h.Type.String()]++
		if h.Type == plumbing.REFDeltaObject && !inPack[h.Reference] {
			out["thin"]++
			if o, ok := held[h.Reference]; ok {
				out["thin "+o.t.String()]++
			}
		}
	}
	return out
}

// answerRecorder keeps the upload-pack answers and, if noOFS, strips the
// ofs-delta capability from the requests.
type answerRecorder struct {
	mu      sync.Mutex
	noOFS   bool
	answers [][]byte
}

func (a *answerRecorder) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			next.ServeHTTP(w, r)
			return
		}
		a.mu.Lock()
		strip := a.noOFS
		a.mu.Unlock()
		if strip {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = bytes.Replace(body, []byte(" ofs-delta"), nil, 1)
			if n, err := strconv.ParseUint(string(body[:4]), 16, 16); err == nil {
				copy(body, fmt.Sprintf("%04x", n-uint64(len(" ofs-delta"))))
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		rec := &recordingWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		a.mu.Lock()
		a.answers = append(a.answers, rec.buf.Bytes())
		a.mu.Unlock()
	})
}

// take returns the answers recorded since the last call.
func (a *answerRecorder) take() [][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.answers
	a.answers = nil
	return out
}

type recordingWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	return w.ResponseWriter.Write(p)
}

// similarText is a text of some 150 KB; texts of different n are deltas of
// one another.
func similarText(n int) string {
	var b strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&b, "line %d of a long configuration file\n", i)
		if i == 2000 {
			fmt.Fprintf(&b, "version %d\n", n)
		}
	}
	return b.String()
}

// bigDir is n small files in dir: two such trees differing in an entry are
// deltas of one another.
func bigDir(dir string, n, version int) []gittest.Entry {
	var out []gittest.Entry
	for i := range n {
		out = append(out, gittest.Entry{Path: fmt.Sprintf("%s/file-with-a-long-name-%04d.yaml", dir, i), Data: fmt.Sprintf("i: %d\nv: %d\n", i, version*(i%2))})
	}
	return out
}

// TestUploadPackStoresWhatGoGitWould: every kind of fetch stores exactly
// the objects go-git's Parser reads from the same pack (same IDs, types
// and contents), deltas of every kind resolved: by offset and by ID inside
// the pack, and by ID against objects held from an earlier fetch (a thin
// pack).
func TestUploadPackStoresWhatGoGitWould(t *testing.T) {
	for _, tc := range []struct {
		name     string
		noFilter bool
		noOFS    bool
	}{
		{"blob:none", false, false},
		{"blob:none ref-delta", false, true},
		{"without filter", true, false},
		{"without filter ref-delta", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &answerRecorder{noOFS: tc.noOFS}
			opts := []gittest.Option{gittest.WithMiddleware(rec.middleware)}
			if tc.noFilter {
				opts = append(opts, gittest.WithoutFilter())
			}
			srv := gittest.New(t, opts...)
			url := srv.CreateRepo(t, "gitops.git")
			dir := srv.Dir("gitops.git")
			entries := append(bigDir("apps/one", 800, 0), bigDir("apps/two", 799, 0)...)
			for i := range 4 {
				entries = append(entries, gittest.Entry{Path: fmt.Sprintf("docs/v%d/config.txt", i), Data: similarText(i)})
			}
			c1 := gittest.CommitEntries(t, dir, "main", "first", entries...)
			c2 := gittest.CommitEntries(t, dir, "main", "second", gittest.Entry{Path: "apps/two/new.yaml", Data: "new\n"})
			gittest.Git(t, dir, "repack", "-a", "-d", "-f", "--depth=50")

			ctx := context.Background()
			r, err := Open(ctx, url, Options{})
			if err != nil {
				t.Fatal(err)
			}
			// step runs a fetch and compares the store with what go-git
			// makes of the same pack, then checks the pack had what the
			// step is meant to exercise.
			step := func(name string, fetch func() error, check func(entries map[string]int) bool) {
				t.Helper()
				r.mu.RLock()
				before := storeSnapshot(t, &r.store.ObjectStorage)
				r.mu.RUnlock()
				if err := fetch(); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				answers := rec.take()
				if len(answers) != 1 {
					t.Fatalf("%s: %d upload-pack requests, want 1", name, len(answers))
				}
				pack := packOfAnswer(t, answers[0])
				want := goGitStore(t, before, pack)
				r.mu.RLock()
				got := storeSnapshot(t, &r.store.ObjectStorage)
				r.mu.RUnlock()
				for id, w := range want {
					g, ok := got[id]
					switch {
					case !ok:
						t.Errorf("%s: %s %s not stored", name, w.t, id)
					case g.t != w.t || !bytes.Equal(g.data, w.data):
						t.Errorf("%s: %s stored as a %s of %d bytes, go-git reads a %s of %d bytes", name, id, g.t, len(g.data), w.t, len(w.data))
					}
				}
				for id, g := range got {
					if _, ok := want[id]; !ok {
						t.Errorf("%s: %s %s stored, go-git reads no such object", name, g.t, id)
					}
					if sum := plumbing.ComputeHash(g.t, g.data); sum != id {
						t.Errorf("%s: object stored as %s hashes to %s", name, id, sum)
					}
				}
				entries := packEntries(t, pack, before)
				t.Logf("%s: pack of %d bytes, entries %v, %d objects stored, %d new", name, len(pack), entries, len(got), len(got)-len(before))
				if len(got) == len(before) {
					t.Errorf("%s: nothing new stored", name)
				}
				if !check(entries) {
					t.Errorf("%s: the pack holds %v, not what the step needs", name, entries)
				}
			}
			deltas := func(e map[string]int) int { return e["ofs-delta"] + e["ref-delta"] - e["thin"] }

			step("two commits at depth 1", func() error { return r.Fetch(ctx, h(c1), h(c2)) },
				func(e map[string]int) bool { return e["commit"] == 2 && deltas(e) > 0 })

			// The tip moves: the trees (and, without filter, the blobs)
			// that changed come as deltas of those held.
			var moved []gittest.Entry
			moved = append(moved, bigDir("apps/one", 800, 1)...)
			moved = append(moved, gittest.Entry{Path: "docs/v0/config.txt", Data: similarText(10)})
			c3 := gittest.CommitEntries(t, dir, "main", "third", moved...)
			step("thin pack after the tip moved", func() error { return r.Fetch(ctx, h(c3)) },
				func(e map[string]int) bool {
					return e["thin tree"] > 0 && (!tc.noFilter || e["thin blob"] > 0)
				})

			if !tc.noFilter {
				step("blobs", func() error {
					files, err := r.ReadFiles(ctx, h(c3), "docs/v0/config.txt", "docs/v1/config.txt", "docs/v2/config.txt", "apps/one/file-with-a-long-name-0001.yaml")
					if err != nil {
						return err
					}
					if got := string(files["docs/v0/config.txt"].Data); got != similarText(10) {
						return fmt.Errorf("docs/v0/config.txt: %d bytes read, not what was committed", len(got))
					}
					return nil
				}, func(e map[string]int) bool { return e["blob"] > 0 && deltas(e) > 0 })
			}
		})
	}
}

func h(s string) plumbing.Hash { return plumbing.NewHash(s) }

// TestFetchOfABrokenPackFails: a fetch whose pack is cut anywhere (also
// exactly before its checksum, which go-git's Parser accepts) or has a
// byte changed fails, and not with "not found"; nothing of it is stored.
func TestFetchOfABrokenPackFails(t *testing.T) {
	var (
		mu   sync.Mutex
		at   int64 = -1
		flip bool
		last []byte
	)
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
				next.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			cw := &faults.CorruptWriter{ResponseWriter: &recordingWriter{ResponseWriter: w}, At: at, Flip: flip}
			mu.Unlock()
			next.ServeHTTP(cw, r)
			mu.Lock()
			last = cw.ResponseWriter.(*recordingWriter).buf.Bytes()
			mu.Unlock()
		})
	}
	srv := gittest.New(t, gittest.WithMiddleware(mw))
	url := srv.CreateRepo(t, "gitops.git")
	dir := srv.Dir("gitops.git")
	entries := append(bigDir("apps/one", 300, 0), bigDir("apps/two", 299, 0)...)
	commit := gittest.CommitEntries(t, dir, "main", "first", entries...)
	ctx := context.Background()
	fetch := func() (*Remote, error) {
		r, err := Open(ctx, url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return r, r.Fetch(ctx, h(commit))
	}
	if _, err := fetch(); err != nil {
		t.Fatalf("intact fetch: %v", err)
	}
	mu.Lock()
	answer := last
	mu.Unlock()
	size := int64(len(answer))
	pack := size - int64(len(packOfAnswer(t, answer)))
	t.Logf("answer of %d bytes, the pack from byte %d", size, pack)
	_, err := ParseWithGoGitForTest(answer[pack : size-20])
	t.Logf("go-git's parser on the pack without its checksum: error %v", err)

	for _, tc := range []struct {
		name string
		at   int64
		flip bool
	}{
		{"before the pack", pack - 2, false},
		{"in the pack header", pack + 6, false},
		{"after the pack header", pack + 12, false},
		{"in the first entry", pack + 15, false},
		{"in the middle", pack + (size-pack)/2, false},
		{"in the last entry", size - 22, false},
		{"exactly before the checksum", size - 20, false},
		{"in the checksum", size - 1, false},
		{"flipped signature", pack + 1, true},
		{"flipped version", pack + 7, true},
		{"flipped entry count", pack + 11, true},
		{"flipped first entry type", pack + 12, true},
		{"flipped in the first entry", pack + 16, true},
		{"flipped in the middle", pack + (size-pack)/2, true},
		{"flipped in the last entry", size - 22, true},
		{"flipped in the checksum", size - 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			at, flip = tc.at, tc.flip
			mu.Unlock()
			defer func() {
				mu.Lock()
				at, flip = -1, false
				mu.Unlock()
			}()
			r, err := fetch()
			t.Logf("error: %v", err)
			if err == nil {
				t.Fatal("fetch of a broken pack succeeded")
			}
			if errors.Is(err, ErrCommitNotFound) {
				t.Errorf("a broken pack reported as not found: %v", err)
			}
			r.mu.RLock()
			n := len(r.store.ObjectStorage.Objects)
			r.mu.RUnlock()
			if n != 0 {
				t.Errorf("%d objects of a broken pack stored", n)
			}
		})
	}
}
