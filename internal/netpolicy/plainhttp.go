package netpolicy

// Plain http: allowed to the local machine, and to hosts a config lists
// explicitly; everything else must be https.

import (
	"net"
	"strings"
)

// IsLoopback reports whether host, with or without a port or IPv6
// brackets, names the local machine: "localhost" or a loopback address.
func IsLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// PlainHTTPAllowed reports whether plain http may reach hostport (host or
// host:port): it is loopback, or allowed lists it as a host (every port) or
// as exactly that host:port. Names compare case-insensitively; IPv6
// addresses match with or without brackets.
func PlainHTTPAllowed(hostport string, allowed []string) bool {
	if IsLoopback(hostport) {
		return true
	}
	host, port := splitHostPort(hostport)
	for _, a := range allowed {
		ah, ap := splitHostPort(a)
		if strings.EqualFold(ah, host) && (ap == "" || ap == port) {
			return true
		}
	}
	return false
}

// splitHostPort splits host:port, or returns a bare host and no port; the
// host loses IPv6 brackets either way.
func splitHostPort(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return strings.Trim(h, "[]"), p
	}
	return strings.Trim(hostport, "[]"), ""
}
