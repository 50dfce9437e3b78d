package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/argo-refs/argo-refs/internal/ambient"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// Environment variables read for credentials when Options.Credentials is nil.
const (
	// EnvUsername names the registry user; set it together with EnvPassword.
	EnvUsername = netpolicy.EnvRegistryUsername
	// EnvPassword holds the registry password or token.
	EnvPassword = netpolicy.EnvRegistryPassword
	// EnvRegistryHost, when set, is the only registry the environment's
	// credentials are sent to.
	EnvRegistryHost = netpolicy.EnvRegistryHost
)

// RevisionLabel is the OCI annotation key, used as an image config label,
// that names the source commit an image was built from.
const RevisionLabel = "org.opencontainers.image.revision"

// manifestAccept lists the manifest media types the client asks for: the OCI
// index and manifest and the Docker manifest list and v2 manifest.
var manifestAccept = []string{
	string(types.OCIImageIndex),
	string(types.OCIManifestSchema1),
	string(types.DockerManifestList),
	string(types.DockerManifestSchema2),
}

// Limits on what is read from a registry.
const (
	maxManifestBytes = 4 << 20
	maxConfigBytes   = 8 << 20
)

// Credentials are a registry user name and password (or token) and the
// only registry (host or host:port) they are sent to; a repository
// elsewhere is pulled anonymously. An empty Registry sends them to every
// registry (only for a caller that trusts every reference it is given).
// They are never printed, logged or put in an error.
type Credentials = netpolicy.RegistryCredentials

// Options configure a Client. The zero value is usable.
type Options struct {
	// Credentials are used for every registry when set. Otherwise the
	// environment (EnvUsername and EnvPassword) is used when set, and
	// otherwise Keychain.
	Credentials *Credentials
	// Keychain resolves credentials per registry when neither Credentials nor
	// the environment give any. Nil means authn.DefaultKeychain: the Docker
	// config.json under $DOCKER_CONFIG or ~/.docker (auths with base64 auth,
	// credential helpers), then Podman's auth.json; anonymous otherwise.
	Keychain authn.Keychain
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// InsecureHosts are registry hosts spoken to over plain HTTP besides
	// loopback hosts: host:port, or host for every port. Every other host
	// must use HTTPS.
	InsecureHosts []string
	// RetryMax is the number of retries after the first attempt; 0 means 4,
	// a negative value means none.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the wait between attempts; zero
	// means 200ms and 5s. A Retry-After longer than RetryWaitMax ends the
	// retries at once.
	RetryWaitMin, RetryWaitMax time.Duration
	// Transport is the base transport under the retry layer; nil means the
	// standard transport with bounded dial, TLS handshake and header waits.
	Transport http.RoundTripper
	// Logger receives debug logs (retries, token exchanges); nil discards.
	Logger *slog.Logger
	// AmbientFetch asks the cloud for ambient credentials (Credentials with
	// Ambient); nil means ambient.Exec, which runs argo-refs-cloud-auth.
	AmbientFetch ambient.Fetcher
	// InsecureSkipTLSVerifyHosts are registry hosts (host:port, or host for
	// every port) whose TLS certificates are not verified; every other
	// host's certificate is. A failed verification is a *netpolicy.TLSError,
	// terminal and never retried. Listing hosts needs Transport nil or an
	// *http.Transport.
	InsecureSkipTLSVerifyHosts []string
}

// Client resolves and verifies image references. It caches, per registry and
// repository, the authenticated transport with its pull token until the token
// expires, so that a warm verification costs one HTTP round trip. A Client is
// safe for concurrent use.
type Client struct {
	creds     *Credentials
	ambient   *ambient.Source // when creds are ambient
	keychain  authn.Keychain
	insecure  []string
	transport http.RoundTripper // retry layer over the scheme policy
	cnt       *counters
	log       *slog.Logger
	now       func() time.Time

	mu         sync.Mutex
	challenges map[string]*transport.Challenge // by registry
	auths      map[string]repoAuth             // by registry/repository
	locks      map[string]chan struct{}        // by registry/repository
}

// repoAuth is a cached authenticated transport for one repository's pull
// scope; expires is zero when it never does (no bearer token).
type repoAuth struct {
	rt      http.RoundTripper
	expires time.Time
}

