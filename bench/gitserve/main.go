// Command gitserve serves the benchmark's bare repositories through the real
// `git http-backend` (behind net/http/cgi) on a loopback address, counting
// requests and bytes per repository, and runs an in-process OCI registry
// (go-containerregistry pkg/registry behind a bearer-token gate) holding the
// image of every release the records name.
//
// Admin endpoints on the Git address:
//
//	GET /_stats[?reset=1]   per-repo {requests, bytesOut, bytesIn} as JSON
//	                        (reset=1 zeroes the counters after reading)
//	GET /_filter[?on=0|1]   read or set whether upload-pack allows filters
//	GET /_health            200 when ready
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/argo-refs/argo-refs/bench/internal/benchdata"
)

func main() {
	dir := flag.String("dir", "/tmp/argo-refs-bench", "directory holding meta.json and repos/")
	filter := flag.Bool("filter", true, "allow upload-pack filters (partial clone) at start")
	logFlag := flag.Bool("log", false, "log every Git request to stderr (bytes, time, child CPU)")
	flag.Parse()
	if err := run(*dir, *filter, *logFlag); err != nil {
		fmt.Fprintln(os.Stderr, "gitserve:", err)
		os.Exit(1)
	}
}

// logRequests is set by -log once the registry is seeded.
var logRequests atomic.Bool

// counter holds one key's traffic.
type counter struct {
	Requests int64 `json:"requests"`
	BytesOut int64 `json:"bytesOut"`
	BytesIn  int64 `json:"bytesIn"`
	// CPUSeconds is CPU time (user+sys). Under the key "_server": gitserve's
	// and its finished children's (git http-backend, upload-pack,
	// receive-pack, ...) since the last reset. Under other keys: the
	// children's CPU that finished while the key's requests ran (exact when
	// requests do not overlap).
	CPUSeconds float64 `json:"cpuSeconds,omitempty"`
	// Seconds is the time spent in the key's handlers.
	Seconds float64 `json:"seconds,omitempty"`
}

// stats counts traffic per key (a repo name, "registry", "registry-token").
type stats struct {
	mu      sync.Mutex
	m       map[string]*counter
	cpuBase float64
}

// cpuSeconds is the user+sys time of this process and its reaped children.
func cpuSeconds() float64 {
	var total float64
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	return total
}

func (s *stats) add(key string, out, in int64) {
	s.addTimed(key, out, in, 0, 0)
}

func (s *stats) addTimed(key string, out, in int64, secs, cpu float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.m[key]
	if c == nil {
		c = &counter{}
		s.m[key] = c
	}
	c.Requests++
	c.BytesOut += out
	c.BytesIn += in
	c.Seconds += secs
	c.CPUSeconds += cpu
}

// childCPU is the user+sys time of this process's reaped children.
func childCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func (s *stats) snapshot(reset bool) map[string]counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]counter, len(s.m)+1)
	for k, c := range s.m {
		out[k] = *c
	}
	now := cpuSeconds()
	out["_server"] = counter{CPUSeconds: now - s.cpuBase}
	if reset {
		s.m = map[string]*counter{}
		s.cpuBase = now
	}
	return out
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type countingReader struct {
	io.ReadCloser
	n int64
}

func (r *countingReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	r.n += int64(n)
	return n, err
}

// counted wraps h so every request is counted under key(r) and, for Git
// requests, also under "<key> <service>" (e.g. "L.git POST git-receive-pack").
func counted(st *stats, key func(*http.Request) string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		cr := &countingReader{ReadCloser: r.Body}
		r.Body = cr
		t0, cpu0 := time.Now(), childCPU()
		h.ServeHTTP(cw, r)
		secs, cpu := time.Since(t0).Seconds(), childCPU()-cpu0
		k := key(r)
		if logRequests.Load() {
			fmt.Fprintf(os.Stderr, "gitserve: %s %s?%s -> %d B out, %d B in, %.3f s, child CPU %.3f s\n", r.Method, r.URL.Path, r.URL.RawQuery, cw.n, cr.n, secs, cpu)
		}
		st.addTimed(k, cw.n, cr.n, secs, cpu)
		if svc := gitService(r); svc != "" {
			st.addTimed(k+" "+svc, cw.n, cr.n, secs, cpu)
		}
	})
}

// gitService names a smart-HTTP request: "GET info/refs git-upload-pack",
// "POST git-receive-pack", ...; "" for anything else.
func gitService(r *http.Request) string {
	switch {
	case strings.HasSuffix(r.URL.Path, "/info/refs"):
		return "GET info/refs " + r.URL.Query().Get("service")
	case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
		return "POST git-upload-pack"
	case strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
		return "POST git-receive-pack"
	}
	return ""
}

func backendPath() (string, error) {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return "", fmt.Errorf("finding git exec path: %w", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("finding git-http-backend: %w", err)
	}
	return p, nil
}

