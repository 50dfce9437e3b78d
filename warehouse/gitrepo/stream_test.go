package gitrepo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/argo-refs/argo-refs/internal/faults"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// TestProbePathWithoutFilterStreams: on a server without `filter` the whole
// commit comes down, but its blobs are read and dropped as they arrive, so
// the probe allocates a small fraction of what it receives.
func TestProbePathWithoutFilterStreams(t *testing.T) {
	srv := gittest.New(t, gittest.WithoutFilter())
	url := srv.CreateRepo(t, "source.git")
	dir := srv.Dir("source.git")
	// Blobs of 512 KiB: under the race detector, sync.Pool drops what it is
	// given back at random, which costs go-git's scanner some 20 KiB per
	// object read.
	entries := append(randomBlobs(32<<20, 512<<10, 11),
		gittest.Entry{Path: "k8s/helm/Chart.yaml", Data: "name: app\n"},
		gittest.Entry{Path: "k8s/link", Data: "/etc", Mode: gittest.ModeSymlink},
	)
	commit := gittest.CommitEntries(t, dir, "main", "source", entries...)
	gittest.CommitFiles(t, dir, "main", map[string]string{"later.txt": "later\n"}, "later")
	ctx := context.Background()

	t.Run("memory", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		st, err := gitrepo.ProbePath(ctx, url, h(commit), "k8s/helm/Chart.yaml", gitrepo.Options{})
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("received %d bytes in %d requests, allocated %d bytes", st.BytesReceived, st.Requests, alloc)
		if st.BytesReceived < 32<<20 {
			t.Fatalf("received %d bytes: the whole commit should have come down", st.BytesReceived)
		}
		if alloc > uint64(st.BytesReceived)/4 {
			t.Errorf("allocated %d bytes for a pack of %d: the blobs were buffered", alloc, st.BytesReceived)
		}
	})
	for _, tc := range []struct {
		name, path, commit string
		want               error
	}{
		// Each probe brings the 32 MiB down again; the git http-backend
		// takes a second or two to send it.
		{"deep file", "noise/d03/sub/f0003.bin", commit, nil},
		{"missing deep file", "noise/d03/sub/f0004.bin", commit, gitrepo.ErrPathNotFound},
		{"later file", "later.txt", commit, gitrepo.ErrPathNotFound},
		{"symlink", "k8s/link/passwd", commit, gitrepo.ErrPathOutsideRepo},
		{"missing commit", "k8s/helm", "0123456789abcdef0123456789abcdef01234567", gitrepo.ErrCommitNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gitrepo.ProbePath(ctx, url, h(tc.commit), tc.path, gitrepo.Options{})
			if tc.want == nil && err != nil {
				t.Fatalf("probe %q: %v", tc.path, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("probe %q: err = %v, want %v", tc.path, err, tc.want)
			}
		})
	}
}

// randomBlobs returns files of size random bytes, total bytes in all, in
// 8 directories noise/dNN/sub.
func randomBlobs(total, size int, seed byte) []gittest.Entry {
	rng := rand.NewChaCha8([32]byte{seed})
	var out []gittest.Entry
	for i := 0; i*size < total; i++ {
		b := make([]byte, size)
		_, _ = rng.Read(b)
		out = append(out, gittest.Entry{Path: fmt.Sprintf("noise/d%02d/sub/f%04d.bin", i%8, i), Data: string(b)})
	}
	return out
}

