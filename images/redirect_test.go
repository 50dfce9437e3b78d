package images

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/regtest"
)

// TestRedirectToAnotherPortDropsAuthorization: a registry that redirects a
// manifest request to the same host on another port (net/http keeps
// Authorization whenever the host name matches) or to another host gets
// no token there. Within the origin the token stays (the verification
// succeeds through a same-origin redirect).
func TestRedirectToAnotherPortDropsAuthorization(t *testing.T) {
	var withAuth, seen atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		if r.Header.Get("Authorization") != "" {
			withAuth.Add(1)
		}
		http.Error(w, "not here", http.StatusNotFound)
	}))
	defer other.Close()

	for name, target := range map[string]string{
		"same IP, other port": other.URL,
		"other host":          strings.Replace(other.URL, "127.0.0.1", "localhost", 1),
	} {
		t.Run(name, func(t *testing.T) {
			withAuth.Store(0)
			seen.Store(0)
			reg := regtest.New(t, regtest.WithCredentials(testUser, secret), regtest.WithMiddleware(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if regtest.IsManifestRequest(r) && r.Header.Get("Authorization") != "" {
						http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusTemporaryRedirect)
						return
					}
					next.ServeHTTP(w, r)
				})
			}))
			digest := reg.PushImage(t, "private/app:v1", nil)
			opts := fastOptions()
			opts.Credentials = &Credentials{UserPass: netpolicy.UserPass{Username: testUser, Password: secret}}
			_, err := newClient(t, opts).Verify(testCtx(t), reg.Ref("private/app:v1"), digest)
			if seen.Load() == 0 {
				t.Fatalf("the redirect was not followed (err %v)", err)
			}
			if n := withAuth.Load(); n != 0 {
				t.Errorf("%d of %d requests to the other origin carried Authorization", n, seen.Load())
			}
			if err == nil {
				t.Error("a manifest the other origin does not have verified")
			}
		})
	}

	t.Run("same origin", func(t *testing.T) {
		var redirected atomic.Int64
		reg := regtest.New(t, regtest.WithCredentials(testUser, secret), regtest.WithMiddleware(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if regtest.IsManifestRequest(r) && r.URL.Query().Get("hop") == "" {
					redirected.Add(1)
					http.Redirect(w, r, r.URL.Path+"?hop=1", http.StatusTemporaryRedirect)
					return
				}
				next.ServeHTTP(w, r)
			})
		}))
		digest := reg.PushImage(t, "private/app:v1", nil)
		opts := fastOptions()
		opts.Credentials = &Credentials{UserPass: netpolicy.UserPass{Username: testUser, Password: secret}}
		if _, err := newClient(t, opts).Verify(testCtx(t), reg.Ref("private/app:v1"), digest); err != nil || redirected.Load() == 0 {
			t.Fatalf("Verify through a same-origin redirect: %v (%d redirects)", err, redirected.Load())
		}
	})
}

// TestScopedCredentialsGoToTheirRegistryOnly: credentials for one registry
// are never sent to another (a record can name any image), which is
// pulled anonymously; on their own registry they work.
func TestScopedCredentialsGoToTheirRegistryOnly(t *testing.T) {
	own := regtest.New(t, regtest.WithCredentials(testUser, secret))
	ownDigest := own.PushImage(t, "private/app:v1", nil)
	var withAuth atomic.Int64
	other := regtest.New(t, regtest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "" && !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
				withAuth.Add(1) // Basic credentials: ours
			}
			next.ServeHTTP(w, r)
		})
	}))
	otherDigest := other.PushImage(t, "public/app:v1", nil)

	opts := fastOptions()
	opts.Credentials = &Credentials{UserPass: netpolicy.UserPass{Username: testUser, Password: secret}, Registry: own.Host}
	c := newClient(t, opts)
	if _, err := c.Verify(testCtx(t), own.Ref("private/app:v1"), ownDigest); err != nil {
		t.Fatalf("Verify on the credentials' own registry: %v", err)
	}
	if _, err := c.Verify(testCtx(t), other.Ref("public/app:v1"), otherDigest); err != nil {
		t.Fatalf("Verify anonymously on another registry: %v", err)
	}
	if n := withAuth.Load(); n != 0 {
		t.Errorf("the other registry got our credentials %d times", n)
	}
	if other.TokenRequests() == 0 {
		t.Error("the other registry was not asked for an (anonymous) token")
	}
}
