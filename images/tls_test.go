package images

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/regtest"
)

// tlsRegistry is the real registry (bearer-token gate included) behind a
// TLS-terminating reverse proxy with a self-signed certificate. dial sends
// every host name the tests use to that proxy on 127.0.0.1, so that the
// registry can be named by non-loopback hosts (loopback ones get plain http).
func tlsRegistry(t *testing.T) (port, digest string, base *http.Transport) {
	t.Helper()
	reg := regtest.New(t, regtest.WithCredentials(testUser, secret))
	digest = reg.PushImage(t, "team/app:v1", nil)
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: reg.Host})
	rp.ModifyResponse = func(resp *http.Response) error {
		// The token realm is on the registry's host: name it as the
		// client did, over https.
		if h := resp.Header.Get("WWW-Authenticate"); h != "" {
			resp.Header.Set("WWW-Authenticate", strings.ReplaceAll(h, `realm="http://`+resp.Request.Host, `realm="https://`+resp.Request.Host))
		}
		return nil
	}
	proxy := httptest.NewUnstartedServer(rp)
	proxy.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	proxy.StartTLS()
	t.Cleanup(proxy.Close)
	addr := proxy.Listener.Addr().String()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	base = &http.Transport{DialContext: func(ctx context.Context, network, hostport string) (net.Conn, error) {
		if host, _, _ := net.SplitHostPort(hostport); strings.HasSuffix(host, ".test") {
			hostport = addr
		}
		return d.DialContext(ctx, network, hostport)
	}}
	t.Cleanup(base.CloseIdleConnections)
	return port, digest, base
}

func TestTLSVerificationIsOnUnlessTheHostIsListed(t *testing.T) {
	port, digest, base := tlsRegistry(t)
	for _, tc := range []struct {
		name string
		host string
		skip []string
		ok   bool
	}{
		{name: "self-signed, nothing listed", host: "registry.test"},
		{name: "listed by host", host: "registry.test", skip: []string{"registry.test"}, ok: true},
		{name: "listed by host:port, any case", host: "registry.test", skip: []string{"Registry.Test:" + port}, ok: true},
		{name: "listed with another port", host: "registry.test", skip: []string{"registry.test:1"}},
		{name: "another host listed", host: "other.test", skip: []string{"registry.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			opts := fastOptions()
			opts.Credentials = &Credentials{UserPass: netpolicy.UserPass{Username: testUser, Password: secret}}
			opts.Transport = base
			opts.InsecureSkipTLSVerifyHosts = tc.skip
			opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := newClient(t, opts)
			ref := tc.host + ":" + port + "/team/app:v1"
			_, err := c.Verify(testCtx(t), ref, digest)
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			var terr *netpolicy.TLSError
			if !errors.As(err, &terr) || !terr.Terminal() {
				t.Fatalf("Verify = %v, want a terminal *netpolicy.TLSError", err)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Fatalf("an untrusted certificate is no outage: %v", err)
			}
			if got := c.Stats(); got.Retries != 0 {
				t.Fatalf("%d retries of an untrusted certificate, want none", got.Retries)
			}
			if !strings.Contains(err.Error(), tc.host+":"+port) || !strings.Contains(err.Error(), "insecureSkipTLSVerifyHosts") {
				t.Fatalf("the error does not name the host and the fix: %v", err)
			}
			for where, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
				if strings.Contains(text, secret) {
					t.Fatalf("the password leaked into the %s: %s", where, text)
				}
			}
		})
	}
}

func TestTLSSkipOptions(t *testing.T) {
	opts := fastOptions()
	opts.Transport = &recorder{}
	opts.InsecureSkipTLSVerifyHosts = []string{"registry.test"}
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "not an *http.Transport") {
		t.Fatalf("New = %v, want a refusal to skip verification through a custom transport", err)
	}
	opts = fastOptions()
	opts.InsecureSkipTLSVerifyHosts = []string{"https://registry.test/"}
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "want host or host:port") {
		t.Fatalf("New = %v, want a refusal of a URL as a host", err)
	}
}