// TestProbePathWithoutFilterOnABrokenPack: a pack cut short anywhere, or
// with a byte changed, gives an error, neither a panic nor a hang, and not
// a "not found".
func TestProbePathWithoutFilterOnABrokenPack(t *testing.T) {
	var (
		mu   sync.Mutex
		cut  int64 = -1
		flip bool
		last int64  // length of the last upload-pack answer
		head []byte // its start
		// The server finishes an answer after the client has read it.
		served sync.WaitGroup
	)
	fault := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
				next.ServeHTTP(w, r)
				return
			}
			served.Add(1)
			defer served.Done()
			mu.Lock()
			fw := &faults.CorruptWriter{ResponseWriter: w, At: cut, Flip: flip}
			mu.Unlock()
			next.ServeHTTP(fw, r)
			mu.Lock()
			last, head = fw.N, fw.Head
			mu.Unlock()
		})
	}
	srv := gittest.New(t, gittest.WithoutFilter(), gittest.WithMiddleware(fault))
	url := srv.CreateRepo(t, "source.git")
	dir := srv.Dir("source.git")
	entries := append(randomEntries(1<<20, 4, 5),
		gittest.Entry{Path: "k8s/helm/Chart.yaml", Data: strings.Repeat("name: app\n", 200)},
		gittest.Entry{Path: "k8s/helm/values.yaml", Data: strings.Repeat("name: app\n", 190) + "x: y\n"},
	)
	commit := gittest.CommitEntries(t, dir, "main", "source", entries...)
	ctx := context.Background()

	if _, err := gitrepo.ProbePath(ctx, url, h(commit), "k8s/helm", gitrepo.Options{}); err != nil {
		t.Fatalf("intact probe: %v", err)
	}
	served.Wait()
	mu.Lock()
	size, pack := last, int64(bytes.Index(head, []byte("PACK")))
	mu.Unlock()
	t.Logf("the answer with the pack: %d bytes, the pack from byte %d", size, pack)
	if pack < 0 {
		t.Fatalf("no pack at the start of the last answer: %q", head)
	}

	// The first request of a probe (with a filter) is refused in a few
	// bytes, so faults at offsets past them hit the pack only.
	for _, tc := range []struct {
		name string
		at   int64
		flip bool
	}{
		{"at the start", 0, false},
		{"before the pack", pack - 3, false},
		{"in the pack header", pack + 6, false},
		{"after the pack header", pack + 12, false},
		{"in the first object", pack + 20, false},
		{"in the middle", size / 2, false},
		{"before the checksum", size - 20, false},
		{"in the checksum", size - 5, false},
		{"flipped signature", pack + 1, true},
		{"flipped object count", pack + 11, true},
		{"flipped first object type", pack + 12, true},
		{"flipped in the first object", pack + 30, true},
		{"flipped in the middle", size / 2, true},
		{"flipped in the checksum", size - 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			cut, flip = tc.at, tc.flip
			mu.Unlock()
			defer func() {
				mu.Lock()
				cut, flip = -1, false
				mu.Unlock()
			}()
			_, err := gitrepo.ProbePath(ctx, url, h(commit), "k8s/helm", gitrepo.Options{})
			t.Logf("error: %v", err)
			if err == nil {
				t.Fatal("probe of a broken pack succeeded")
			}
			if errors.Is(err, gitrepo.ErrCommitNotFound) || errors.Is(err, gitrepo.ErrPathNotFound) {
				t.Errorf("a broken pack reported as not found: %v", err)
			}
		})
	}
}

