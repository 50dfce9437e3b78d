// Package githubapp authenticates as a GitHub App installation: it signs
// the App's JWT (RS256, with github.com/golang-jwt/jwt/v5), exchanges it at
// the API for an installation token, and keeps the token until shortly
// before it expires. A token a server refused is dropped, so the next call
// mints a new one. Neither the key, the JWT nor a token is ever logged or
// put in an error.
package githubapp

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// DefaultAPIURL is github.com's REST API.
const DefaultAPIURL = "https://api.github.com"

// refreshBefore is how long before its expiry a token is replaced.
const refreshBefore = 5 * time.Minute

// ErrRefused is an exchange GitHub refused: a wrong App, installation or key.
var ErrRefused = errors.New("GitHub refused the App's credentials")

// App is one installation of a GitHub App. It is safe for concurrent use.
type App struct {
	issuer         string // the App's client ID, or its numeric ID
	installationID string
	key            *rsa.PrivateKey
	apiURL         string
	http           *http.Client
	now            func() time.Time

	id string

	mu      sync.Mutex
	token   string
	expires time.Time
}

// Options configure New.
type Options struct {
	// APIURL is the API; empty means DefaultAPIURL.
	APIURL string
	// HTTP is the client; nil means one with a 30 s timeout.
	HTTP *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New reads an App: issuer is its client ID (Kargo's githubAppClientID) or
// numeric ID (githubAppID), installationID its installation, and pemKey its
// private key in PEM.
func New(issuer, installationID, pemKey string, opts Options) (*App, error) {
	switch {
	case issuer == "":
		return nil, errors.New("GitHub App: no client ID or App ID")
	case installationID == "":
		return nil, errors.New("GitHub App: no installation ID")
	}
	if _, err := strconv.ParseUint(installationID, 10, 64); err != nil {
		return nil, fmt.Errorf("GitHub App: installation ID %q is not a number", installationID)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(pemKey))
	if err != nil {
		return nil, errors.New("GitHub App: the private key is not an RSA key in PEM") // never the key's text
	}
	a := &App{issuer: issuer, installationID: installationID, key: key, apiURL: strings.TrimSuffix(opts.APIURL, "/"), http: opts.HTTP, now: opts.Now}
	if a.apiURL == "" {
		a.apiURL = DefaultAPIURL
	}
	sum := sha256.Sum256([]byte(a.apiURL + "\x00" + issuer + "\x00" + installationID + "\x00" + pemKey))
	a.id = hex.EncodeToString(sum[:])
	if a.http == nil {
		a.http = &http.Client{Timeout: 30 * time.Second}
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// Token returns an installation token, minting one when none is held or
// the one held expires within refreshBefore.
func (a *App) Token(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && a.now().Add(refreshBefore).Before(a.expires) {
		return a.token, nil
	}
	tok, exp, err := a.mint(ctx)
	if err != nil {
		return "", err
	}
	a.token, a.expires = tok, exp
	return tok, nil
}

// Refused drops token if it is the one held: a server refused it, so the
// next Token mints another.
func (a *App) Refused(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if token == a.token {
		a.token = ""
	}
}

// mint signs the App's JWT and exchanges it for an installation token.
func (a *App) mint(ctx context.Context) (string, time.Time, error) {
	now := a.now()
	// iat a minute back allows for clock drift; GitHub accepts at most
	// ten minutes between iat and exp.
	claims := jwt.RegisteredClaims{
		Issuer:    a.issuer,
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("GitHub App: signing the JWT: %w", err)
	}
	u := fmt.Sprintf("%s/app/installations/%s/access_tokens", a.apiURL, a.installationID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("GitHub App: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+signed)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "argo-refs")
	hc := *a.http
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return errors.New("redirect not followed") }
	resp, err := hc.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("GitHub App: minting an installation token at %s: %w", netpolicy.RedactURL(u), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("GitHub App: reading the token: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound:
		return "", time.Time{}, fmt.Errorf("GitHub App %s, installation %s: %w (HTTP %d)", a.issuer, a.installationID, ErrRefused, resp.StatusCode)
	default:
		return "", time.Time{}, fmt.Errorf("GitHub App: minting an installation token: HTTP %d", resp.StatusCode)
	}
	var t struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.Token == "" {
		return "", time.Time{}, errors.New("GitHub App: the token endpoint's answer holds no token")
	}
	return t.Token, t.ExpiresAt, nil
}

// ID identifies the App, installation, key and API, for sharing one App
// (and its token) between runs; it is a hash and shows no secret.
func (a *App) ID() string { return a.id }

// APIURLFor is the API of the GitHub that serves repository rawURL:
// api.github.com for github.com, else <scheme>://<host>/api/v3 (GitHub
// Enterprise Server).
func APIURLFor(scheme, host string) string {
	if strings.EqualFold(host, "github.com") || strings.EqualFold(host, "www.github.com") {
		return DefaultAPIURL
	}
	return scheme + "://" + host + "/api/v3"
}

// String names the App without its key or token.
func (a *App) String() string {
	return fmt.Sprintf("GitHub App %s (installation %s)", a.issuer, a.installationID)
}

// GoString is String, so %#v shows no key either.
func (a *App) GoString() string { return a.String() }

// Format prints String for every verb.
func (a *App) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, a.String()) }
