package regtest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Service is the service name the token gate announces and expects.
const Service = "regtest"

// Registry is an in-process OCI registry (go-containerregistry's
// pkg/registry) on 127.0.0.1 behind a bearer-token gate like ghcr.io's: every
// /v2/ request without a valid token gets 401 and
// WWW-Authenticate: Bearer realm="<base>/token",service="regtest",scope="repository:<name>:pull",
// and /token issues opaque random tokens bound to the requested pull scopes
// for a limited time. Test helpers push through a second, ungated listener,
// so they never show in the counters or meet injected faults.
type Registry struct {
	// Host is 127.0.0.1:<port>, the registry part of image references.
	Host string

	user, pass string
	ttl        time.Duration
	mws        []func(http.Handler) http.Handler

	srv   *httptest.Server // gated, what clients use
	admin *httptest.Server // ungated, for the helpers

	mu     sync.Mutex
	tokens map[string]grant
	// referrers maps repo@subject to the artifacts PushReferrer pushed.
	referrers    map[string][]v1.Descriptor
	referrersAPI bool

	requests, tokenRequests, manifestRequests atomic.Int64
	down                                      atomic.Bool
}

// grant is what a token allows: repository name → pull, until expires.
type grant struct {
	repos   map[string]bool
	expires time.Time
}

// Option configures a Registry.
type Option func(*Registry)

// WithCredentials makes /token demand HTTP Basic credentials user:pass;
// without it anonymous pull is allowed.
func WithCredentials(user, pass string) Option {
	return func(r *Registry) { r.user, r.pass = user, pass }
}

// WithTokenTTL sets how long issued tokens are valid (default 5 minutes).
// expires_in is reported in whole seconds, rounded up.
func WithTokenTTL(d time.Duration) Option {
	return func(r *Registry) { r.ttl = d }
}

// WithMiddleware wraps the gated registry, token endpoint included, in mw,
// for fault injection. Middlewares apply in the order given, the first
// outermost. The counters see every request before any middleware does.
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return func(r *Registry) { r.mws = append(r.mws, mw) }
}

// New starts a Registry for the length of the test.
func New(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	r := &Registry{ttl: 5 * time.Minute, tokens: map[string]grant{}, referrers: map[string][]v1.Descriptor{}}
	for _, o := range opts {
		o(r)
	}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.gate(inner, w, req) })
	for i := len(r.mws) - 1; i >= 0; i-- {
		h = r.mws[i](h)
	}
	r.srv = httptest.NewUnstartedServer(r.count(h))
	r.srv.Listener = dropListener{Listener: r.srv.Listener, down: &r.down}
	r.srv.Start()
	r.admin = httptest.NewServer(inner)
	t.Cleanup(r.admin.Close)
	t.Cleanup(r.srv.Close)
	r.Host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// URL is the registry's base URL, http://127.0.0.1:<port>.
func (r *Registry) URL() string { return r.srv.URL }

// Ref returns "<Host>/<repoTag>".
func (r *Registry) Ref(repoTag string) string { return r.Host + "/" + repoTag }

// Requests counts every request clients sent, faulted ones included.
func (r *Registry) Requests() int { return int(r.requests.Load()) }

// TokenRequests counts requests to /token.
func (r *Registry) TokenRequests() int { return int(r.tokenRequests.Load()) }

// ManifestRequests counts requests for /v2/<name>/manifests/<reference>.
func (r *Registry) ManifestRequests() int { return int(r.manifestRequests.Load()) }

// ResetCounters sets every counter back to zero.
func (r *Registry) ResetCounters() {
	r.requests.Store(0)
	r.tokenRequests.Store(0)
	r.manifestRequests.Store(0)
}

func (r *Registry) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		switch {
		case req.URL.Path == "/token":
			r.tokenRequests.Add(1)
		case IsManifestRequest(req):
			r.manifestRequests.Add(1)
		}
		next.ServeHTTP(w, req)
	})
}

// IsManifestRequest reports whether req asks for /v2/<name>/manifests/<ref>.
func IsManifestRequest(req *http.Request) bool {
	_, kind := splitPath(req.URL.Path)
	return kind == "manifests"
}

// splitPath splits /v2/<name>/<kind>/<rest> into name and kind.
func splitPath(p string) (repo, kind string) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", ""
	}
	for _, k := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		if i := strings.LastIndex(rest, k); i > 0 {
			return rest[:i], strings.Trim(k, "/")
		}
	}
	return "", ""
}

