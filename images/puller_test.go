package images

import (
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/argo-refs/argo-refs/internal/regtest"
)

// TestKeptTokenCacheCostsFewerRequestsThanPuller measures why auth.go keeps
// its token cache instead of go-containerregistry's remote.Puller: against
// the same registry, the same three situations (a warm repository, a new
// repository on a known registry, a token past its expires_in) cost the
// Puller more requests. If a go-containerregistry release closes the gap,
// this fails, and the cache should go.
func TestKeptTokenCacheCostsFewerRequestsThanPuller(t *testing.T) {
	type costs struct{ warm, newRepo, expired int }
	measure := func(t *testing.T, verify func(reg *regtest.Registry, repoTag, digest string)) costs {
		reg := regtest.New(t, regtest.WithTokenTTL(time.Second))
		app := reg.PushImage(t, "app:v1", nil)
		other := reg.PushImage(t, "other:v1", nil)
		var c costs
		verify(reg, "app:v1", app)
		reg.ResetCounters()
		verify(reg, "app:v1", app)
		c.warm = reg.Requests()
		reg.ResetCounters()
		verify(reg, "other:v1", other)
		c.newRepo = reg.Requests()
		time.Sleep(1100 * time.Millisecond) // past expires_in (1 s) and the server's TTL
		reg.ResetCounters()
		verify(reg, "app:v1", app)
		c.expired = reg.Requests()
		return c
	}

	var ours costs
	t.Run("Client", func(t *testing.T) {
		client := newClient(t, fastOptions())
		ours = measure(t, func(reg *regtest.Registry, repoTag, digest string) {
			if _, err := client.Verify(testCtx(t), reg.Ref(repoTag), digest); err != nil {
				t.Fatalf("Verify %s: %v", repoTag, err)
			}
		})
	})
	var puller costs
	t.Run("remote.Puller", func(t *testing.T) {
		p, err := remote.NewPuller(remote.WithAuthFromKeychain(authn.NewMultiKeychain()))
		if err != nil {
			t.Fatal(err)
		}
		puller = measure(t, func(reg *regtest.Registry, repoTag, digest string) {
			ref, err := name.ParseReference(reg.Ref(repoTag), name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			d, err := p.Get(testCtx(t), ref)
			if err != nil || d.Digest.String() != digest {
				t.Fatalf("Puller.Get %s: %v, %v", repoTag, d, err)
			}
		})
	})
	t.Logf("requests: warm %d vs %d, new repository %d vs %d, expired token %d vs %d (ours vs Puller)",
		ours.warm, puller.warm, ours.newRepo, puller.newRepo, ours.expired, puller.expired)
	if ours.warm != 1 || puller.warm < ours.warm {
		t.Errorf("warm: ours %d, Puller %d; want 1 and no fewer", ours.warm, puller.warm)
	}
	if ours.newRepo+ours.expired >= puller.newRepo+puller.expired {
		t.Errorf("new repository and expired token cost %d+%d requests here, %d+%d with remote.Puller: the kept cache no longer saves any",
			ours.newRepo, ours.expired, puller.newRepo, puller.expired)
	}
}
