package step

// The Runner's registry clients: one per distinct setting, kept for the
// Runner's life, so that serve reuses registry tokens across step calls and
// a warm verification is one HTTP round trip.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/argo-refs/argo-refs/images"
)

// registryClients maps a hash of a client's settings to the client. The key
// is a hash, so the map never holds credentials in clear. Concurrent checks
// of one tag and digest with one client share one registry request.
type registryClients struct {
	m        sync.Map // string → *images.Client
	verifies singleflight.Group
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

// verify is client.Verify(ref, digest), shared with the calls for the
// same client, ref and digest in flight: fifty stages promoting one
// Freight at once ask the registry once. The shared call runs under the
// first caller's context; a caller whose own context is still live when
// that one ended asks again itself.
func (rc *registryClients) verify(ctx context.Context, client *images.Client, ref, digest string) error {
	key := fmt.Sprintf("%p\x00%s\x00%s", client, ref, digest)
	ch := rc.verifies.DoChan(key, func() (any, error) {
		_, err := client.Verify(ctx, ref, digest)
		return nil, err
	})
	var err error
	select {
	case res := <-ch:
		err = res.Err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", images.ErrUnavailable, ctx.Err())
	}
	if err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		_, err = client.Verify(ctx, ref, digest)
	}
	return err
}

func credKey(c *images.Credentials) string {
	if c == nil {
		return "anonymous"
	}
	return "basic\x00" + c.Registry + "\x00" + c.Username + "\x00" + c.Password
}
