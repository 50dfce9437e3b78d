package netpolicy

// TLS verification: every host's certificate is verified except the ones
// a config explicitly lists as not verified.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// TLSError is a TLS certificate that failed verification. It is terminal: the
// server's certificate or the config's trust must change before a retry can
// pass, and retrying an untrusted peer quietly would hide an interception.
type TLSError struct {
	// Host is the host:port dialled.
	Host string
	// Err is the verification error from crypto/tls or crypto/x509.
	Err error
}

// Error names the host, the cause and the fix.
func (e *TLSError) Error() string {
	return fmt.Sprintf("verifying the TLS certificate of %s: %v (fix the server's certificate or the system trust store, or list the host in insecureSkipTLSVerifyHosts)", e.Host, e.Err)
}

// Unwrap returns the verification error.
func (e *TLSError) Unwrap() error { return e.Err }

// Terminal reports true: see Error.
func (e *TLSError) Terminal() bool { return true }

// TLSSkipHosts is a set of hosts whose certificates are not verified. An entry is a
// host (every port) or host:port; names compare case-insensitively.
type TLSSkipHosts map[string]bool

// NewTLSSkipHosts validates and normalises a list of host or host:port entries.
func NewTLSSkipHosts(list []string) (TLSSkipHosts, error) {
	h := TLSSkipHosts{}
	for _, e := range list {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" || strings.ContainsAny(e, "/@?# ") {
			return nil, fmt.Errorf("TLS skip-verify host %q: want host or host:port", e)
		}
		h[normalise(e)] = true
	}
	return h, nil
}

// normalise writes host or host:port (IPv6 in brackets or not) as host, or
// as net.JoinHostPort gives host:port.
func normalise(hostport string) string {
	if host, port, err := net.SplitHostPort(hostport); err == nil {
		return net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	return strings.Trim(hostport, "[]")
}

// Skip reports whether the certificate of hostport (host or host:port, as in
// a URL) is not verified.
func (h TLSSkipHosts) Skip(hostport string) bool {
	if len(h) == 0 {
		return false
	}
	hostport = normalise(strings.ToLower(hostport))
	if h[hostport] {
		return true
	}
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return h[host]
	}
	return false
}

// Transport returns a RoundTripper that sends requests to the hosts in skip
// through a copy of base that does not verify certificates, and every other
// request through base unchanged. Either way a certificate verification
// failure comes back as an *TLSError. base must be an *http.Transport when skip
// is not empty, since only then can the copy be made; nil means
// http.DefaultTransport.
func TLSTransport(base http.RoundTripper, skip TLSSkipHosts) (http.RoundTripper, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	t := &transport{verified: base, skip: skip}
	if len(skip) == 0 {
		return t, nil
	}
	ht, ok := base.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("skipping TLS verification for %d host(s): the transport is a %T, not an *http.Transport", len(skip), base)
	}
	insecure := ht.Clone()
	cfg := &tls.Config{}
	if insecure.TLSClientConfig != nil {
		cfg = insecure.TLSClientConfig.Clone()
	}
	cfg.InsecureSkipVerify = true //nolint:gosec // only for hosts the config lists explicitly
	insecure.TLSClientConfig = cfg
	t.unverified = insecure
	return t, nil
}

type transport struct {
	verified   http.RoundTripper
	unverified http.RoundTripper
	skip       TLSSkipHosts
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.verified
	if t.unverified != nil && req.URL.Scheme == "https" && t.skip.Skip(req.URL.Host) {
		next = t.unverified
	}
	resp, err := next.RoundTrip(req)
	if err != nil && IsCertificateError(err) {
		return nil, &TLSError{Host: req.URL.Host, Err: certCause(err)}
	}
	return resp, err
}

// CloseIdleConnections passes http.Client.CloseIdleConnections on to both
// transports.
func (t *transport) CloseIdleConnections() {
	for _, rt := range []http.RoundTripper{t.verified, t.unverified} {
		if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

// IsCertificateError reports whether err is a failed certificate
// verification.
func IsCertificateError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

func certCause(err error) error {
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) && cv.Err != nil {
		return cv.Err
	}
	return err
}
