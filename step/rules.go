package step

// Rules for single config values that a JSON Schema pattern cannot express:
// durations, Git branch names, paths and URLs.

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/relpath"
)

func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a Go duration such as \"90s\" or \"5m\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return d, nil
}

// checkRelPath is the one rule for repository paths (internal/relpath).
func checkRelPath(p string) error { return relpath.Check(p) }

func checkSegment(s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00") {
		return fmt.Errorf("%q is not a single path segment", s)
	}
	return nil
}

// checkBranchName applies the parts of git check-ref-format the schema
// pattern cannot.
func checkBranchName(b string) error {
	switch {
	case strings.HasPrefix(b, "refs/"):
		return fmt.Errorf("branch %q: give the short name, without refs/", b)
	case strings.Contains(b, ".."), strings.Contains(b, "//"), strings.Contains(b, "/."),
		strings.Contains(b, "@{"), strings.HasSuffix(b, "/"), strings.HasSuffix(b, "."),
		strings.HasSuffix(b, ".lock"), strings.HasPrefix(b, "."), strings.HasPrefix(b, "/"),
		strings.ContainsAny(b, " ~^:?*[\\\x7f") || strings.ContainsFunc(b, func(r rune) bool { return r < 0x20 }):
		return fmt.Errorf("%q is not a valid Git branch name", b)
	}
	return nil
}

// appFromBuildLockDir returns <app> from "warehouses/<app>/builds".
func appFromBuildLockDir(dir string) string {
	parts := strings.Split(dir, "/")
	if len(parts) == 3 && parts[0] == "warehouses" && parts[2] == "builds" && checkSegment(parts[1]) == nil {
		return parts[1]
	}
	return ""
}

// checkURL requires http(s), no user information, and plain http only to
// loopback or an allowed host. Errors never contain user information.
func checkURL(raw string, insecureHosts []string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", netpolicy.RedactURL(raw))
	}
	if u.User != nil {
		return errors.New("must not contain user information; use credentials or the environment")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if netpolicy.PlainHTTPAllowed(u.Host, insecureHosts) {
			return nil
		}
		return fmt.Errorf("plain http to %q is not allowed; use https or list the host in insecureHTTPHosts", u.Host)
	default:
		return fmt.Errorf("%q is not an http(s) URL", netpolicy.RedactURL(raw))
	}
}
