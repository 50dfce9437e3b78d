package gitrepo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// Auth holds HTTP basic credentials (for GitHub: any user name and a token
// as the password): netpolicy's one credential type, which never prints
// the password.
type Auth = netpolicy.UserPass

// Options configure Open and ProbePath.
type Options struct {
	// Auth, if set, is sent as HTTP basic authentication.
	Auth *Auth
	// HTTPClient is the client requests go through. Nil means a client with
	// dial, TLS handshake and response header timeouts; either way, contexts
	// bound every call.
	HTTPClient *http.Client
	// AllowInsecureHTTP permits plain http:// URLs for hosts other than
	// loopback ones (127.0.0.0/8, ::1, localhost).
	AllowInsecureHTTP bool
	// Logger receives debug records of each request; nil discards them.
	// Secrets are never logged.
	Logger *slog.Logger
	// InsecureSkipTLSVerifyHosts lists hosts (host, or host:port) whose TLS
	// certificates are not verified; every other host's certificate is. A
	// failed verification is a *netpolicy.TLSError, which is terminal. Listing
	// hosts needs HTTPClient nil or with an *http.Transport.
	InsecureSkipTLSVerifyHosts []string
	// MaxFileSize bounds the files ReadFiles and Prefetch read (0: no
	// bound). The bound applies to the size the pack declares for an
	// entry, before it is inflated: a 400 MB file costs nothing but the
	// request. A larger file is an error wrapping ErrFileTooLarge.
	MaxFileSize int64
	// ServerNotes, when set, is where the Remote remembers what it learns
	// about the server, and learns what earlier Remotes noted (see
	// ServerNotes); nil keeps what the Remote learns to itself.
	ServerNotes *ServerNotes
	// TreeFetch says how commits' trees are fetched (default TreesAuto).
	TreeFetch TreeFetch
	// LargeTreeBytes is the size of a whole-tree answer at which
	// TreesAuto stops reading it, notes the repository as large and
	// fetches by path (0: 4 MiB).
	LargeTreeBytes int64
}

// Stats counts the HTTP requests a Remote made and the response body bytes
// it received.
type Stats struct {
	Requests      int
	BytesReceived int64
}

// Remote is one repository URL and one in-memory object store shared by all
// calls on it. A Remote is safe for concurrent use.
type Remote struct {
	url       string // without credentials; safe to print
	ep        *transport.Endpoint
	client    transport.Transport
	auth      *githttp.BasicAuth
	secret    string
	maxFile   int64
	notes     *ServerNotes
	treeFetch TreeFetch
	largeTree int64
	log       *slog.Logger
	requests  atomic.Int64
	received  atomic.Int64

	mu       sync.RWMutex
	store    *memory.Storage
	upCaps   *capability.List                  // upload-pack capabilities, from the last advertisement
	rpCaps   *capability.List                  // receive-pack capabilities, from the last advertisement
	pending  map[plumbing.Hash][]plumbing.Hash // commit built by Commit → objects to push
	unpushed map[plumbing.Hash]struct{}        // objects built here and not pushed yet
	onServer []plumbing.Hash                   // commits fetched or pushed, oldest first
	thinPack bool                              // upload-pack advertises thin-pack (go-git hides it)
}

// Open validates url and prepares a Remote. It makes no request. The URL
// must be http or https (plain http only for loopback hosts unless
// opts.AllowInsecureHTTP), without query or fragment; credentials in it are
// moved into the Auth (and refused if opts.Auth is set too) and never
// appear in URL(), errors or logs.
func Open(_ context.Context, rawURL string, opts Options) (*Remote, error) {
	u, auth, err := parseURL(rawURL, opts)
	if err != nil {
		return nil, err
	}
	r := &Remote{
		url:       netpolicy.RedactURL(u.String()),
		log:       opts.Logger,
		maxFile:   opts.MaxFileSize,
		notes:     cmp.Or(opts.ServerNotes, NewServerNotes()),
		treeFetch: opts.TreeFetch,
		largeTree: cmp.Or(opts.LargeTreeBytes, largeTreeBytes),
		store:     memory.NewStorage(),
		pending:   map[plumbing.Hash][]plumbing.Hash{},
		unpushed:  map[plumbing.Hash]struct{}{},
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if auth != nil {
		r.auth = &githttp.BasicAuth{Username: auth.Username, Password: auth.Password}
		r.secret = auth.Password
	}
	r.ep, err = transport.NewEndpoint(r.url)
	if err != nil {
		return nil, fmt.Errorf("parsing repository URL %s: %w", r.url, ErrInvalidURL)
	}
	hc, err := r.httpClient(opts.HTTPClient, opts.InsecureSkipTLSVerifyHosts)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", r.url, err)
	}
	r.client = githttp.NewClient(hc)
	return r, nil
}

