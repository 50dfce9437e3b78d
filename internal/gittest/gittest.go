package gittest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Server serves the bare repositories under Root over smart HTTP at URL
// through the real git http-backend.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:port, without a
	// trailing slash.
	URL string
	// Root is the directory the repositories live in (GIT_PROJECT_ROOT).
	Root string

	srv   *httptest.Server
	mu    sync.Mutex
	stats Stats
}

// Option configures a Server.
type Option func(*config)

type config struct {
	user, pass  string
	noFilter    bool
	treeZero    bool
	settings    [][2]string
	middlewares []func(http.Handler) http.Handler
}

// WithConfig sets a git configuration key for every request, above the
// repositories' own settings (GIT_CONFIG_COUNT), e.g. to turn off what
// CreateRepo turns on.
func WithConfig(key, value string) Option {
	return func(c *config) { c.settings = append(c.settings, [2]string{key, value}) }
}

// WithProtocol makes every request ask for Git wire protocol version v
// ("1" or "2"), as a client's Git-Protocol header does.
func WithProtocol(v string) Option {
	return WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set("Git-Protocol", "version="+v)
			next.ServeHTTP(w, r)
		})
	})
}

// WithBasicAuth makes the server demand HTTP basic authentication with
// exactly this user and password on every request, answering 401 otherwise.
func WithBasicAuth(user, pass string) Option {
	return func(c *config) { c.user, c.pass = user, pass }
}

// WithoutFilter turns partial clone support off (uploadpack.allowFilter=false
// for every request), so the server does not advertise `filter`.
func WithoutFilter() Option {
	return func(c *config) { c.noFilter = true }
}

// WithTreeZeroOnly limits filters the way GitHub does: blob:none,
// blob:limit and tree:0 are allowed, deeper tree filters and combined
// filters are refused (uploadpackfilter.allow=false,
// uploadpackfilter.tree.maxDepth=0).
func WithTreeZeroOnly() Option {
	return func(c *config) { c.treeZero = true }
}

// WithMiddleware wraps the git http-backend handler, inside authentication
// and the statistics counter, e.g. to inject faults. Several middlewares
// apply in the order given, the first outermost.
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return func(c *config) { c.middlewares = append(c.middlewares, mw) }
}

// Service names used as keys in Stats.
const (
	ServiceInfoRefs    = "info-refs"
	ServiceUploadPack  = "upload-pack"
	ServiceReceivePack = "receive-pack"
	ServiceOther       = "other"
)

// ServiceStats counts the requests of one service and the response bytes
// sent for them.
type ServiceStats struct {
	Requests  int
	BytesSent int64
}

// Stats counts what the server answered since it started or since the last
// ResetStats.
type Stats struct {
	// Requests is the number of requests of all services.
	Requests int
	// BytesSent is the number of response body bytes sent to clients.
	BytesSent int64
	// ByService holds the same figures per service (ServiceInfoRefs, ...).
	ByService map[string]ServiceStats
}

// Service returns the figures of one service (zero if it saw no request).
func (s Stats) Service(name string) ServiceStats { return s.ByService[name] }

// New starts a server on 127.0.0.1 that is closed when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	backend := filepath.Join(strings.TrimSpace(run(t, "", nil, nil, "--exec-path")), "git-http-backend")
	root := t.TempDir()
	home := t.TempDir()
	env := []string{
		"GIT_PROJECT_ROOT=" + root,
		"GIT_HTTP_EXPORT_ALL=1",
		"HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
	}
	var settings [][2]string
	if c.noFilter {
		settings = append(settings, [2]string{"uploadpack.allowFilter", "false"})
	}
	if c.treeZero {
		settings = append(settings,
			[2]string{"uploadpackfilter.allow", "false"},
			[2]string{"uploadpackfilter.blob:none.allow", "true"},
			[2]string{"uploadpackfilter.blob:limit.allow", "true"},
			[2]string{"uploadpackfilter.tree.allow", "true"},
			[2]string{"uploadpackfilter.tree.maxDepth", "0"})
	}
	settings = append(settings, c.settings...)
	if len(settings) > 0 {
		env = append(env, fmt.Sprintf("GIT_CONFIG_COUNT=%d", len(settings)))
		for i, kv := range settings {
			env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
		}
	}
	var h http.Handler = &cgi.Handler{Path: backend, Root: "/", Env: env, Stderr: &testLog{t: t}}
	for i := len(c.middlewares) - 1; i >= 0; i-- {
		h = c.middlewares[i](h)
	}
	if c.user != "" || c.pass != "" {
		h = basicAuth(c.user, c.pass, h)
	}
	s := &Server{Root: root}
	s.ResetStats()
	s.srv = httptest.NewServer(s.count(h))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func basicAuth(user, pass string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func serviceOf(r *http.Request) string {
	switch {
	case strings.HasSuffix(r.URL.Path, "/info/refs"):
		return ServiceInfoRefs
	case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
		return ServiceUploadPack
	case strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
		return ServiceReceivePack
	}
	return ServiceOther
}

type countingWriter struct {
	http.ResponseWriter
	n atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		svc := serviceOf(r)
		s.mu.Lock()
		defer s.mu.Unlock()
		ss := s.stats.ByService[svc]
		ss.Requests++
		ss.BytesSent += cw.n.Load()
		s.stats.ByService[svc] = ss
		s.stats.Requests++
		s.stats.BytesSent += cw.n.Load()
	})
}

