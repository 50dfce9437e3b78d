package ambient

// Choosing the provider by registry host, and keeping each registry's
// credential until shortly before it expires.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	ecrapi "github.com/awslabs/amazon-ecr-credential-helper/ecr-login/api"

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
	if _, err := ecrapi.ExtractRegistry(h); err == nil {
		return ECR, nil
	}
	return "", fmt.Errorf("%w: %s is not an Amazon ECR, Google Artifact Registry or Container Registry, or Azure Container Registry host", ErrNoProvider, host)
}

// Credential is what a registry takes for basic authentication, and when it
// stops working.
type Credential struct {
	netpolicy.UserPass
	// Expires is when the registry stops taking it.
	Expires time.Time
}

// Options configure a Source. The zero value is usable.
type Options struct {
	// HTTPClient carries the requests to Google's and Microsoft's identity
	// services and ACR's token exchange (AWS's go through the AWS SDK's own
	// client, which honours AWS_CA_BUNDLE); nil means http.DefaultClient.
	HTTPClient *http.Client
	// Getenv reads the environment for the Azure settings; nil means
	// os.Getenv. (The AWS and Google libraries read the process
	// environment themselves.)
	Getenv func(string) string
	// PlainHTTP reports whether a registry host is spoken to over plain
	// HTTP (ACR's token exchange is sent to the registry itself); nil
	// means never.
	PlainHTTP func(host string) bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// RenewBefore is how long before its expiry a credential is replaced.
const RenewBefore = 5 * time.Minute

// Source gets and keeps ambient credentials per registry. It is safe for
// concurrent use; one caller per registry asks the cloud while the others
// wait for its answer.
type Source struct {
	opts Options

	mu    sync.Mutex
	creds map[string]Credential    // by registry host
	locks map[string]chan struct{} // by registry host
	fetch map[Provider]fetchFunc   // by provider
}

// fetchFunc asks one cloud for a credential for registry.
type fetchFunc func(ctx context.Context, s *Source, registry string) (Credential, error)

// New returns a Source.
func New(opts Options) *Source {
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.PlainHTTP == nil {
		opts.PlainHTTP = func(string) bool { return false }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Source{
		opts:  opts,
		creds: map[string]Credential{},
		locks: map[string]chan struct{}{},
		fetch: map[Provider]fetchFunc{ECR: fetchECR, GAR: fetchGAR, ACR: fetchACR},
	}
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
	c, err := s.fetch[p](ctx, s, key)
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
	return c, ok && s.opts.Now().Add(RenewBefore).Before(c.Expires)
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

// byStatus sorts a failed HTTP exchange with a cloud service: a refusal
// (4xx other than 408 and 429) is ErrDenied, anything else ErrUnavailable.
func byStatus(status int) error {
	if status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
		return ErrDenied
	}
	return ErrUnavailable
}
