package netpolicy

// Origins (scheme, host and port) of URLs: the boundary credentials may not
// cross, on a redirect or anywhere else.

import (
	"net/url"
	"strings"
)

// Same reports whether a and b have the same scheme, host and port (an
// absent port is the scheme's default).
func SameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// Of returns scheme://host[:port] of u.
func OriginOf(u *url.URL) string { return u.Scheme + "://" + u.Host }

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}