// New returns a Client configured by opts.
func New(opts Options) (*Client, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Client{
		keychain:   opts.Keychain,
		cnt:        &counters{},
		log:        opts.Logger,
		now:        time.Now,
		challenges: map[string]*transport.Challenge{},
		auths:      map[string]repoAuth{},
		locks:      map[string]chan struct{}{},
	}
	if c.keychain == nil {
		c.keychain = authn.DefaultKeychain
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case opts.Credentials != nil && opts.Credentials.Ambient:
		if opts.Credentials.Username != "" || opts.Credentials.Password != "" {
			return nil, errors.New("creating registry client: ambient credentials take no username or password")
		}
		cp := *opts.Credentials
		c.creds = &cp
	case opts.Credentials != nil:
		if opts.Credentials.Username == "" || opts.Credentials.Password == "" {
			return nil, errors.New("creating registry client: credentials need both a username and a password")
		}
		cp := *opts.Credentials
		c.creds = &cp
	default:
		creds, err := netpolicy.RegistryFromEnv(getenv)
		if err != nil {
			return nil, fmt.Errorf("creating registry client: %w", err)
		}
		c.creds = creds
	}
	for _, h := range opts.InsecureHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || strings.Contains(h, "/") {
			return nil, fmt.Errorf("creating registry client: insecure host %q: want host or host:port", h)
		}
		c.insecure = append(c.insecure, h)
	}
	retryMax := opts.RetryMax
	switch {
	case retryMax == 0:
		retryMax = 4
	case retryMax < 0:
		retryMax = 0
	}
	waitMin, waitMax := opts.RetryWaitMin, opts.RetryWaitMax
	if waitMin <= 0 {
		waitMin = 200 * time.Millisecond
	}
	if waitMax <= 0 {
		waitMax = 5 * time.Second
	}
	if waitMin > waitMax {
		return nil, fmt.Errorf("creating registry client: RetryWaitMin %s is above RetryWaitMax %s", waitMin, waitMax)
	}
	base := opts.Transport
	if base == nil {
		base = defaultBaseTransport()
	}
	skip, err := netpolicy.NewTLSSkipHosts(opts.InsecureSkipTLSVerifyHosts)
	if err != nil {
		return nil, fmt.Errorf("creating registry client: %w", err)
	}
	if base, err = netpolicy.TLSTransport(base, skip); err != nil {
		return nil, fmt.Errorf("creating registry client: %w", err)
	}
	policy := &schemePolicy{inner: base, plainHTTP: c.plainHTTP, userAgent: "argo-refs"}
	c.transport = newRetryTransport(policy, retryMax, waitMin, waitMax, c.cnt, c.log)
	if c.creds != nil && c.creds.Ambient {
		if c.creds.Registry == "" {
			return nil, errors.New("creating registry client: ambient credentials need the registry they are for")
		}
		if _, err := ambient.ProviderOf(c.creds.Registry); err != nil {
			return nil, fmt.Errorf("creating registry client: %w", err)
		}
		fetch := opts.AmbientFetch
		if fetch == nil {
			// argo-refs-cloud-auth links the clouds' SDKs, which this
			// binary does not.
			fetch = ambient.Exec("", c.plainHTTP)
		}
		c.ambient = ambient.New(ambient.Options{Fetch: fetch})
	}
	return c, nil
}

// Stats returns the HTTP attempts made so far.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.cnt.requests.Load(), Retries: c.cnt.retries.Load()}
}

// plainHTTP reports whether host may be spoken to over plain HTTP.
// An InsecureHosts entry without a port allows every port of that host.
func (c *Client) plainHTTP(host string) bool {
	return netpolicy.PlainHTTPAllowed(host, c.insecure)
}

func (c *Client) scheme(reg name.Registry) string {
	if c.plainHTTP(reg.RegistryStr()) {
		return "http"
	}
	return "https"
}

// Descriptor is what a registry reports for a manifest.
type Descriptor struct {
	// Digest is sha256:<hex> of the manifest bytes.
	Digest string
	// MediaType is the manifest's media type; an index for multi-arch images.
	MediaType string
	// Size is the manifest's size in bytes, or -1 when not reported.
	Size int64
}

// Resolve returns the descriptor ref points at. It sends HEAD for the
// manifest with Accept for the OCI index and manifest and the Docker manifest
// list and v2 manifest, and reads Docker-Content-Digest; when the registry
// omits that header it GETs the manifest and hashes the bytes. A multi-arch
// image resolves to the digest of its index.
func (c *Client) Resolve(ctx context.Context, ref string) (Descriptor, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return Descriptor{}, err
	}
	return c.resolve(ctx, r)
}

func (c *Client) resolve(ctx context.Context, ref name.Reference) (Descriptor, error) {
	d, err := c.resolveOnce(ctx, ref)
	return d, withContext(ctx, err)
}

// withContext adds the context's error to an ErrUnavailable that happened
// while the context ended, so that callers can tell a deadline from an outage.
func withContext(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || errors.Is(err, ctx.Err()) || !errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, ctx.Err())
}

