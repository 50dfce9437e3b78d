package cloud

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/argo-refs/argo-refs/internal/ambient"
)

// Options configure the fetches.
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

// Fetcher asks the cloud of each provider, in this process.
func Fetcher(opts Options) ambient.Fetcher {
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
	return func(ctx context.Context, p ambient.Provider, registry string) (ambient.Credential, error) {
		switch p {
		case ambient.ECR:
			return fetchECR(ctx, registry)
		case ambient.GAR:
			return fetchGAR(ctx, opts)
		case ambient.ACR:
			return fetchACR(ctx, opts, registry)
		}
		return ambient.Credential{}, fmt.Errorf("%w: provider %q", ambient.ErrNoProvider, p)
	}
}

// byStatus sorts a failed HTTP exchange with a cloud service: a refusal
// (4xx other than 408 and 429) is ErrDenied, anything else ErrUnavailable.
func byStatus(status int) error {
	if status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
		return ambient.ErrDenied
	}
	return ambient.ErrUnavailable
}
