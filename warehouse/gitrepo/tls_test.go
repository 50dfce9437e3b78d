package gitrepo

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

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

const tlsSecret = "tls-s3cr3t-never-shown"

// tlsRepo serves a real repository over HTTPS with a self-signed
// certificate: a TLS-terminating reverse proxy on 127.0.0.1 in front of git
// http-backend. It returns the proxy and the repository's path.
func tlsRepo(t *testing.T) (*httptest.Server, string, string) {
	t.Helper()
	srv := gittest.New(t, gittest.WithBasicAuth("kargo", tlsSecret))
	raw := srv.CreateRepo(t, "tls.git")
	tip := gittest.CommitFiles(t, srv.Dir("tls.git"), "main", map[string]string{"a.yaml": "a: 1\n"}, "first")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	backend := &url.URL{Scheme: u.Scheme, Host: u.Host}
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(backend))
	proxy.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	proxy.StartTLS()
	t.Cleanup(proxy.Close)
	return proxy, u.Path, tip
}

func TestTLSVerificationIsOnUnlessTheHostIsListed(t *testing.T) {
	proxy, repoPath, tip := tlsRepo(t)
	_, port, err := net.SplitHostPort(proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	byIP := "https://127.0.0.1:" + port + repoPath
	byName := "https://localhost:" + port + repoPath

	for _, tc := range []struct {
		name   string
		url    string
		skip   []string
		client *http.Client
		ok     bool
	}{
		{name: "self-signed, nothing listed", url: byIP},
		{name: "listed by host", url: byIP, skip: []string{"127.0.0.1"}, ok: true},
		{name: "listed by host:port", url: byIP, skip: []string{"127.0.0.1:" + port}, ok: true},
		{name: "listed with another port", url: byIP, skip: []string{"127.0.0.1:1"}},
		{name: "another host listed", url: byIP, skip: []string{"localhost", "git.example.com"}},
		{name: "listed host, other host dialled", url: byName, skip: []string{"127.0.0.1"}},
		{name: "trusted by the client's roots", url: byIP, client: proxy.Client(), ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			r, err := Open(context.Background(), tc.url, Options{
				Auth:                       &Auth{Username: "kargo", Password: tlsSecret},
				InsecureSkipTLSVerifyHosts: tc.skip,
				HTTPClient:                 tc.client,
				Logger:                     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Tip(context.Background(), "main")
			if tc.ok {
				if err != nil {
					t.Fatalf("Tip: %v", err)
				}
				if got.String() != tip {
					t.Fatalf("Tip = %s, want %s", got, tip)
				}
				return
			}
			var terr *netpolicy.TLSError
			if !errors.As(err, &terr) {
				t.Fatalf("Tip error %v (%T), want a *netpolicy.TLSError", err, err)
			}
			if !terr.Terminal() {
				t.Fatal("a certificate failure must be terminal")
			}
			if !strings.Contains(err.Error(), "insecureSkipTLSVerifyHosts") || !strings.Contains(err.Error(), port) {
				t.Fatalf("the error does not name the host and the fix: %v", err)
			}
			for where, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
				if strings.Contains(text, tlsSecret) {
					t.Fatalf("the password leaked into the %s: %s", where, text)
				}
			}
		})
	}
}

func TestTLSSkipNeedsAnHTTPTransport(t *testing.T) {
	custom := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") })}
	_, err := Open(context.Background(), "https://git.example.com/r.git", Options{HTTPClient: custom, InsecureSkipTLSVerifyHosts: []string{"git.example.com"}})
	if err == nil || !strings.Contains(err.Error(), "not an *http.Transport") {
		t.Fatalf("Open = %v, want a refusal to skip verification through a custom transport", err)
	}
	_, err = Open(context.Background(), "https://git.example.com/r.git", Options{InsecureSkipTLSVerifyHosts: []string{"https://git.example.com"}})
	if err == nil || !strings.Contains(err.Error(), "want host or host:port") {
		t.Fatalf("Open = %v, want a refusal of a URL as a host", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestPlainHTTPOnlyForLoopbackOrAllowed(t *testing.T) {
	for _, tc := range []struct {
		url   string
		allow bool
		ok    bool
	}{
		{url: "http://127.0.0.1:9/r.git", ok: true},
		{url: "http://[::1]:9/r.git", ok: true},
		{url: "http://localhost/r.git", ok: true},
		{url: "http://git.example.com/r.git"},
		{url: "http://10.0.0.1/r.git"},
		{url: "http://127.0.0.1.nip.io/r.git"},
		{url: "http://git.example.com/r.git", allow: true, ok: true},
		{url: "ssh://git.example.com/r.git"},
		{url: "file:///etc/r.git"},
	} {
		_, err := Open(context.Background(), tc.url, Options{AllowInsecureHTTP: tc.allow})
		if (err == nil) != tc.ok {
			t.Errorf("Open(%s, allow=%v) = %v, want ok=%v", tc.url, tc.allow, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidURL) {
			t.Errorf("Open(%s) = %v, want ErrInvalidURL", tc.url, err)
		}
	}
}