// TestProbePathWithoutFilterThroughDeltas: trees sent as deltas, by offset
// (OFS_DELTA) or by ID (REF_DELTA, for clients without ofs-delta), among
// blobs sent as deltas, are resolved, and paths are found in them.
func TestProbePathWithoutFilterThroughDeltas(t *testing.T) {
	var (
		mu       sync.Mutex
		pack     []byte // the last upload-pack answer
		noOFS    bool   // strip ofs-delta from the request's capabilities
		stripped int
		// The server finishes an answer after the client has read it.
		served sync.WaitGroup
	)
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
				next.ServeHTTP(w, r)
				return
			}
			served.Add(1)
			defer served.Done()
			mu.Lock()
			strip := noOFS
			mu.Unlock()
			if strip {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				if nb, ok := withoutOFSDelta(body); ok {
					body = nb
					mu.Lock()
					stripped++
					mu.Unlock()
				}
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			}
			tw := &teeWriter{ResponseWriter: w}
			next.ServeHTTP(tw, r)
			mu.Lock()
			pack = tw.buf.Bytes()
			mu.Unlock()
		})
	}
	srv := gittest.New(t, gittest.WithoutFilter(), gittest.WithMiddleware(mw))
	url := srv.CreateRepo(t, "source.git")
	dir := srv.Dir("source.git")

	// Two big directories that differ in one entry: one's tree is a delta
	// of the other's. Similar text files: blob deltas. Several commits
	// changing one file in a big directory, repacked: deltas on the server.
	big := func(prefix string, n int) []gittest.Entry {
		var out []gittest.Entry
		for i := range n {
			out = append(out, gittest.Entry{Path: fmt.Sprintf("%s/file-with-a-long-name-%04d.yaml", prefix, i), Data: fmt.Sprintf("i: %d\n", i)})
		}
		return out
	}
	var text strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&text, "line %d of a long configuration file\n", i)
	}
	entries := append(big("deep/a/b/c/one", 1500), big("deep/a/b/c/two", 1499)...)
	for i := range 8 {
		entries = append(entries, gittest.Entry{Path: fmt.Sprintf("docs/v%d/config.txt", i), Data: text.String() + fmt.Sprintf("version %d\n", i)})
	}
	var commit string
	for i := range 6 {
		entries = append(entries, gittest.Entry{Path: "deep/a/b/c/two/changing.yaml", Data: fmt.Sprintf("n: %d\n", i)})
		commit = gittest.CommitEntries(t, dir, "main", fmt.Sprintf("change %d", i), entries...)
		entries = nil
	}
	gittest.Git(t, dir, "repack", "-a", "-d", "-f", "--depth=50")

	ctx := context.Background()
	for _, mode := range []string{"ofs-delta", "ref-delta"} {
		t.Run(mode, func(t *testing.T) {
			mu.Lock()
			noOFS = mode == "ref-delta"
			mu.Unlock()
			resolved := 0
			for _, p := range []string{
				"deep/a/b/c/one/file-with-a-long-name-1499.yaml",
				"deep/a/b/c/two/file-with-a-long-name-1498.yaml",
				"deep/a/b/c/two/changing.yaml",
				"docs/v7/config.txt",
			} {
				var logs bytes.Buffer
				opts := gitrepo.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
				if _, err := gitrepo.ProbePath(ctx, url, h(commit), p, opts); err != nil {
					t.Fatalf("probe %q: %v", p, err)
				}
				if m := regexp.MustCompile(`deltas_resolved=(\d+)`).FindStringSubmatch(logs.String()); m != nil {
					resolved, _ = strconv.Atoi(m[1])
				}
			}
			for _, p := range []string{"deep/a/b/c/one/file-with-a-long-name-1500.yaml", "deep/a/b/c/three"} {
				if _, err := gitrepo.ProbePath(ctx, url, h(commit), p, gitrepo.Options{}); !errors.Is(err, gitrepo.ErrPathNotFound) {
					t.Errorf("probe %q: %v, want ErrPathNotFound", p, err)
				}
			}
			served.Wait()
			if resolved == 0 {
				t.Error("no delta was resolved into a tree or commit")
			}
			mu.Lock()
			body, n := pack, stripped
			mu.Unlock()
			if mode == "ref-delta" && n == 0 {
				t.Fatal("no request had ofs-delta to strip")
			}
			deltas := packDeltas(t, body)
			t.Logf("deltas in the pack: %v, resolved into trees and commits: %d", deltas, resolved)
			if deltas["tree"] == 0 || deltas["blob"] == 0 {
				t.Errorf("the pack holds deltas %v; the test needs tree and blob deltas", deltas)
			}
		})
	}
}

