package images

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/regtest"
)

// secret is the password the tests use; no error or log may contain it.
const (
	testUser   = "ci-bot"
	secret     = leaktest.Secret
	wrongPass  = "wr0ng-Pa55w0rd-never-print"
	zeroDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
)

// fastOptions keeps retries real but the waits tiny.
func fastOptions() Options {
	return Options{
		Getenv:       func(string) string { return "" },
		Keychain:     authn.NewMultiKeychain(), // anonymous; no host config
		RetryMax:     3,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
	}
}

func newClient(t testing.TB, opts Options) *Client {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestVerify(t *testing.T) {
	reg := regtest.New(t)
	v1 := reg.PushImage(t, "app:v1", nil)
	moved := reg.PushImage(t, "app:moved", nil)
	movedNow := reg.PushImage(t, "app:moved", nil) // re-push: the tag moves
	gone := reg.PushImage(t, "app:gone", nil)
	reg.DeleteTag(t, "app:gone")
	index := reg.PushIndex(t, "multi:v1")

	tests := []struct {
		name   string
		ref    string
		want   string
		assert func(t *testing.T, v Verification, err error)
	}{
		{"match", reg.Ref("app:v1"), v1, func(t *testing.T, v Verification, err error) {
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.Got != v1 {
				t.Errorf("Got = %s, want %s", v.Got, v1)
			}
		}},
		{"moved tag", reg.Ref("app:moved"), moved, func(t *testing.T, v Verification, err error) {
			if !errors.Is(err, ErrTagMoved) {
				t.Fatalf("err = %v, want ErrTagMoved", err)
			}
			for _, d := range []string{moved, movedNow} {
				if !strings.Contains(err.Error(), d) {
					t.Errorf("message %q does not name %s", err, d)
				}
			}
			if v.Got != movedNow || v.Want != moved {
				t.Errorf("Verification = %+v, want Got %s Want %s", v, movedNow, moved)
			}
		}},
		{"deleted tag", reg.Ref("app:gone"), gone, func(t *testing.T, v Verification, err error) {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
			if v.Got != "" {
				t.Errorf("Got = %q, want empty", v.Got)
			}
		}},
		{"unknown repository", reg.Ref("nope/never:v1"), v1, func(t *testing.T, _ Verification, err error) {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		}},
		{"multi-arch index resolves to the index digest", reg.Ref("multi:v1"), index, func(t *testing.T, v Verification, err error) {
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}},
		{"by digest", reg.Ref("app@" + v1), v1, func(t *testing.T, _ Verification, err error) {
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}},
		{"tag and digest checks the tag", reg.Ref("app:moved@" + moved), moved, func(t *testing.T, v Verification, err error) {
			if !errors.Is(err, ErrTagMoved) || v.Got != movedNow {
				t.Fatalf("err = %v, Got %s; want ErrTagMoved and %s", err, v.Got, movedNow)
			}
		}},
		{"pinned digest differs from the record", reg.Ref("app:v1@" + moved), v1, func(t *testing.T, _ Verification, err error) {
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("err = %v, want ErrInvalidReference", err)
			}
		}},
		{"malformed digest", reg.Ref("app:v1"), "sha256:ABC", func(t *testing.T, _ Verification, err error) {
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("err = %v, want ErrInvalidReference", err)
			}
		}},
		{"malformed reference", "UPPER/Case:v1", v1, func(t *testing.T, _ Verification, err error) {
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("err = %v, want ErrInvalidReference", err)
			}
		}},
	}
	c := newClient(t, fastOptions())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := c.Verify(testCtx(t), tt.ref, tt.want)
			tt.assert(t, v, err)
		})
	}
}

func TestResolveIndex(t *testing.T) {
	reg := regtest.New(t)
	index := reg.PushIndex(t, "multi:v1")
	c := newClient(t, fastOptions())
	d, err := c.Resolve(testCtx(t), reg.Ref("multi:v1"))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if d.Digest != index || d.MediaType != string(types.OCIImageIndex) || d.Size <= 0 {
		t.Errorf("Resolve = %+v, want digest %s, media type %s, a size", d, index, types.OCIImageIndex)
	}
}