func parseURL(rawURL string, opts Options) (*url.URL, *Auth, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse quotes what it could not read, which may be part of a
		// password: the reason given is that of the redacted URL.
		shown := netpolicy.RedactURL(rawURL)
		reason := "the credentials before '@' do not parse"
		if _, perr := url.Parse(shown); perr != nil {
			var uerr *url.Error
			if errors.As(perr, &uerr) {
				perr = uerr.Err
			}
			reason = perr.Error()
		}
		return nil, nil, fmt.Errorf("parsing repository URL %s: %s: %w", shown, reason, ErrInvalidURL)
	}
	auth := opts.Auth
	if u.User != nil {
		if auth != nil {
			return nil, nil, fmt.Errorf("parsing repository URL %s: credentials both in the URL and in Options.Auth: %w", netpolicy.RedactURL(rawURL), ErrInvalidURL)
		}
		pass, _ := u.User.Password()
		auth = &Auth{Username: u.User.Username(), Password: pass}
		u.User = nil
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, nil, fmt.Errorf("parsing repository URL %s: scheme must be http or https: %w", netpolicy.RedactURL(rawURL), ErrInvalidURL)
	case u.Host == "":
		return nil, nil, fmt.Errorf("parsing repository URL %s: no host: %w", netpolicy.RedactURL(rawURL), ErrInvalidURL)
	case strings.Contains(u.Host+u.Path, "@") || strings.Contains(u.RawQuery+u.Fragment, "@"):
		// https://user:12/x@host/… parses as host "user:12" and a path
		// holding the rest of the password: never send that anywhere.
		return nil, nil, fmt.Errorf("parsing repository URL %s: an '@' after the host: a password with '/', '?' or '#' must be percent-encoded, or given as credentials: %w", netpolicy.RedactURL(rawURL), ErrInvalidURL)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, nil, fmt.Errorf("parsing repository URL %s: query or fragment not allowed: %w", netpolicy.RedactURL(rawURL), ErrInvalidURL)
	case u.Scheme == "http" && !opts.AllowInsecureHTTP && !netpolicy.IsLoopback(u.Host):
		return nil, nil, fmt.Errorf("parsing repository URL %s: plain http only for loopback hosts unless insecure HTTP is allowed: %w", netpolicy.RedactURL(rawURL), ErrInvalidURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, auth, nil
}

// URL returns the repository URL without credentials.
func (r *Remote) URL() string { return r.url }

// Stats returns the requests made and response bytes received so far.
func (r *Remote) Stats() Stats {
	return Stats{Requests: int(r.requests.Load()), BytesReceived: r.received.Load()}
}

// idleConnTimeout closes a Remote's idle connections soon after its last
// request: a Remote serves one step run, whose requests come back to back,
// and a long-running server (serve) must not keep every finished run's
// connections and their goroutines open for the usual 90s.
const idleConnTimeout = 5 * time.Second

func (r *Remote) httpClient(base *http.Client, skipVerify []string) (*http.Client, error) {
	var c http.Client
	if base != nil {
		c = *base
	} else {
		c.Transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          10,
			IdleConnTimeout:       idleConnTimeout,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 2 * time.Minute,
			ExpectContinueTimeout: time.Second,
		}
	}
	skip, err := netpolicy.NewTLSSkipHosts(skipVerify)
	if err != nil {
		return nil, err
	}
	next, err := netpolicy.TLSTransport(c.Transport, skip)
	if err != nil {
		return nil, err
	}
	c.Transport = &countingTransport{next: next, r: r}
	c.CheckRedirect = sameOriginRedirects(c.CheckRedirect)
	return &c, nil
}

// sameOriginRedirects refuses a redirect to another origin (scheme, host
// or port) before it is followed: go-git rewrites the remote's endpoint to
// where a redirect led and sends every later request, credentials
// included, there; net/http alone keeps Authorization on a redirect to the
// same host on another port. A redirect within the origin goes through
// next (or net/http's default of at most 10).
func sameOriginRedirects(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		from := via[0].URL
		if !netpolicy.SameOrigin(from, req.URL) {
			return fmt.Errorf("%w: %s answered with a redirect to %s; credentials go only to the origin they were configured for, so set repoURL to where the repository lives",
				ErrRedirect, netpolicy.RedactURL(netpolicy.OriginOf(from)), netpolicy.RedactURL(netpolicy.OriginOf(req.URL)))
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return fmt.Errorf("stopped after 10 redirects")
		}
		return nil
	}
}

// countingTransport counts requests and response bytes, logs each request,
// and keeps the start of a response body for the request's sniffer (see
// withSniffer), so protocol errors (ERR lines) can be read even where go-git
// swallows them.
type countingTransport struct {
	next http.RoundTripper
	r    *Remote
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.r.requests.Add(1)
	start := time.Now()
	res, err := t.next.RoundTrip(req)
	if err != nil {
		t.r.log.DebugContext(req.Context(), "git request failed", "method", req.Method, "url", netpolicy.RedactURL(req.URL.String()), "error", hideSecret(err, t.r.secret))
		return nil, err
	}
	t.r.log.DebugContext(req.Context(), "git request", "method", req.Method, "url", netpolicy.RedactURL(req.URL.String()), "status", res.StatusCode, "elapsed", time.Since(start))
	sn, _ := req.Context().Value(snifferKey{}).(*sniffer)
	res.Body = &countingBody{ReadCloser: res.Body, n: &t.r.received, sn: sn}
	return res, nil
}

