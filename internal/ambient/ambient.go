package ambient

// Choosing the provider by registry host, and keeping each registry's
// credential until shortly before it expires.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// Provider names a cloud whose registries take ambient credentials.
type Provider string

// The providers, by the registry hosts they serve.
const (
	// ECR is Amazon Elastic Container Registry:
	// <account>.dkr.ecr[-fips].<region>.amazonaws.com (and the other AWS
	// partitions' domains).
	ECR Provider = "ecr"
	// GAR is Google Artifact Registry (<location>-docker.pkg.dev) and
	// Container Registry (gcr.io, <region>.gcr.io).
	GAR Provider = "gar"
	// ACR is Azure Container Registry in Azure's public cloud:
	// <name>.azurecr.io.
	ACR Provider = "acr"
)

// Errors a Get wraps; every other failure is ErrUnavailable.
var (
	// ErrDenied means the cloud refused the identity, or the environment
	// holds none: retrying cannot help until someone changes it.
	ErrDenied = errors.New("ambient credentials refused or not configured")
	// ErrUnavailable means the cloud's identity or token service could not
	// be reached or failed; a retry may help.
	ErrUnavailable = errors.New("ambient credentials unavailable")
	// ErrNoProvider means the registry host belongs to no cloud this
	// package knows.
	ErrNoProvider = errors.New("no ambient credential provider for this registry")
)

// ProviderOf returns the provider that serves host (a registry host, without
// a port), or ErrNoProvider.
func ProviderOf(host string) (Provider, error) {
	h := strings.ToLower(host)
	switch {
	case strings.Contains(h, ":"):
		return "", fmt.Errorf("%w: %q has a port; cloud registries have none", ErrNoProvider, host)
	case h == "" || strings.Trim(h, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "":
		return "", fmt.Errorf("%w: %q is not a host name", ErrNoProvider, host)
	case h == "public.ecr.aws" || h == "ecr-public.aws.com":
		return "", fmt.Errorf("%w: %s serves public images, which need no credentials", ErrNoProvider, host)
	case h == "gcr.io" || strings.HasSuffix(h, ".gcr.io") || strings.HasSuffix(h, "-docker.pkg.dev"):
		return GAR, nil
	case strings.HasSuffix(h, ".azurecr.io"):
		return ACR, nil
	}
	if ecrHost.MatchString(h) {
		return ECR, nil
	}
	return "", fmt.Errorf("%w: %s is not an Amazon ECR, Google Artifact Registry or Container Registry, or Azure Container Registry host", ErrNoProvider, host)
}

// ecrHost matches the registry hosts of Amazon ECR, as AWS names them:
// <12-digit account>.dkr.ecr[-fips].<region>.<partition domain>, or the
// dual-stack <account>.dkr-ecr.<region>.on.aws. The AWS partitions' domains
// are listed; ambient/cloud's test holds it against the ECR credential
// helper's parser.
var ecrHost = regexp.MustCompile(`^[0-9]{12}\.dkr[.-]ecr(-fips)?\.[a-z0-9][a-z0-9-]*\.(amazonaws\.com|amazonaws\.com\.cn|amazonaws\.eu|on\.aws|on\.amazonwebservices\.com\.cn|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$`)

// Credential is what a registry takes for basic authentication, and when it
// stops working.
type Credential struct {
	netpolicy.UserPass
	// Expires is when the registry stops taking it.
	Expires time.Time
}

// Fetcher asks the cloud that serves registry (provider p) for a
// credential. Errors wrap ErrDenied or ErrUnavailable.
type Fetcher func(ctx context.Context, p Provider, registry string) (Credential, error)

// Options configure a Source.
type Options struct {
	// Fetch asks the clouds; nil means Exec: argo-refs-cloud-auth, so that
	// the cloud SDKs are not linked into the step's binary.
	Fetch Fetcher
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// RenewBefore is how long before its expiry a credential is replaced.
const RenewBefore = 5 * time.Minute

// Source gets and keeps ambient credentials per registry. It is safe for
// concurrent use; one caller per registry asks the cloud while the others
// wait for its answer.
type Source struct {
	fetch Fetcher
	now   func() time.Time

	mu    sync.Mutex
	creds map[string]Credential    // by registry host
	locks map[string]chan struct{} // by registry host
}

// New returns a Source.
func New(opts Options) *Source {
	s := &Source{fetch: opts.Fetch, now: opts.Now, creds: map[string]Credential{}, locks: map[string]chan struct{}{}}
	if s.fetch == nil {
		s.fetch = Exec("", nil)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Get returns a credential for registry (a host), from the cache while it
// has more than a few minutes left.
func (s *Source) Get(ctx context.Context, registry string) (Credential, error) {
	p, err := ProviderOf(registry)
	if err != nil {
		return Credential{}, err
	}
	key := strings.ToLower(registry)
	if c, ok := s.cached(key); ok {
		return c, nil
	}
	unlock, err := s.lock(ctx, key)
	if err != nil {
		return Credential{}, fmt.Errorf("%w: waiting for the credential of %s: %w", ErrUnavailable, registry, err)
	}
	defer unlock()
	if c, ok := s.cached(key); ok {
		return c, nil
	}
	c, err := s.fetch(ctx, p, key)
	if err != nil {
		return Credential{}, fmt.Errorf("getting %s credentials for %s: %w", p, registry, err)
	}
	s.mu.Lock()
	s.creds[key] = c
	s.mu.Unlock()
	return c, nil
}

func (s *Source) cached(key string) (Credential, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[key]
	return c, ok && s.now().Add(RenewBefore).Before(c.Expires)
}

func (s *Source) lock(ctx context.Context, key string) (func(), error) {
	s.mu.Lock()
	l, ok := s.locks[key]
	if !ok {
		l = make(chan struct{}, 1)
		s.locks[key] = l
	}
	s.mu.Unlock()
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
