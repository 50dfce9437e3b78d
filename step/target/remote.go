package target

import (
	"fmt"
	"path"
	"strings"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// NormalizeRepoURL returns a comparable form of a Git repository URL: the
// scheme and any user info dropped (https, http, ssh, git:: and scp-like
// git@host:org/repo forms unified), the host lower-cased, a default port
// dropped, and trailing "/" and ".git" removed, e.g. "github.com/org/repo".
func NormalizeRepoURL(u string) string {
	s := strings.TrimSpace(u)
	s = strings.TrimPrefix(s, "git::")
	var host, p string
	scheme := ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme = strings.ToLower(s[:i])
		host, p, _ = strings.Cut(s[i+3:], "/")
	} else if colon := strings.IndexByte(s, ':'); colon >= 0 && !strings.Contains(s[:colon], "/") {
		host, p = s[:colon], s[colon+1:]
		scheme = "ssh"
	} else {
		host, p, _ = strings.Cut(s, "/")
	}
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	host = strings.ToLower(host)
	switch scheme {
	case "https":
		host = strings.TrimSuffix(host, ":443")
	case "http":
		host = strings.TrimSuffix(host, ":80")
	case "ssh":
		host = strings.TrimSuffix(host, ":22")
	case "git":
		host = strings.TrimSuffix(host, ":9418")
	}
	p = strings.Trim(p, "/")
	p = strings.TrimSuffix(p, ".git")
	p = strings.TrimRight(p, "/")
	if p == "" {
		return host
	}
	return host + "/" + p
}

// remote is a kustomize remote resource URL taken apart.
type remote struct {
	base  string // everything before "?", as written
	repo  string // NormalizeRepoURL of the repository part
	path  string // the directory inside the repository, cleaned
	query string // the raw query, without "?"
}

// parseRemote takes a kustomize remote URL apart; ok is false when s is not
// a remote URL (a local path, say).
func parseRemote(s string) (r remote, ok bool) {
	base, query, _ := strings.Cut(s, "?")
	r.base, r.query = base, query
	rest := strings.TrimPrefix(base, "git::")
	from := 0
	if i := strings.Index(rest, "://"); i >= 0 {
		from = i + 3
	}
	if i := strings.Index(rest[from:], "//"); i >= 0 {
		repoPart := rest[:from+i]
		r.repo = NormalizeRepoURL(repoPart)
		r.path = cleanPath(rest[from+i+2:])
		return r, r.repo != "" && strings.Contains(r.repo, "/")
	}
	// Without "//", kustomize reads github.com/org/repo/sub/path as the
	// repository org/repo and the directory sub/path.
	n := NormalizeRepoURL(rest)
	parts := strings.SplitN(n, "/", 4)
	if len(parts) < 3 || parts[0] != "github.com" {
		return remote{}, false
	}
	r.repo = parts[0] + "/" + parts[1] + "/" + strings.TrimSuffix(parts[2], ".git")
	if len(parts) == 4 {
		r.path = cleanPath(parts[3])
	}
	return r, true
}

func cleanPath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// refParam returns the index of the ref= (or legacy version=) parameter in
// the query parts, -1 if none.
func refParam(parts []string, url string) (int, error) {
	refAt, verAt := -1, -1
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		switch k {
		case "ref":
			if refAt >= 0 {
				return 0, fmt.Errorf("remote %s has ref= twice: %w", netpolicy.RedactURL(url), ErrAmbiguous)
			}
			refAt = i
		case "version":
			if verAt >= 0 {
				return 0, fmt.Errorf("remote %s has version= twice: %w", netpolicy.RedactURL(url), ErrAmbiguous)
			}
			verAt = i
		}
	}
	switch {
	case refAt >= 0 && verAt >= 0:
		return 0, fmt.Errorf("remote %s has both ref= and version=: %w", netpolicy.RedactURL(url), ErrAmbiguous)
	case refAt >= 0:
		return refAt, nil
	}
	return verAt, nil
}

// RewriteRemoteRef rewrites the ref of one kustomize remote resource URL;
// ok is false, with no error, when url does not point at sourceRepo//sourcePath.
// It understands the forms kustomize accepts: github.com/org/repo//path?ref=x,
// https://github.com/org/repo.git//path?ref=x, git@github.com:org/repo.git//path?ref=x,
// git::https://..., ssh://..., and github.com/org/repo/path without "//". A
// legacy version= parameter becomes ref=; a URL without a ref gets ?ref= (or
// &ref=). Other query parameters and their order are kept.
func RewriteRemoteRef(url, sourceRepo, sourcePath, ref string) (out string, ok bool, err error) {
	if err := checkRef(ref); err != nil {
		return "", false, err
	}
	r, isRemote := parseRemote(url)
	if !isRemote || r.repo != NormalizeRepoURL(sourceRepo) || r.path != cleanPath(sourcePath) {
		return "", false, nil
	}
	if strings.ContainsRune(url, '#') {
		return "", false, fmt.Errorf("rewriting remote %s: a #fragment is not supported: %w", netpolicy.RedactURL(url), ErrUnsupported)
	}
	var parts []string
	if r.query != "" {
		parts = strings.Split(r.query, "&")
	}
	at, err := refParam(parts, url)
	if err != nil {
		return "", false, fmt.Errorf("rewriting remote: %w", err)
	}
	if at >= 0 {
		parts[at] = "ref=" + ref
	} else {
		parts = append(parts, "ref="+ref)
	}
	return r.base + "?" + strings.Join(parts, "&"), true, nil
}

// remoteRef returns the ref a remote URL carries ("" if none).
func remoteRef(url string) (string, error) {
	r, _ := parseRemote(url)
	var parts []string
	if r.query != "" {
		parts = strings.Split(r.query, "&")
	}
	at, err := refParam(parts, url)
	if err != nil || at < 0 {
		return "", err
	}
	_, v, _ := strings.Cut(parts[at], "=")
	return v, nil
}

// checkRef accepts the refs that need no escaping in a URL query: commit
// SHAs, tags and branch names made of letters, digits and "-._/~".
func checkRef(ref string) error {
	if ref == "" {
		return fmt.Errorf("checking ref: empty: %w", ErrInvalid)
	}
	for _, c := range ref {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._/~", c)) {
			return fmt.Errorf("checking ref %q: character %q would need escaping in a URL: %w", ref, c, ErrInvalid)
		}
	}
	return nil
}

// RemoteRef reports whether url is a kustomize remote resource URL that
// points at sourceRepo//sourcePath, and the ref it carries ("" if none).
func RemoteRef(url, sourceRepo, sourcePath string) (ref string, ok bool) {
	r, isRemote := parseRemote(url)
	if !isRemote || r.repo != NormalizeRepoURL(sourceRepo) || r.path != cleanPath(sourcePath) {
		return "", false
	}
	ref, err := remoteRef(url)
	return ref, err == nil
}

// IsRemote reports whether a kustomize resources entry is a remote URL
// rather than a local path.
func IsRemote(entry string) bool {
	_, ok := parseRemote(entry)
	return ok || strings.Contains(entry, "://")
}