// withoutOFSDelta removes the ofs-delta capability from the first pkt-line
// of an upload-pack request.
func withoutOFSDelta(body []byte) ([]byte, bool) {
	if len(body) < 4 {
		return body, false
	}
	n, err := strconv.ParseUint(string(body[:4]), 16, 16)
	if err != nil || int(n) > len(body) || n < 4 {
		return body, false
	}
	line := string(body[4:n])
	if !strings.Contains(line, " ofs-delta") {
		return body, false
	}
	line = strings.Replace(line, " ofs-delta", "", 1)
	return append([]byte(fmt.Sprintf("%04x%s", len(line)+4, line)), body[n:]...), true
}

// packDeltas counts the deltified objects, by type, of the pack in an
// upload-pack answer, as git index-pack and verify-pack see them.
func packDeltas(t *testing.T, answer []byte) map[string]int {
	t.Helper()
	i := bytes.Index(answer, []byte("PACK"))
	if i < 0 {
		t.Fatalf("no pack in the answer (%d bytes)", len(answer))
	}
	tmp := t.TempDir()
	packFile := filepath.Join(tmp, "p.pack")
	if err := os.WriteFile(packFile, answer[i:], 0o600); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, tmp, "index-pack", packFile)
	deltas := map[string]int{}
	for _, line := range strings.Split(gittest.Git(t, tmp, "verify-pack", "-v", filepath.Join(tmp, "p.idx")), "\n") {
		// sha type size size-in-pack offset [depth base]
		if f := strings.Fields(line); len(f) == 7 && len(f[0]) == 40 {
			deltas[f[1]]++
		}
	}
	return deltas
}

type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	return w.ResponseWriter.Write(p)
}

// benchPack returns a pack shaped like a depth-1 blob:none fetch of a big
// GitOps repository: some 550 trees, a tenth of them deltas, two commits.
// ARGO_REFS_BENCH_PACK names a pack file to read instead.
func benchPack(b *testing.B) []byte {
	b.Helper()
	if p := os.Getenv("ARGO_REFS_BENCH_PACK"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	srv := gittest.New(b)
	srv.CreateRepo(b, "trees.git")
	dir := srv.Dir("trees.git")
	var entries []gittest.Entry
	for app := range 60 {
		for env := range 8 {
			for f := range 4 {
				entries = append(entries, gittest.Entry{
					Path: fmt.Sprintf("apps/app-%02d/overlays/env-%d/file-%d.yaml", app, env, f),
					Data: fmt.Sprintf("app: %d\nenv: %d\nfile: %d\n", app, env, f),
				})
			}
		}
	}
	gittest.CommitEntries(b, dir, "main", "first", entries...)
	entries = nil
	for app := range 60 {
		if app%6 == 0 {
			entries = append(entries, gittest.Entry{Path: fmt.Sprintf("apps/app-%02d/overlays/env-1/file-0.yaml", app), Data: "changed\n"})
		}
	}
	gittest.CommitEntries(b, dir, "main", "second", entries...)
	cmd := exec.Command("git", "pack-objects", "--revs", "--stdout", "--filter=blob:none", "--no-reuse-object")
	cmd.Dir, cmd.Env, cmd.Stdin = dir, gittest.Env(), strings.NewReader("main\n")
	data, err := cmd.Output()
	if err != nil {
		b.Fatalf("git pack-objects: %v", err)
	}
	return data
}

// BenchmarkReadPack compares the pack readers on a pack of trees.
func BenchmarkReadPack(b *testing.B) {
	pack := benchPack(b)
	for _, bc := range []struct {
		name string
		read func([]byte) (int, error)
	}{
		{"trees-and-commits", gitrepo.ReadTreesAndCommitsForTest},
		{"all-objects", gitrepo.ReadPackBytesForTest},
		{"go-git", gitrepo.ParseWithGoGitForTest},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n, err := bc.read(pack)
			if err != nil || n == 0 {
				b.Fatalf("%d objects, %v", n, err)
			}
			b.SetBytes(int64(len(pack)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.read(pack); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
