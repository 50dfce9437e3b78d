package images

// Pull tokens, cached. The protocol is go-containerregistry's
// (transport.Ping, transport.Exchange, transport.FromToken); what is kept
// here is the cache around it, instead of remote.Puller's, because the
// Puller re-pings each new repository and renews a token only after a
// refused request. Measured against the same registry
// (TestKeptTokenCacheCostsFewerRequestsThanPuller): a warm verification is
// 1 request either way; a new repository on a known registry is 2 requests
// here and 3 with the Puller (the challenge of GET /v2/ is kept per
// registry); a token past its expires_in is 2 here and 3 with the Puller
// (renewed before, not after a 401). One caller per repository pings and
// exchanges while the others wait (TestConcurrentVerify). The retry layer
// and the scheme policy are the transport under it.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/argo-refs/argo-refs/internal/ambient"
)

// transportFor returns the authenticated transport for repo's pull scope,
// from the cache while its token is fresh. The registry's challenge (from
// GET /v2/) is cached per registry, so a new repository on a known registry
// costs one token request.
func (c *Client) transportFor(ctx context.Context, repo name.Repository) (http.RoundTripper, error) {
	reg := repo.RegistryStr()
	key := reg + "/" + repo.RepositoryStr()
	if rt, ok := c.cachedAuth(key); ok {
		return rt, nil
	}
	// One caller per repository pings and exchanges; the others wait for
	// its result, or for their own context.
	unlock, err := c.lockKey(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%w: waiting for the token of %s: %w", ErrUnavailable, key, err)
	}
	defer unlock()
	if rt, ok := c.cachedAuth(key); ok {
		return rt, nil
	}
	c.mu.Lock()
	ch := c.challenges[reg]
	c.mu.Unlock()
	if ch == nil {
		pr, err := transport.Ping(ctx, repo.Registry, noFallback{c.transport})
		if err != nil {
			return nil, classify(fmt.Errorf("pinging registry %s: %w", reg, pingCause(err)))
		}
		cp := *pr
		// The scheme is our policy, not the outcome of ping's https/http race.
		cp.Insecure = c.plainHTTP(reg)
		ch = &cp
		c.mu.Lock()
		c.challenges[reg] = ch
		c.mu.Unlock()
	}
	auth, until, err := c.authenticator(ctx, repo)
	if err != nil {
		return nil, err
	}
	var a repoAuth
	if strings.EqualFold(ch.Scheme, "bearer") {
		tok, err := transport.Exchange(ctx, repo.Registry, auth, c.transport, []string{repo.Scope(transport.PullScope)}, ch)
		if err != nil {
			return nil, classify(fmt.Errorf("getting a pull token for %s: %w", key, err))
		}
		if tok.Token == "" {
			tok.Token = tok.AccessToken
		}
		a.rt, err = transport.FromToken(repo.Registry, auth, c.transport, ch, tok)
		if err != nil {
			return nil, fmt.Errorf("%w: using the token for %s: %w", ErrUnauthorized, key, err)
		}
		a.expires = c.now().Add(tokenLifetime(tok.ExpiresIn))
		c.log.DebugContext(ctx, "got registry token", "repository", key, "expiresIn", tok.ExpiresIn)
	} else {
		a.rt, err = transport.FromToken(repo.Registry, auth, c.transport, ch, &transport.Token{})
		if err != nil {
			return nil, fmt.Errorf("%w: authenticating to %s: %w", ErrUnauthorized, reg, err)
		}
	}
	if !until.IsZero() {
		// Ambient credentials expire on their own (an ECR password after
		// 12 hours): never keep a transport that would send them later.
		if limit := until.Add(-ambient.RenewBefore); a.expires.IsZero() || limit.Before(a.expires) {
			a.expires = limit
		}
	}
	c.mu.Lock()
	c.auths[key] = a
	c.mu.Unlock()
	return a.rt, nil
}

// cachedAuth returns the cached transport for key while its token is fresh.
func (c *Client) cachedAuth(key string) (http.RoundTripper, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.auths[key]
	if ok && (a.expires.IsZero() || c.now().Before(a.expires)) {
		return a.rt, true
	}
	return nil, false
}

// lockKey takes the per-repository lock, giving up when ctx ends.
func (c *Client) lockKey(ctx context.Context, key string) (func(), error) {
	c.mu.Lock()
	l, ok := c.locks[key]
	if !ok {
		l = make(chan struct{}, 1)
		c.locks[key] = l
	}
	c.mu.Unlock()
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// tokenLifetime is how long a token is reused: its expires_in (60 s when
// absent, as the distribution token spec says) less a margin so that a token
// is not sent in its last seconds.
func tokenLifetime(expiresIn int) time.Duration {
	d := time.Duration(expiresIn) * time.Second
	if expiresIn <= 0 {
		d = 60 * time.Second
	}
	return d - min(d/10, 10*time.Second)
}

// authenticator picks the credentials for repo: explicit (a user name and
// password, or ambient), environment, then the keychain; until is when
// ambient credentials expire, zero for the others.
//
// Explicit credentials scoped to a registry go to that registry only.
func (c *Client) authenticator(ctx context.Context, repo name.Repository) (auth authn.Authenticator, until time.Time, err error) {
	if c.creds != nil {
		if c.creds.Registry != "" && !sameRegistry(repo.RegistryStr(), c.creds.Registry) {
			c.log.DebugContext(ctx, "no credentials for this registry: they are for another",
				"registry", repo.RegistryStr(), "credentialsFor", c.creds.Registry)
			return authn.Anonymous, time.Time{}, nil
		}
		if !c.creds.Ambient {
			return authn.FromConfig(authn.AuthConfig{Username: c.creds.Username, Password: c.creds.Password}), time.Time{}, nil
		}
		cred, err := c.ambient.Get(ctx, repo.RegistryStr())
		if err != nil {
			if errors.Is(err, ambient.ErrUnavailable) {
				return nil, time.Time{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			return nil, time.Time{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
		c.log.DebugContext(ctx, "got ambient registry credentials", "registry", repo.RegistryStr(), "expires", cred.Expires)
		return authn.FromConfig(authn.AuthConfig{Username: cred.Username, Password: cred.Password}), cred.Expires, nil
	}
	auth, err = authn.Resolve(ctx, c.keychain, repo)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: looking up credentials for %s: %w", ErrUnauthorized, repo.RegistryStr(), err)
	}
	return auth, time.Time{}, nil
}

// sameRegistry compares registry hosts the way references name them
// (docker.io and index.docker.io are one), ignoring case.
func sameRegistry(a, b string) bool {
	canon := func(h string) string {
		if r, err := name.NewRegistry(h, name.Insecure); err == nil {
			return strings.ToLower(r.RegistryStr())
		}
		return strings.ToLower(h)
	}
	return canon(a) == canon(b)
}
