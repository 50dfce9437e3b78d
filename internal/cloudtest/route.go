package cloudtest

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// Transport returns an HTTP transport that connects to the address routes
// gives for a host (any port) and dials every other address as it is, and
// trusts roots when set: a cloud registry's host name (which tests cannot
// own) served by a loopback test server.
func Transport(routes map[string]string, roots *tls.Config) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			if to, ok := routes[host]; ok {
				addr = to
			}
		}
		return d.DialContext(ctx, network, addr)
	}
	if roots != nil {
		t.TLSClientConfig = roots.Clone()
	}
	return t
}