func TestResolveWithoutDigestHeader(t *testing.T) {
	for _, tc := range []struct{ name, repoTag string }{{"image", "app:v1"}, {"index", "multi:v1"}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := regtest.New(t, regtest.WithMiddleware(regtest.StripDigest()))
			want := reg.PushImage(t, "app:v1", nil)
			if tc.repoTag == "multi:v1" {
				want = reg.PushIndex(t, "multi:v1")
			}
			c := newClient(t, fastOptions())
			d, err := c.Resolve(testCtx(t), reg.Ref(tc.repoTag))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if d.Digest != want {
				t.Errorf("Digest = %s, want %s (the hash of the manifest)", d.Digest, want)
			}
			if got := reg.ManifestRequests(); got != 1 {
				t.Errorf("manifest requests = %d, want 1 (one GET, hashed)", got)
			}
		})
	}
}

func TestRetry429HonoursRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if regtest.IsManifestRequest(r) {
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := regtest.New(t, regtest.WithMiddleware(record), regtest.WithMiddleware(regtest.FailManifests(1, http.StatusTooManyRequests, "1")))
	want := reg.PushImage(t, "app:v1", nil)
	opts := fastOptions()
	opts.RetryWaitMax = 2 * time.Second // Retry-After: 1 is within bounds
	c := newClient(t, opts)
	if _, err := c.Verify(testCtx(t), reg.Ref("app:v1"), want); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if s := c.Stats(); s.Retries != 1 {
		t.Errorf("Stats = %+v, want 1 retry", s)
	}
	if got := reg.ManifestRequests(); got != 2 {
		t.Fatalf("manifest requests = %d, want 2", got)
	}
	// Not a speed assertion: the client must not come back before the
	// registry said it may.
	if gap := times[1].Sub(times[0]); gap < time.Second {
		t.Errorf("retried after %s, Retry-After asked for 1s", gap)
	}
}

func TestRetryAfterBeyondMaxGivesUp(t *testing.T) {
	reg := regtest.New(t, regtest.WithMiddleware(regtest.FailManifests(-1, http.StatusTooManyRequests, "3600")))
	want := reg.PushImage(t, "app:v1", nil)
	c := newClient(t, fastOptions())
	_, err := c.Verify(testCtx(t), reg.Ref("app:v1"), want)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if s := c.Stats(); s.Retries != 0 {
		t.Errorf("Stats = %+v, want no retry when Retry-After exceeds RetryWaitMax", s)
	}
}

