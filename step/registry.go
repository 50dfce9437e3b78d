package step

// The Runner's registry clients: one per distinct setting, kept for the
// Runner's life, so that serve reuses registry tokens across step calls and
// a warm verification is one HTTP round trip.

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"

	"github.com/argo-refs/argo-refs/images"
)

// registryClients maps a hash of a client's settings to the client. The key
// is a hash, so the map never holds credentials in clear.
type registryClients struct {
	m sync.Map // string → *images.Client
}

func newRegistryClients() *registryClients { return &registryClients{} }

// get returns the client for opts, creating it on first use. The shared
// client logs nothing, since its calls belong to many promotions.
func (rc *registryClients) get(opts images.Options) (*images.Client, error) {
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
	if c, ok := rc.m.Load(key); ok {
		return c.(*images.Client), nil
	}
	opts.Logger = nil
	c, err := images.New(opts)
	if err != nil {
		return nil, fmt.Errorf("setting up the registry client: %w", err)
	}
	actual, _ := rc.m.LoadOrStore(key, c)
	return actual.(*images.Client), nil
}

func credKey(c *images.Credentials) string {
	if c == nil {
		return "anonymous"
	}
	return "basic\x00" + c.Registry + "\x00" + c.Username + "\x00" + c.Password
}