type countingBody struct {
	io.ReadCloser
	n  *atomic.Int64
	sn *sniffer
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	if b.sn != nil {
		b.sn.write(p[:n])
	}
	return n, err
}

type snifferKey struct{}

// sniffer keeps the first bytes of a response.
type sniffer struct {
	mu  sync.Mutex
	buf []byte
}

const sniffLen = 8 << 10

func (s *sniffer) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if room := sniffLen - len(s.buf); room > 0 {
		s.buf = append(s.buf, p[:min(room, len(p))]...)
	}
}

// errLine returns the text of the first ERR pkt-line before the pack, if any.
func (s *sniffer) errLine() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf
	for len(b) >= 4 {
		if string(b[:4]) == "PACK" {
			return "", false
		}
		var n int
		if _, err := fmt.Sscanf(string(b[:4]), "%04x", &n); err != nil {
			return "", false
		}
		if n == 0 {
			b = b[4:]
			continue
		}
		if n < 4 || n > len(b) {
			return "", false
		}
		payload := string(b[4:n])
		if strings.HasPrefix(payload, "ERR ") {
			return strings.TrimSpace(payload[4:]), true
		}
		b = b[n:]
	}
	return "", false
}

// advertises reports whether the first ref line of an advertisement lists
// the capability c (go-git drops some from what it parses).
func (s *sniffer) advertises(c capability.Capability) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := bytes.IndexByte(s.buf, 0)
	if i < 0 {
		return false
	}
	line := s.buf[i+1:]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	for _, f := range bytes.Fields(line) {
		if string(f) == string(c) {
			return true
		}
	}
	return false
}

func withSniffer(ctx context.Context) (context.Context, *sniffer) {
	s := &sniffer{}
	return context.WithValue(ctx, snifferKey{}, s), s
}

// classify maps transport errors to this package's errors, dropping the
// server's text for authentication failures, and reports a cancelled or
// expired context as such.
func (r *Remote) classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return ErrAuth
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return ErrRepositoryNotFound
	}
	// go-git's wrappers do not unwrap; expose what they hold (a *url.Error,
	// a *githttp.Err) to errors.As.
	var ue *plumbing.UnexpectedError
	var pe *plumbing.PermanentError
	switch {
	case errors.As(err, &ue):
		err = ue.Err
	case errors.As(err, &pe):
		err = pe.Err
	}
	return hideSecret(err, r.secret)
}

// advertise reads the refs and capabilities the upload-pack service
// advertises and remembers the capabilities.
func (r *Remote) advertise(ctx context.Context) (*packp.AdvRefs, error) {
	sess, err := r.client.NewUploadPackSession(r.ep, r.authMethod())
	if err != nil {
		return nil, r.classify(ctx, err)
	}
	defer sess.Close()
	sctx, sn := withSniffer(ctx)
	ar, err := sess.AdvertisedReferencesContext(sctx)
	if err != nil {
		if errors.Is(err, transport.ErrEmptyRemoteRepository) {
			// No refs, and no capabilities worth keeping.
			return packp.NewAdvRefs(), nil
		}
		return nil, r.classify(ctx, err)
	}
	r.mu.Lock()
	r.upCaps = ar.Capabilities
	r.thinPack = sn.advertises(capability.ThinPack)
	r.mu.Unlock()
	return ar, nil
}

func (r *Remote) authMethod() transport.AuthMethod {
	if r.auth == nil {
		return nil
	}
	return r.auth
}

// refName turns "main" into "refs/heads/main" and checks the name.
func refName(branch string) (plumbing.ReferenceName, error) {
	name := plumbing.ReferenceName(branch)
	if !strings.HasPrefix(branch, "refs/") {
		name = plumbing.NewBranchReferenceName(branch)
	}
	if branch == "" || name.Validate() != nil {
		return "", fmt.Errorf("invalid branch name %q", branch)
	}
	return name, nil
}

// Tip returns the commit the branch points at now (a fresh advertisement
// on every call).
func (r *Remote) Tip(ctx context.Context, branch string) (plumbing.Hash, error) {
	name, err := refName(branch)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading branch of %s: %w", r.url, err)
	}
	ar, err := r.advertise(ctx)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading branch %s of %s: %w", name.Short(), r.url, err)
	}
	h, ok := ar.References[name.String()]
	if !ok {
		return plumbing.ZeroHash, fmt.Errorf("reading branch %s of %s: %w", name.Short(), r.url, ErrBranchNotFound)
	}
	return h, nil
}

func short(h plumbing.Hash) string { return h.String()[:7] }
