package step

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"

	"github.com/argo-refs/argo-refs/images"
)

// registryClients keeps one registry client per distinct setting for the
// life of the process, so that `serve` reuses registry tokens across step
// calls: with a warm token a verification is one HTTP round trip.
var registryClients sync.Map // key: sha256 of the settings → *images.Client

// registryClient returns the process-wide client for opts. The key is a hash,
// so the map never holds credentials in clear; the shared client logs
// nothing, since its calls belong to many promotions.
func registryClient(opts images.Options) (*images.Client, error) {
	h := sha256.New()
	for _, s := range []string{
		credKey(opts.Credentials),
		strings.Join(opts.InsecureHosts, ","),
		strings.Join(opts.InsecureSkipTLSVerifyHosts, ","),
	} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	key := string(h.Sum(nil))
	if c, ok := registryClients.Load(key); ok {
		return c.(*images.Client), nil
	}
	opts.Logger = nil
	c, err := images.New(opts)
	if err != nil {
		return nil, fmt.Errorf("setting up the registry client: %w", err)
	}
	actual, _ := registryClients.LoadOrStore(key, c)
	return actual.(*images.Client), nil
}

func credKey(c *images.Credentials) string {
	if c == nil {
		return "anonymous"
	}
	return "basic\x00" + c.Registry + "\x00" + c.Username + "\x00" + c.Password
}