// Stats returns a copy of the counters. Safe for concurrent use.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	out.ByService = make(map[string]ServiceStats, len(s.stats.ByService))
	for k, v := range s.stats.ByService {
		out.ByService[k] = v
	}
	return out
}

// ResetStats sets all counters to zero. Safe for concurrent use.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{ByService: map[string]ServiceStats{}}
}

// CreateRepo creates an empty bare repository `name` (e.g. "gitops.git")
// whose default branch is main, open for pushes and for fetches of any
// commit, tree or blob by ID with filters, and returns its URL. It is as
// strict as a careful host: every pushed object is checked
// (receive.fsckObjects, transfer.fsckObjects) and every pushed pack is kept
// as sent (receive.unpackLimit=1), so index-pack refuses a pack holding an
// object twice. Pushes never start git gc (receive.autogc=false, gc.auto=0):
// past 50 packs it would repack them in the background, and packs it is
// writing or removing fail the check below (a CI run of
// TestConcurrentPublishersAllLand, whose racing publishers push many
// times, failed with four packs "index not opened"). When the test ends, the repository must pass
// `git fsck --strict` and `git verify-pack` on every pack it holds.
func (s *Server) CreateRepo(t testing.TB, name string) string {
	t.Helper()
	dir := s.Dir(name)
	t.Cleanup(func() { CheckRepo(t, dir) })
	run(t, "", nil, nil, "-c", "init.defaultBranch=main", "init", "--quiet", "--bare", dir)
	// Appending is one process fewer per setting than `git config`.
	f, err := os.OpenFile(filepath.Join(dir, "config"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("configuring %s: %v", dir, err)
	}
	_, err = f.WriteString(repoConfig)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("configuring %s: %v", dir, err)
	}
	return s.URL + "/" + name
}

const repoConfig = `[http]
	receivepack = true
[uploadpack]
	allowFilter = true
	allowReachableSHA1InWant = true
	allowAnySHA1InWant = true
[receive]
	fsckObjects = true
	unpackLimit = 1
	autogc = false
[gc]
	auto = 0
[transfer]
	fsckObjects = true
`

// CheckRepo fails the test unless the bare repository at dir passes
// `git fsck --strict` and `git verify-pack` on each of its packs.
func CheckRepo(t testing.TB, dir string) {
	t.Helper()
	if out, err := gitCommand(dir, nil, "fsck", "--strict", "--no-progress", "--no-dangling"); err != nil {
		t.Errorf("git fsck --strict of %s: %v\n%s", filepath.Base(dir), err, out)
	}
	idx, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.idx"))
	for _, f := range idx {
		if out, err := gitCommand(dir, nil, "verify-pack", f); err != nil {
			t.Errorf("git verify-pack %s of %s: %v\n%s", filepath.Base(f), filepath.Base(dir), err, out)
		}
	}
}

// testLog sends the backend's stderr to the test log.
type testLog struct {
	mu sync.Mutex
	t  testing.TB
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Logf("git http-backend: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Dir returns the path of the bare repository `name`.
func (s *Server) Dir(name string) string {
	return filepath.Join(s.Root, filepath.FromSlash(name))
}

// Git runs git with args in dir (any directory if dir is ""), with a
// deterministic environment free of the user's configuration, fails the
// test on error, and returns stdout with surrounding space trimmed.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(run(t, dir, nil, nil, args...))
}

// GitInput is Git with stdin.
func GitInput(t testing.TB, dir string, stdin []byte, args ...string) string {
	t.Helper()
	return strings.TrimSpace(run(t, dir, nil, bytes.NewReader(stdin), args...))
}

// Env is the environment Git runs git with: no global or system
// configuration, a fixed author and committer.
func Env() []string {
	env := os.Environ()
	return append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=Gittest Author",
		"GIT_AUTHOR_EMAIL=author@gittest.invalid",
		"GIT_COMMITTER_NAME=Gittest Committer",
		"GIT_COMMITTER_EMAIL=committer@gittest.invalid",
		"GIT_AUTHOR_DATE=1700000000 +0000",
		"GIT_COMMITTER_DATE=1700000000 +0000",
		"GIT_TERMINAL_PROMPT=0",
	)
}