// gitHandler builds the git http-backend CGI handler; allowFilter decides
// uploadpack.allowFilter.
func gitHandler(backend, root string, allowFilter bool) http.Handler {
	cfg := [][2]string{
		{"uploadpack.allowFilter", strconv.FormatBool(allowFilter)},
		{"uploadpack.allowReachableSHA1InWant", "true"},
		{"uploadpack.allowAnySHA1InWant", "true"},
		{"uploadpack.allowTipSHA1InWant", "true"},
		{"http.receivepack", "true"},
		{"http.uploadpack", "true"},
		{"receive.autogc", "false"},
		{"gc.auto", "0"},
	}
	env := []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_COUNT=" + strconv.Itoa(len(cfg))}
	if p := os.Getenv("BENCH_GIT_TRACE2_PERF"); p != "" {
		env = append(env, "GIT_TRACE2_PERF="+p)
	}
	for i, kv := range cfg {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return &cgi.Handler{Path: backend, Root: "/", Env: env, Stderr: os.Stderr}
}

func repoKey(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.Path, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[:i]
	}
	return p
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// tokenGate answers 401 with a Bearer challenge unless the request carries
// the token that /token hands out, the way ghcr.io does for anonymous pulls.
func tokenGate(base, token string, st *stats, next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		st.add("registry-token", 0, 0)
		writeJSON(w, map[string]any{"token": token, "access_token": token, "expires_in": 300})
	})
	counted := counted(st, func(*http.Request) string { return "registry" }, next)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			scope := ""
			if parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v2/"), "/"); len(parts) >= 3 {
				// /v2/<name...>/{manifests,blobs}/<ref>
				scope = fmt.Sprintf(`,scope="repository:%s:pull"`, strings.Join(parts[:len(parts)-2], "/"))
			}
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="bench-registry"%s`, base, scope))
			st.add("registry-401", 0, 0)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		counted.ServeHTTP(w, r)
	})
	return mux
}

func run(dir string, filter, logGit bool) error {
	metaPath := filepath.Join(dir, "meta.json")
	b, err := os.ReadFile(metaPath)
	if err != nil {
		return fmt.Errorf("reading %s (run bench/gen first): %w", metaPath, err)
	}
	var meta benchdata.Meta
	if err := json.Unmarshal(b, &meta); err != nil {
		return fmt.Errorf("parsing %s: %w", metaPath, err)
	}
	backend, err := backendPath()
	if err != nil {
		return err
	}
	root := filepath.Join(dir, "repos")
	st := &stats{m: map[string]*counter{}}

	var allow atomic.Bool
	allow.Store(filter)
	withFilter := gitHandler(backend, root, true)
	withoutFilter := gitHandler(backend, root, false)
	gitMux := http.NewServeMux()
	gitMux.HandleFunc("/_health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	gitMux.HandleFunc("/_stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, st.snapshot(r.URL.Query().Get("reset") == "1"))
	})
	gitMux.HandleFunc("/_filter", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("on") {
		case "0", "false":
			allow.Store(false)
		case "1", "true":
			allow.Store(true)
		}
		writeJSON(w, map[string]bool{"filter": allow.Load()})
	})
	gitMux.Handle("/", counted(st, repoKey, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow.Load() {
			withFilter.ServeHTTP(w, r)
		} else {
			withoutFilter.ServeHTTP(w, r)
		}
	})))

	gitLn, err := net.Listen("tcp", meta.GitAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", meta.GitAddr, err)
	}
	regLn, err := net.Listen("tcp", meta.RegistryAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", meta.RegistryAddr, err)
	}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	gitSrv := &http.Server{Handler: gitMux, ReadHeaderTimeout: 10 * time.Second}
	regSrv := &http.Server{Handler: tokenGate("http://"+meta.RegistryAddr, "bench-token-0123456789", st, reg), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = gitSrv.Serve(gitLn) }()
	go func() { _ = regSrv.Serve(regLn) }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0 := time.Now()
	if err := seed(ctx, meta); err != nil {
		return err
	}
	st.snapshot(true)
	logRequests.Store(logGit)
	fmt.Printf("gitserve: git on http://%s (filter=%v), registry on http://%s with %d images (seeded in %.1fs); ready\n",
		meta.GitAddr, allow.Load(), meta.RegistryAddr, len(meta.Releases), time.Since(t0).Seconds())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return errors.Join(gitSrv.Shutdown(sctx), regSrv.Shutdown(sctx))
}

// seed pushes the image of every release under its tag, then checks that the
// registry reports the digest the records carry.
func seed(ctx context.Context, meta benchdata.Meta) error {
	tags := make([]string, 0, len(meta.Releases))
	for t := range meta.Releases {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(authn.Anonymous), remote.WithTransport(tr)}
	work := make(chan string)
	errs := make(chan error, len(tags))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tag := range work {
				errs <- pushOne(meta, tag, opts)
			}
		}()
	}
	for _, t := range tags {
		work <- t
	}
	close(work)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		if err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

func pushOne(meta benchdata.Meta, tag string, opts []remote.Option) error {
	n := meta.Releases[tag]
	ref, err := name.ParseReference(meta.RegistryAddr+"/"+benchdata.ImageRepo+":"+tag, name.Insecure)
	if err != nil {
		return fmt.Errorf("parsing image reference for %s: %w", tag, err)
	}
	img, err := benchdata.Image(n)
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return fmt.Errorf("checking %s: %w", ref, err)
	}
	want, err := benchdata.Digest(n)
	if err != nil {
		return err
	}
	if desc.Digest.String() != want {
		return fmt.Errorf("checking %s: registry has digest %s, records say %s", ref, desc.Digest, want)
	}
	return nil
}
