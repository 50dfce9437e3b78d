package netpolicy

// Redaction of credentials in text that is about to be printed: in an error,
// a log line, a step message or output. RedactURL is the project's one
// redaction function; every place that prints a URL a user or a record gave
// goes through it.

import (
	"net/url"
	"strings"
)

// Mask is what replaces a credential.
const Mask = "REDACTED"

// URL returns s with its credentials hidden. For a URL with a scheme
// (https://user:pass@host/path), everything from after "://" up to the last
// '@' goes, wherever a '/', '?' or '#' inside the password would make a
// parser end the host (what follows the last '@' is the host and the path,
// shown even when they do not parse); a URL without '@' that does not parse
// loses its whole authority, since nothing tells where it ends. Query values under names that carry secrets (token,
// password, signature, …) are hidden too. For an scp-like address
// (user@host:path) the user goes unless it is git's conventional "git".
// Anything else is returned as it is.
func RedactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || strings.ContainsAny(scheme, "/?#@ ") {
		return scpLike(s)
	}
	at := strings.LastIndexByte(rest, '@')
	host := rest[at+1:] // all of rest when there is no '@'
	if _, err := url.Parse(scheme + "://" + host); err != nil && at < 0 {
		// No telling where the authority ends: drop it whole.
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			return scheme + "://" + Mask + host[i:]
		}
		return scheme + "://" + Mask
	}
	host = query(host)
	switch {
	case at < 0:
		return scheme + "://" + host
	case rest[:at] == "git": // ssh://git@host/…: a convention, not a secret
		return scheme + "://git@" + host
	}
	return scheme + "://" + Mask + "@" + host
}

// scpLike hides the user of user@host:path (the part before the first '/')
// unless it is git's conventional "git"; an '@' further on is in a path or
// a query (…//k8s?ref=a@b) and stays.
func scpLike(s string) string {
	head := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		head = s[:i]
	}
	at := strings.LastIndexByte(head, '@')
	if at < 0 || head[:at] == "git" {
		return query(s)
	}
	return Mask + "@" + query(s[at+1:])
}

// secretParams are query parameter names (lower case) whose values are
// hidden: tokens of signed or pre-authenticated URLs.
var secretParams = []string{"token", "access_token", "password", "passwd", "secret", "signature", "sig", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature", "x-goog-credential", "code", "key"}

// query hides the values of secret parameters in the query of hostAndPath.
func query(hostAndPath string) string {
	q := strings.IndexByte(hostAndPath, '?')
	if q < 0 {
		return hostAndPath
	}
	head, rest := hostAndPath[:q+1], hostAndPath[q+1:]
	frag := ""
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest, frag = rest[:i], rest[i:]
	}
	parts := strings.Split(rest, "&")
	for i, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		if !hasValue {
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil && isSecretParam(n) {
			parts[i] = name + "=" + Mask
		}
	}
	return head + strings.Join(parts, "&") + frag
}

func isSecretParam(name string) bool {
	name = strings.ToLower(name)
	for _, p := range secretParams {
		if name == p {
			return true
		}
	}
	return false
}

// Secrets returns s with every non-empty secret in it, and the forms a
// secret takes on the way (URL path and query escaping), replaced by Mask:
// the last line of defence for text that came from elsewhere (a server's
// error, a library's message) and may echo a credential.
func RedactSecrets(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) < 4 {
			// Too short to hide without hiding ordinary words.
			continue
		}
		userinfo := strings.TrimPrefix(url.UserPassword("", sec).String(), ":")
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec), userinfo} {
			s = strings.ReplaceAll(s, form, Mask)
		}
	}
	return s
}