func run(t testing.TB, dir string, extraEnv []string, stdin *bytes.Reader, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	if dir != "" {
		cmd.Dir = dir
	}
	cmd.Env = append(Env(), extraEnv...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return stdout.String()
}

// gitCommand runs git in dir and returns its combined output, for checks
// that report rather than stop the test.
func gitCommand(dir string, stdin *bytes.Reader, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env()
	if stdin != nil {
		cmd.Stdin = stdin
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Git file modes for Entry.Mode.
const (
	ModeFile       = 0o100644
	ModeExecutable = 0o100755
	ModeSymlink    = 0o120000
)

// Entry is one change in a commit made with CommitEntries.
type Entry struct {
	// Path is slash-separated, relative to the repository root.
	Path string
	// Data is the file content, or the target of a symlink.
	Data string
	// Mode is ModeFile (the default when zero), ModeExecutable or ModeSymlink.
	Mode int
	// Delete removes Path (a file or a whole directory) instead.
	Delete bool
}

var clock atomic.Int64

// CommitFiles commits files (path → content, regular files) on top of
// branch in the bare repository bareDir (creating the branch if needed)
// and returns the new commit's SHA.
func CommitFiles(t testing.TB, bareDir, branch string, files map[string]string, message string) string {
	t.Helper()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	entries := make([]Entry, 0, len(files))
	for _, p := range paths {
		entries = append(entries, Entry{Path: p, Data: files[p]})
	}
	return CommitEntries(t, bareDir, branch, message, entries...)
}

// CommitEntries commits the entries on top of branch in the bare repository
// bareDir with one git fast-import (creating the branch if needed) and
// returns the new commit's SHA. Each commit gets a distinct, deterministic
// timestamp. It is fast enough for tens of megabytes of content.
func CommitEntries(t testing.TB, bareDir, branch, message string, entries ...Entry) string {
	t.Helper()
	ref := "refs/heads/" + strings.TrimPrefix(branch, "refs/heads/")
	parent := ""
	cmd := exec.Command("git", "rev-parse", "--verify", "--quiet", ref)
	cmd.Dir = bareDir
	cmd.Env = Env()
	if out, err := cmd.Output(); err == nil {
		parent = strings.TrimSpace(string(out))
	}
	when := 1700000000 + clock.Add(1)
	var b bytes.Buffer
	fmt.Fprintf(&b, "commit %s\nmark :1\n", ref)
	fmt.Fprintf(&b, "author Gittest Author <author@gittest.invalid> %d +0000\n", when)
	fmt.Fprintf(&b, "committer Gittest Committer <committer@gittest.invalid> %d +0000\n", when)
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	fmt.Fprintf(&b, "data %d\n%s\n", len(message), message)
	if parent != "" {
		fmt.Fprintf(&b, "from %s\n", parent)
	}
	for _, e := range entries {
		if e.Delete {
			fmt.Fprintf(&b, "D %s\n", quotePath(e.Path))
			continue
		}
		mode := e.Mode
		if mode == 0 {
			mode = ModeFile
		}
		fmt.Fprintf(&b, "M %o inline %s\ndata %d\n%s\n", mode, quotePath(e.Path), len(e.Data), e.Data)
	}
	b.WriteString("done\n")
	marks := filepath.Join(t.TempDir(), "marks")
	// Level 0 compression: tests write random megabytes; speed matters more.
	run(t, bareDir, nil, bytes.NewReader(b.Bytes()), "-c", "core.compression=0", "-c", "pack.compression=0",
		"fast-import", "--quiet", "--done", "--export-marks="+marks)
	out, err := os.ReadFile(marks)
	if err != nil {
		t.Fatalf("reading fast-import marks: %v", err)
	}
	sha, ok := strings.CutPrefix(strings.TrimSpace(string(out)), ":1 ")
	if !ok || len(sha) != 40 {
		t.Fatalf("fast-import marks: %q", out)
	}
	return sha
}

func quotePath(p string) string {
	if strings.ContainsAny(p, "\"\n\\") || strings.HasPrefix(p, " ") {
		return fmt.Sprintf("%q", p)
	}
	return p
}