func (c *Client) resolveOnce(ctx context.Context, ref name.Reference) (Descriptor, error) {
	repo := ref.Context()
	rt, err := c.transportFor(ctx, repo)
	if err != nil {
		return Descriptor{}, fmt.Errorf("resolving %s: %w", ref, err)
	}
	// The manifest itself, not a HEAD: a registry's Docker-Content-Digest
	// header is its word, the hash of what the tag serves is the truth.
	desc, _, err := c.getManifest(ctx, rt, ref)
	if err != nil {
		return Descriptor{}, fmt.Errorf("resolving %s: %w", ref, err)
	}
	return desc, nil
}

// getManifest GETs the manifest ref names and returns its descriptor, from
// the SHA-256 of the bytes, and the bytes. When ref is a digest the bytes must
// hash to it.
func (c *Client) getManifest(ctx context.Context, rt http.RoundTripper, ref name.Reference) (Descriptor, []byte, error) {
	resp, err := c.send(ctx, rt, http.MethodGet, c.manifestURL(ref.Context(), ref.Identifier()), manifestAccept)
	if err != nil {
		return Descriptor{}, nil, classify(fmt.Errorf("getting manifest %s: %w", ref, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Descriptor{}, nil, classify(fmt.Errorf("getting manifest %s: %w", ref, transport.CheckError(resp, http.StatusOK)))
	}
	body, err := readLimited(resp.Body, maxManifestBytes)
	if err != nil {
		return Descriptor{}, nil, classify(fmt.Errorf("reading manifest %s: %w", ref, err))
	}
	mt, err := manifestType(resp.Header.Get("Content-Type"), body)
	if err != nil {
		// A captive portal or a proxy's error page: no verdict on the tag.
		return Descriptor{}, nil, fmt.Errorf("%w: getting manifest %s: %w", ErrUnavailable, ref, err)
	}
	sum := sha256.Sum256(body)
	dg := "sha256:" + hex.EncodeToString(sum[:])
	if d, ok := ref.(name.Digest); ok && d.DigestStr() != dg {
		return Descriptor{}, nil, fmt.Errorf("%w: manifest %s hashes to %s", ErrUnavailable, ref, dg)
	}
	if h := resp.Header.Get("Docker-Content-Digest"); validDigest(h) && h != dg {
		c.log.WarnContext(ctx, "the registry's Docker-Content-Digest differs from the hash of the manifest it served; the hash counts",
			"ref", ref.String(), "header", h, "manifest", dg)
	}
	return Descriptor{Digest: dg, MediaType: mt, Size: int64(len(body))}, body, nil
}

// manifestType returns the media type of a manifest body, or an error when
// the body is not a manifest (HTML, plain text, JSON without schemaVersion).
func manifestType(contentType string, body []byte) (string, error) {
	ct := mediaType(contentType)
	var probe struct {
		SchemaVersion *int   `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
	}
	if err := json.Unmarshal(body, &probe); err != nil || probe.SchemaVersion == nil {
		shown := ct
		if shown == "" {
			shown = "no content type"
		}
		return "", fmt.Errorf("the registry answered with something that is not a manifest (%s, %d bytes)", shown, len(body))
	}
	if probe.MediaType != "" {
		return probe.MediaType, nil
	}
	return ct, nil
}

// Verification is the outcome of Verify: the reference, the digest wanted
// (the recorded one) and the digest the registry reports ("" when unknown).
type Verification struct {
	Ref  string
	Want string
	Got  string
}

// Verify checks that ref still resolves to wantDigest. It returns nil when it
// does; an error wrapping ErrTagMoved, naming both digests, when the tag now
// points elsewhere; ErrNotFound when the tag or repository is gone;
// ErrUnauthorized when the registry refuses the credentials; ErrUnavailable
// when the registry gave no answer after the retries; ErrInvalidReference for
// a malformed ref or digest. For repo:tag@sha256:… the tag is checked, and
// the pinned digest must equal wantDigest.
func (c *Client) Verify(ctx context.Context, ref, wantDigest string) (Verification, error) {
	v := Verification{Ref: ref, Want: wantDigest}
	if !validDigest(wantDigest) {
		return v, fmt.Errorf("%w: digest %q: want sha256:<64 lowercase hex>", ErrInvalidReference, wantDigest)
	}
	r, err := ParseReference(ref)
	if err != nil {
		return v, err
	}
	target := r
	if d, ok := r.(name.Digest); ok {
		if d.DigestStr() != wantDigest {
			return v, fmt.Errorf("%w: %s pins %s but the recorded digest is %s", ErrInvalidReference, ref, d.DigestStr(), wantDigest)
		}
		if tag := tagOf(r); tag != "" {
			target = d.Context().Tag(tag)
		}
	}
	desc, err := c.resolve(ctx, target)
	if err != nil {
		return v, fmt.Errorf("verifying %s: %w", ref, err)
	}
	v.Got = desc.Digest
	if v.Got != wantDigest {
		return v, fmt.Errorf("%w: %s resolves to %s, but the recorded digest is %s", ErrTagMoved, ref, v.Got, wantDigest)
	}
	return v, nil
}

// Revision returns the RevisionLabel of the image config ref points at, or ""
// when the config has no such label. Through an index it reads the manifest
// for the current platform (runtime.GOOS/GOARCH), else the first manifest.
func (c *Client) Revision(ctx context.Context, ref string) (string, error) {
	rev, err := c.revision(ctx, ref)
	return rev, withContext(ctx, err)
}

func (c *Client) revision(ctx context.Context, ref string) (string, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	repo := r.Context()
	rt, err := c.transportFor(ctx, repo)
	if err != nil {
		return "", fmt.Errorf("reading revision of %s: %w", ref, err)
	}
	desc, body, err := c.getManifest(ctx, rt, r)
	if err != nil {
		return "", fmt.Errorf("reading revision of %s: %w", ref, err)
	}
	if isIndex(desc.MediaType, body) {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(body))
		if err != nil {
			return "", fmt.Errorf("reading revision of %s: parsing index %s: %w", ref, desc.Digest, err)
		}
		m, ok := pickManifest(idx.Manifests)
		if !ok {
			return "", fmt.Errorf("%w: reading revision of %s: index %s lists no image manifest", ErrNotFound, ref, desc.Digest)
		}
		if _, body, err = c.getManifest(ctx, rt, repo.Digest(m.Digest.String())); err != nil {
			return "", fmt.Errorf("reading revision of %s: %w", ref, err)
		}
	}
	man, err := v1.ParseManifest(bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("reading revision of %s: parsing manifest: %w", ref, err)
	}
	cfgDigest := man.Config.Digest.String()
	if !validDigest(cfgDigest) {
		return "", fmt.Errorf("reading revision of %s: config digest %q: want sha256:<64 hex>", ref, cfgDigest)
	}
	cfg, err := c.getBlob(ctx, rt, repo, cfgDigest, maxConfigBytes)
	if err != nil {
		return "", fmt.Errorf("reading revision of %s: %w", ref, err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(cfg))
	if err != nil {
		return "", fmt.Errorf("reading revision of %s: parsing config %s: %w", ref, cfgDigest, err)
	}
	return cf.Config.Labels[RevisionLabel], nil
}

// pickManifest picks the image manifest for the current platform, else the
// first image manifest of an index.
func pickManifest(ms []v1.Descriptor) (v1.Descriptor, bool) {
	here := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	var first *v1.Descriptor
	for i := range ms {
		m := ms[i]
		if m.MediaType.IsIndex() {
			continue
		}
		if first == nil {
			first = &ms[i]
		}
		if m.Platform != nil && m.Platform.OS == here.OS && m.Platform.Architecture == here.Architecture {
			return m, true
		}
	}
	if first == nil {
		return v1.Descriptor{}, false
	}
	return *first, true
}

func isIndex(mt string, body []byte) bool {
	switch types.MediaType(mt) {
	case types.OCIImageIndex, types.DockerManifestList:
		return true
	case "":
		var probe struct {
			Manifests json.RawMessage `json:"manifests"`
		}
		return json.Unmarshal(body, &probe) == nil && probe.Manifests != nil
	}
	return false
}

// getBlob GETs a blob and checks it hashes to dg.
func (c *Client) getBlob(ctx context.Context, rt http.RoundTripper, repo name.Repository, dg string, limit int64) ([]byte, error) {
	u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", c.scheme(repo.Registry), repo.RegistryStr(), repo.RepositoryStr(), dg)
	resp, err := c.send(ctx, rt, http.MethodGet, u, nil)
	if err != nil {
		return nil, classify(fmt.Errorf("getting blob %s: %w", dg, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, classify(fmt.Errorf("getting blob %s: %w", dg, transport.CheckError(resp, http.StatusOK)))
	}
	body, err := readLimited(resp.Body, limit)
	if err != nil {
		return nil, classify(fmt.Errorf("reading blob %s: %w", dg, err))
	}
	sum := sha256.Sum256(body)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != dg {
		return nil, fmt.Errorf("%w: blob %s hashes to %s", ErrUnavailable, dg, got)
	}
	return body, nil
}

func (c *Client) manifestURL(repo name.Repository, identifier string) string {
	return fmt.Sprintf("%s://%s/v2/%s/manifests/%s", c.scheme(repo.Registry), repo.RegistryStr(), repo.RepositoryStr(), identifier)
}

func (c *Client) send(ctx context.Context, rt http.RoundTripper, method, u string, accept []string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	if len(accept) > 0 {
		req.Header.Set("Accept", strings.Join(accept, ", "))
	}
	return (&http.Client{Transport: rt}).Do(req)
}

func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return contentType
	}
	return mt
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("body exceeds %d bytes", limit)
	}
	return b, nil
}