func TestBackoff(t *testing.T) {
	resp := func(status int, ra string) *http.Response {
		h := http.Header{}
		if ra != "" {
			h.Set("Retry-After", ra)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	if got := backoff(time.Millisecond, time.Minute, 0, resp(429, "7")); got != 7*time.Second {
		t.Errorf("429 Retry-After 7: wait %s, want 7s", got)
	}
	if got := backoff(time.Millisecond, time.Minute, 0, resp(503, "2")); got != 2*time.Second {
		t.Errorf("503 Retry-After 2: wait %s, want 2s", got)
	}
	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if got := backoff(time.Millisecond, time.Minute, 0, resp(429, date)); got < 58*time.Minute || got > time.Hour {
		t.Errorf("429 Retry-After %s: wait %s, want about 1h", date, got)
	}
	for attempt := range 40 {
		got := backoff(100*time.Millisecond, 2*time.Second, attempt, resp(500, ""))
		want := min(100*time.Millisecond<<min(attempt, 20), 2*time.Second)
		if got < want/2 || got > want {
			t.Errorf("attempt %d: wait %s, want in [%s, %s]", attempt, got, want/2, want)
		}
	}
}

func TestRetry503BurstRecovers(t *testing.T) {
	reg := regtest.New(t, regtest.WithMiddleware(regtest.FailManifests(3, http.StatusServiceUnavailable, "")))
	want := reg.PushImage(t, "app:v1", nil)
	c := newClient(t, fastOptions())
	if _, err := c.Verify(testCtx(t), reg.Ref("app:v1"), want); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if s := c.Stats(); s.Retries != 3 {
		t.Errorf("Stats = %+v, want 3 retries", s)
	}
	if got := reg.ManifestRequests(); got != 4 {
		t.Errorf("manifest requests = %d, want 4", got)
	}
}

func TestRegistryNeverRecovers(t *testing.T) {
	all := func(*http.Request) bool { return true }
	reg := regtest.New(t, regtest.WithMiddleware(regtest.FailRequests(all, -1, http.StatusServiceUnavailable, "")))
	c := newClient(t, fastOptions())
	v, err := c.Verify(testCtx(t), reg.Ref("app:v1"), zeroDigest)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if v.Got != "" {
		t.Errorf("Got = %q, want empty: nothing is known", v.Got)
	}
	// The ping is the first call: 1 attempt + RetryMax retries.
	if s := c.Stats(); s.Requests != 4 || s.Retries != 3 {
		t.Errorf("Stats = %+v, want 4 requests, 3 retries", s)
	}
}

func TestContextBoundsRetries(t *testing.T) {
	all := func(*http.Request) bool { return true }
	reg := regtest.New(t, regtest.WithMiddleware(regtest.FailRequests(all, -1, http.StatusBadGateway, "")))
	opts := fastOptions()
	opts.RetryMax = 1 << 20
	opts.RetryWaitMin, opts.RetryWaitMax = 5*time.Millisecond, 10*time.Millisecond
	c := newClient(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Verify(ctx, reg.Ref("app:v1"), zeroDigest)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping context.DeadlineExceeded", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	host := regtest.RefusingHost(t)
	c := newClient(t, fastOptions())
	_, err := c.Resolve(testCtx(t), host+"/app:v1")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if s := c.Stats(); s.Retries != 3 {
		t.Errorf("Stats = %+v, want 3 retries of the connection error", s)
	}
	if msg := err.Error(); strings.Contains(msg, "fallback") || !strings.Contains(msg, "connection refused") {
		t.Errorf("message %q should give the cause, not the refused http racer", msg)
	}
}

func TestCredentials(t *testing.T) {
	reg := regtest.New(t, regtest.WithCredentials(testUser, secret))
	want := reg.PushImage(t, "private/app:v1", nil)
	ref := reg.Ref("private/app:v1")

	t.Run("explicit", func(t *testing.T) {
		opts := fastOptions()
		opts.Credentials = &Credentials{UserPass: netpolicy.UserPass{Username: testUser, Password: secret}}
		if _, err := newClient(t, opts).Verify(testCtx(t), ref, want); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("environment", func(t *testing.T) {
		opts := fastOptions()
		env := map[string]string{EnvUsername: testUser, EnvPassword: secret}
		opts.Getenv = func(k string) string { return env[k] }
		if _, err := newClient(t, opts).Verify(testCtx(t), ref, want); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("half the environment", func(t *testing.T) {
		opts := fastOptions()
		opts.Getenv = func(k string) string {
			if k == EnvPassword {
				return secret
			}
			return ""
		}
		_, err := New(opts)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Fatalf("New = %v, want an error naming the variables, not the value", err)
		}
	})
	t.Run("anonymous is refused", func(t *testing.T) {
		c := newClient(t, fastOptions())
		_, err := c.Verify(testCtx(t), ref, want)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
	})
}

// TestDockerConfig reads credentials from a config.json in $DOCKER_CONFIG,
// with the base64 "auth" field, through the default keychain.
func TestDockerConfig(t *testing.T) {
	reg := regtest.New(t, regtest.WithCredentials(testUser, secret))
	want := reg.PushImage(t, "private/app:v1", nil)
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(testUser + ":" + secret))
	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, reg.Host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", t.TempDir()) // no ~/.docker/config.json to win over it
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	opts := fastOptions()
	opts.Keychain = nil // authn.DefaultKeychain
	c := newClient(t, opts)
	if _, err := c.Verify(testCtx(t), reg.Ref("private/app:v1"), want); err != nil {
		t.Fatalf("Verify with config.json credentials: %v", err)
	}
	// A registry the file does not name gets no credentials.
	other := regtest.New(t, regtest.WithCredentials(testUser, secret))
	otherWant := other.PushImage(t, "private/app:v1", nil)
	if _, err := c.Verify(testCtx(t), other.Ref("private/app:v1"), otherWant); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized for a registry without an entry", err)
	}
}

func TestWrongCredentialsNotRetried(t *testing.T) {
	reg := regtest.New(t, regtest.WithCredentials(testUser, secret))
	want := reg.PushImage(t, "private/app:v1", nil)
	opts := fastOptions()
	opts.Credentials = &Credentials{UserPass: netpolicy.UserPass{Username: testUser, Password: wrongPass}}
	c := newClient(t, opts)
	_, err := c.Verify(testCtx(t), reg.Ref("private/app:v1"), want)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v is also ErrUnavailable", err)
	}
	if got := reg.TokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want 1 (401 is not retried)", got)
	}
	if s := c.Stats(); s.Retries != 0 {
		t.Errorf("Stats = %+v, want no retries", s)
	}
}

func TestTokenReuse(t *testing.T) {
	reg := regtest.New(t)
	want := reg.PushImage(t, "app:v1", nil)
	other := reg.PushImage(t, "other:v1", nil)
	c := newClient(t, fastOptions())
	ref := reg.Ref("app:v1")
	for range 2 {
		if _, err := c.Verify(testCtx(t), ref, want); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	if got := reg.TokenRequests(); got != 1 {
		t.Errorf("token requests after two verifications = %d, want 1", got)
	}

	// Warm: one verification is one HTTP round trip.
	reg.ResetCounters()
	before := c.Stats()
	if _, err := c.Verify(testCtx(t), ref, want); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got := reg.Requests(); got != 1 {
		t.Errorf("requests for a warm verification = %d, want 1", got)
	}
	if got := reg.ManifestRequests(); got != 1 {
		t.Errorf("manifest requests = %d, want 1", got)
	}
	if got := c.Stats().Requests - before.Requests; got != 1 {
		t.Errorf("client attempts = %d, want 1", got)
	}

	// Another repository on the same registry: a token for its scope, no
	// second ping.
	reg.ResetCounters()
	if _, err := c.Verify(testCtx(t), reg.Ref("other:v1"), other); err != nil {
		t.Fatalf("Verify other: %v", err)
	}
	if tr, all := reg.TokenRequests(), reg.Requests(); tr != 1 || all != 2 {
		t.Errorf("new repository: %d token requests, %d requests; want 1 and 2", tr, all)
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Run("client renews a token it knows has expired", func(t *testing.T) {
		reg := regtest.New(t)
		want := reg.PushImage(t, "app:v1", nil)
		c := newClient(t, fastOptions())
		now := time.Now()
		c.now = func() time.Time { return now }
		ref := reg.Ref("app:v1")
		if _, err := c.Verify(testCtx(t), ref, want); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		now = now.Add(4*time.Minute + 49*time.Second) // 5 min TTL less a 10s margin: still fresh
		if _, err := c.Verify(testCtx(t), ref, want); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if got := reg.TokenRequests(); got != 1 {
			t.Fatalf("token requests = %d, want 1 while fresh", got)
		}
		now = now.Add(2 * time.Second)
		if _, err := c.Verify(testCtx(t), ref, want); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if got := reg.TokenRequests(); got != 2 {
			t.Errorf("token requests = %d, want 2 after expiry", got)
		}
	})
	t.Run("registry rejects an expired token", func(t *testing.T) {
		reg := regtest.New(t, regtest.WithTokenTTL(20*time.Millisecond))
		want := reg.PushImage(t, "app:v1", nil)
		c := newClient(t, fastOptions())
		ref := reg.Ref("app:v1")
		if _, err := c.Verify(testCtx(t), ref, want); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		time.Sleep(40 * time.Millisecond) // the server forgets the token
		if _, err := c.Verify(testCtx(t), ref, want); err != nil {
			t.Fatalf("Verify after server-side expiry: %v", err)
		}
		if got := reg.TokenRequests(); got != 2 {
			t.Errorf("token requests = %d, want 2 (renewed on 401)", got)
		}
	})
}

// TestNoCredentialInErrors runs every failure class with a known secret and
// checks no error text or log line contains it.
func TestNoCredentialInErrors(t *testing.T) {
	forbidden := []string{
		secret, wrongPass,
		base64.StdEncoding.EncodeToString([]byte(testUser + ":" + secret)),
		base64.StdEncoding.EncodeToString([]byte(testUser + ":" + wrongPass)),
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))

	var errs []error
	check := func(opts Options, reg *regtest.Registry, ref, want string) {
		opts.Logger = logger
		c := newClient(t, opts)
		_, err := c.Verify(testCtx(t), ref, want)
		if err == nil {
			t.Errorf("Verify %s: no error", ref)
			return
		}
		errs = append(errs, err)
		_, err = c.Revision(testCtx(t), ref)
		if err != nil {
			errs = append(errs, err)
		}
	}
	withPass := func(p string) Options {
		o := fastOptions()
		o.Credentials = &Credentials{UserPass: netpolicy.UserPass{Username: testUser, Password: p}}
		return o
	}

	reg := regtest.New(t, regtest.WithCredentials(testUser, secret))
	d := reg.PushImage(t, "private/app:v1", nil)
	check(withPass(wrongPass), reg, reg.Ref("private/app:v1"), d)       // unauthorized
	check(withPass(secret), reg, reg.Ref("private/app:v1"), zeroDigest) // moved
	check(withPass(secret), reg, reg.Ref("private/gone:v1"), d)         // not found
	down := regtest.New(t, regtest.WithCredentials(testUser, secret),
		regtest.WithMiddleware(regtest.FailManifests(-1, http.StatusServiceUnavailable, "")))
	dd := down.PushImage(t, "private/app:v1", nil)
	check(withPass(secret), down, down.Ref("private/app:v1"), dd) // unavailable

	closed := regtest.New(t)
	closed.Close()
	check(withPass(secret), closed, closed.Ref("app:v1"), d) // connection refused

	if len(errs) < 5 {
		t.Fatalf("collected %d errors, want at least 5", len(errs))
	}
	for _, err := range errs {
		for _, f := range forbidden {
			if strings.Contains(err.Error(), f) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), f) {
				t.Errorf("error leaks a credential: %v", err)
			}
		}
	}
	if logs.Len() == 0 {
		t.Fatal("no debug logs written; the log check would prove nothing")
	}
	for _, f := range forbidden {
		if strings.Contains(logs.String(), f) {
			t.Errorf("logs leak a credential:\n%s", logs.String())
		}
	}
	c := Credentials{UserPass: netpolicy.UserPass{Username: testUser, Password: secret}}
	if s := fmt.Sprintf("%v %+v %#v %s", c, c, c, &c); strings.Contains(s, secret) {
		t.Errorf("formatting Credentials leaks the password: %s", s)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestRevision(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	reg := regtest.New(t)
	reg.PushImage(t, "app:v1", map[string]string{RevisionLabel: rev, "other": "x"})
	reg.PushImage(t, "app:nolabel", nil)
	other := "s390x"
	if runtime.GOARCH == other {
		other = "ppc64le"
	}
	reg.PushIndexOf(t, "multi:here",
		regtest.PlatformImage{OS: "linux", Architecture: other, Labels: map[string]string{RevisionLabel: "wrong-platform"}},
		regtest.PlatformImage{OS: runtime.GOOS, Architecture: runtime.GOARCH, Labels: map[string]string{RevisionLabel: rev}})
	reg.PushIndexOf(t, "multi:elsewhere",
		regtest.PlatformImage{OS: "plan9", Architecture: "mips", Labels: map[string]string{RevisionLabel: "first"}},
		regtest.PlatformImage{OS: "plan9", Architecture: "arm", Labels: map[string]string{RevisionLabel: "second"}})
	c := newClient(t, fastOptions())
	for _, tc := range []struct{ repoTag, want string }{
		{"app:v1", rev},
		{"app:nolabel", ""},
		{"multi:here", rev},
		{"multi:elsewhere", "first"},
	} {
		got, err := c.Revision(testCtx(t), reg.Ref(tc.repoTag))
		if err != nil {
			t.Errorf("Revision(%s): %v", tc.repoTag, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Revision(%s) = %q, want %q", tc.repoTag, got, tc.want)
		}
	}
	if _, err := c.Revision(testCtx(t), reg.Ref("app:missing")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revision of a missing tag: err = %v, want ErrNotFound", err)
	}
}

// recorder is a base transport at our own seam: it records the URLs that
// reach the network and answers like an anonymous registry that has nothing.
type recorder struct {
	mu   sync.Mutex
	urls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.Scheme+"://"+req.URL.Host+req.URL.Path)
	r.mu.Unlock()
	status := http.StatusNotFound
	if req.URL.Path == "/v2/" {
		status = http.StatusOK
	}
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

func TestPlainHTTPPolicy(t *testing.T) {
	t.Run("allowed insecure host uses http only", func(t *testing.T) {
		rec := &recorder{}
		opts := fastOptions()
		opts.Transport = rec
		opts.InsecureHosts = []string{"Registry.Test"} // any port
		_, err := newClient(t, opts).Resolve(testCtx(t), "registry.test:5000/app:v1")
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		for _, u := range rec.urls {
			if !strings.HasPrefix(u, "http://registry.test:5000/") {
				t.Errorf("request to %s, want plain http to the allowed host", u)
			}
		}
	})
	t.Run("other hosts never see plain http", func(t *testing.T) {
		rec := &recorder{}
		opts := fastOptions()
		opts.Transport = rec
		// 10.x makes go-containerregistry race an http fallback.
		_, err := newClient(t, opts).Resolve(testCtx(t), "10.1.2.3:5000/app:v1")
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if len(rec.urls) == 0 {
			t.Fatal("no request recorded")
		}
		for _, u := range rec.urls {
			if !strings.HasPrefix(u, "https://") {
				t.Errorf("request to %s, want https only", u)
			}
		}
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string]Options{
		"half credentials": {Credentials: &Credentials{UserPass: netpolicy.UserPass{Username: "u"}}},
		"insecure path":    {InsecureHosts: []string{"host/path"}},
		"waits inverted":   {RetryWaitMin: time.Second, RetryWaitMax: time.Millisecond},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("%s: New succeeded, want an error", name)
		}
	}
}

func TestConcurrentVerify(t *testing.T) {
	reg := regtest.New(t)
	want := reg.PushImage(t, "app:v1", nil)
	c := newClient(t, fastOptions())
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := c.Verify(testCtx(t), reg.Ref("app:v1"), want)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if got := reg.TokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want 1: concurrent first calls share one exchange", got)
	}
}

func BenchmarkVerify(b *testing.B) {
	reg := regtest.New(b)
	want := reg.PushImage(b, "app:v1", nil)
	c := newClient(b, fastOptions())
	ctx := context.Background()
	ref := reg.Ref("app:v1")
	if _, err := c.Verify(ctx, ref, want); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Verify(ctx, ref, want); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDockerCredentialHelper reads credentials through a credHelpers entry
// of config.json, which runs docker-credential-<name> get.
func TestDockerCredentialHelper(t *testing.T) {
	reg := regtest.New(t, regtest.WithCredentials(testUser, secret))
	want := reg.PushImage(t, "private/app:v1", nil)
	bin := t.TempDir()
	// The secret goes in as an argument: printf would read its '%' as a verb.
	script := fmt.Sprintf("#!/bin/sh\nread server\nprintf '{\"ServerURL\":\"%%s\",\"Username\":\"%%s\",\"Secret\":\"%%s\"}' \"$server\" '%s' '%s'\n", testUser, secret)
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-regtest"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{"credHelpers": {%q: "regtest"}}`, reg.Host)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", dir)
	opts := fastOptions()
	opts.Keychain = nil
	if _, err := newClient(t, opts).Verify(testCtx(t), reg.Ref("private/app:v1"), want); err != nil {
		t.Fatalf("Verify with a credential helper: %v", err)
	}
}

// TestHangingRegistry: a registry that never answers is bounded by the
// caller's context.
func TestHangingRegistry(t *testing.T) {
	hang := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if regtest.IsManifestRequest(r) {
				<-r.Context().Done()
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := regtest.New(t, regtest.WithMiddleware(hang))
	want := reg.PushImage(t, "app:v1", nil)
	c := newClient(t, fastOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := c.Verify(ctx, reg.Ref("app:v1"), want)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping context.DeadlineExceeded", err)
	}
}
