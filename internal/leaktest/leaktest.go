// Package leaktest says whether text shows a credential in any of the forms
// it takes on the way: as it is, URL-escaped (path, query, userinfo), and
// base64-encoded alone or as HTTP Basic's user:password.
package leaktest

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// Secret is a password that ends a URL's host part early wherever it is cut
// ('/', '?', '#', '@') and that escaping changes ('%', '+'): leak tests use
// it in both the Git and the registry credentials.
const Secret = "s3/cr?et#P@ss%w+rd-do-not-leak"

// Forms returns secret and its escaped and encoded forms; with user, also
// the base64 of "user:secret", as an Authorization: Basic header carries it.
func Forms(user, secret string) []string {
	forms := []string{
		secret,
		url.QueryEscape(secret),
		url.PathEscape(secret),
		strings.TrimPrefix(url.UserPassword("", secret).String(), ":"),
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.RawURLEncoding.EncodeToString([]byte(secret)),
	}
	if user != "" {
		forms = append(forms, base64.StdEncoding.EncodeToString([]byte(user+":"+secret)))
	}
	return forms
}

// Find returns the first form of secret that text holds, or "".
func Find(text, user, secret string) string {
	for _, f := range Forms(user, secret) {
		if strings.Contains(text, f) {
			return f
		}
	}
	return ""
}