func (r *Registry) gate(inner http.Handler, w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/token" {
		r.token(w, req)
		return
	}
	if !strings.HasPrefix(req.URL.Path, "/v2/") && req.URL.Path != "/v2" {
		http.NotFound(w, req)
		return
	}
	repo, _ := splitPath(req.URL.Path)
	tok, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	r.mu.Lock()
	g, ok := r.tokens[tok]
	r.mu.Unlock()
	ok = ok && tok != "" && time.Now().Before(g.expires)
	if ok && repo != "" {
		// The token service grants pull only; writing goes through the
		// helpers' own listener.
		ok = g.repos[repo] && (req.Method == http.MethodGet || req.Method == http.MethodHead)
	}
	if !ok {
		// The realm is on the name the client used, as a registry
		// announces its public name: a test may serve a cloud
		// registry's host name from here.
		scheme := "http"
		if req.TLS != nil {
			scheme = "https"
		}
		challenge := fmt.Sprintf(`Bearer realm="%s://%s/token",service="%s"`, scheme, req.Host, Service)
		if repo != "" {
			challenge += fmt.Sprintf(`,scope="repository:%s:pull"`, repo)
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	if r.referrersHandler(w, req) {
		return
	}
	inner.ServeHTTP(w, req)
}

func (r *Registry) token(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet {
		// Like registries without OAuth2 support: clients fall back to GET.
		writeError(w, http.StatusNotFound, "UNSUPPORTED", "use GET")
		return
	}
	if r.user != "" {
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(r.user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(r.pass)) != 1 {
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
	}
	if s := req.URL.Query().Get("service"); s != Service {
		writeError(w, http.StatusBadRequest, "DENIED", fmt.Sprintf("unknown service %q", s))
		return
	}
	g := grant{repos: map[string]bool{}, expires: time.Now().Add(r.ttl)}
	for _, sc := range req.URL.Query()["scope"] {
		for _, s := range strings.Fields(sc) {
			parts := strings.Split(s, ":")
			if len(parts) == 3 && parts[0] == "repository" && strings.Contains(parts[2], "pull") {
				g.repos[parts[1]] = true
			}
		}
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	r.mu.Lock()
	r.tokens[tok] = g
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token":        tok,
		"access_token": tok,
		"expires_in":   int(math.Ceil(r.ttl.Seconds())),
		"issued_at":    time.Now().UTC().Format(time.RFC3339),
	})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
}

// PushImage pushes a random single-platform image with labels in its config
// to repoTag (e.g. "app:v1") and returns its manifest digest.
func (r *Registry) PushImage(t testing.TB, repoTag string, labels map[string]string) string {
	t.Helper()
	img := r.image(t, "linux", "amd64", labels)
	r.write(t, repoTag, img)
	return digestOf(t, img)
}

// PlatformImage is one image of an index pushed by PushIndexOf.
type PlatformImage struct {
	OS, Architecture string
	Labels           map[string]string
}

// PushIndex pushes a multi-arch OCI index of random linux/amd64 and
// linux/arm64 images to repoTag and returns the index digest.
func (r *Registry) PushIndex(t testing.TB, repoTag string) string {
	t.Helper()
	return r.PushIndexOf(t, repoTag,
		PlatformImage{OS: "linux", Architecture: "amd64"},
		PlatformImage{OS: "linux", Architecture: "arm64"})
}

// PushIndexOf pushes an OCI index of random images, one per entry in the
// given order, to repoTag and returns the index digest.
func (r *Registry) PushIndexOf(t testing.TB, repoTag string, images ...PlatformImage) string {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range images {
		img := r.image(t, p.OS, p.Architecture, p.Labels)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Architecture}},
		})
	}
	ref := r.adminRef(t, repoTag)
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx(t))); err != nil {
		t.Fatalf("regtest: pushing index %s: %v", repoTag, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatalf("regtest: digest of index %s: %v", repoTag, err)
	}
	return d.String()
}

// DeleteTag removes repoTag from the registry.
func (r *Registry) DeleteTag(t testing.TB, repoTag string) {
	t.Helper()
	if err := remote.Delete(r.adminRef(t, repoTag), remote.WithContext(ctx(t))); err != nil {
		t.Fatalf("regtest: deleting %s: %v", repoTag, err)
	}
}

func (r *Registry) image(t testing.TB, os, arch string, labels map[string]string) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatalf("regtest: random image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("regtest: config of random image: %v", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = os, arch
	cf.Config.Labels = labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatalf("regtest: setting config: %v", err)
	}
	return img
}

func (r *Registry) write(t testing.TB, repoTag string, img v1.Image) {
	t.Helper()
	if err := remote.Write(r.adminRef(t, repoTag), img, remote.WithContext(ctx(t))); err != nil {
		t.Fatalf("regtest: pushing %s: %v", repoTag, err)
	}
}

func (r *Registry) adminRef(t testing.TB, repoTag string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(strings.TrimPrefix(r.admin.URL, "http://")+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatalf("regtest: reference %q: %v", repoTag, err)
	}
	return ref
}

func digestOf(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("regtest: image digest: %v", err)
	}
	return d.String()
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// Close stops the registry before the test ends. Its port is then free for
// any other test to take; to test a registry that is down, use Down.
func (r *Registry) Close() {
	r.srv.Close()
	r.admin.Close()
}

// PushChart pushes a packaged Helm chart (tgz) to repoTag as helm push
// does: a Helm config and one chart content layer, in an OCI manifest. It
// returns the manifest's digest.
func (r *Registry) PushChart(t testing.TB, repoTag string, tgz []byte) string {
	t.Helper()
	layer := static.NewLayer(tgz, types.MediaType("application/vnd.cncf.helm.chart.content.v1.tar+gzip"))
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType("application/vnd.cncf.helm.config.v1+json"))
	r.write(t, repoTag, img)
	return digestOf(t, img)
}
