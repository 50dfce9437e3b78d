package warehouse

// The invariants of a schema v1 record, each problem named by field.

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

var (
	hex40    = regexp.MustCompile(`^[0-9a-f]{40}$`)
	hexAny   = regexp.MustCompile(`^[0-9a-fA-F]+$`)
	digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// imageRepoRe is the repository part of the distribution reference
	// grammar: an optional registry host[:port], then lowercase path components.
	imageRepoRe = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	scpLikeRe   = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/].*$`)
)

// Validate checks every invariant of a schema v1 record and returns all the
// problems found, joined with errors.Join, each a *FieldError naming file.
func (r *Record) Validate(file string) error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{File: file, Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if r.SchemaVersion != SchemaV1 {
		add("schemaVersion", "expected %q, found %s", SchemaV1, quote(r.SchemaVersion))
	}
	if p := commitProblem(r.GitCommit); p != "" {
		add("gitCommit", "%s", p)
	}
	if want := ReleaseID(r.GitCommit); r.ReleaseID != want {
		add("releaseId", "expected %q (\"git-\" + gitCommit), found %s", want, quote(r.ReleaseID))
	}
	if p := imageRefProblem(r.Image.Ref, r.ReleaseID); p != "" {
		add("image.ref", "%s", p)
	}
	if !digestRe.MatchString(r.Image.Digest) {
		add("image.digest", "expected \"sha256:\" followed by 64 lowercase hex characters, found %s", quote(r.Image.Digest))
	}
	if r.Packaging.Kind != PackagingHelm && r.Packaging.Kind != PackagingKustomize {
		add("packaging.kind", "expected %q or %q, found %s", PackagingHelm, PackagingKustomize, quote(r.Packaging.Kind))
	}
	if p := sourceRepoProblem(r.Packaging.SourceRepo); p != "" {
		add("packaging.sourceRepo", "%s", p)
	}
	if p := sourcePathProblem(r.Packaging.SourcePath); p != "" {
		add("packaging.sourcePath", "%s", p)
	}
	switch {
	case r.CreatedAt.IsZero():
		add("createdAt", "expected an RFC 3339 UTC time, found none")
	case r.CreatedAt.Location() != time.UTC || r.CreatedAt.Nanosecond() != 0:
		add("createdAt", "expected a UTC time in whole seconds, found %s", quote(r.CreatedAt.Format(time.RFC3339Nano)))
	}
	return errors.Join(errs...)
}

func commitProblem(c string) string {
	const want = "expected a full commit SHA of 40 lowercase hex characters"
	switch {
	case hex40.MatchString(c):
		return ""
	case c == "":
		return want + ", found an empty value"
	case !hexAny.MatchString(c):
		return fmt.Sprintf("%s, found non-hex characters in %s", want, quote(c))
	case len(c) < 40:
		return fmt.Sprintf("%s, found a short SHA of %d characters %s", want, len(c), quote(c))
	case len(c) > 40:
		return fmt.Sprintf("%s, found %d characters %s", want, len(c), quote(c))
	default:
		return fmt.Sprintf("%s, found upper-case hex %s", want, quote(c))
	}
}

func imageRefProblem(ref, releaseID string) string {
	const want = "expected <repository>:" // completed below
	if ref == "" {
		return want + releaseID + ", found an empty value"
	}
	if strings.Contains(ref, "@") {
		return fmt.Sprintf("%s%s without a digest (the digest goes in image.digest), found %s", want, releaseID, quote(ref))
	}
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.Contains(ref[i+1:], "/") {
		return fmt.Sprintf("%s%s, found %s with no tag", want, releaseID, quote(ref))
	}
	repo, tag := ref[:i], ref[i+1:]
	if !imageRepoRe.MatchString(repo) {
		return fmt.Sprintf("%s%s, found %s whose repository %s is not a valid image repository", want, releaseID, quote(ref), quote(repo))
	}
	if tag != releaseID {
		return fmt.Sprintf("expected the tag to equal releaseId %q, found tag %s in %s", releaseID, quote(tag), quote(ref))
	}
	return ""
}

func sourceRepoProblem(s string) string {
	const want = "expected an https://, http://, ssh:// or user@host:path Git URL"
	if s == "" {
		return want + ", found an empty value"
	}
	if !safeChars(s) {
		return fmt.Sprintf("%s of printable ASCII without spaces, found %s", want, quote(netpolicy.RedactURL(s)))
	}
	if scpLikeRe.MatchString(s) && !strings.Contains(s, "://") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Path == "" || u.Path == "/" {
		return fmt.Sprintf("%s with a host and a path, found %s", want, quote(netpolicy.RedactURL(s)))
	}
	switch u.Scheme {
	case "https", "http":
		if u.User != nil {
			return fmt.Sprintf("expected a URL without credentials, found %s", quote(netpolicy.RedactURL(s)))
		}
	case "ssh":
		if _, hasPassword := u.User.Password(); hasPassword {
			return fmt.Sprintf("expected a URL without credentials, found %s", quote(netpolicy.RedactURL(s)))
		}
	default:
		return fmt.Sprintf("%s, found scheme %s in %s", want, quote(u.Scheme), quote(netpolicy.RedactURL(s)))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("%s without query or fragment, found %s", want, quote(netpolicy.RedactURL(s)))
	}
	return ""
}

func sourcePathProblem(p string) string {
	const want = "expected a relative path inside the source repository such as \"k8s/helm\""
	switch {
	case p == "":
		return want + ", found an empty value"
	case !safeChars(p):
		return fmt.Sprintf("%s of printable ASCII without spaces, found %s", want, quote(p))
	case strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%s, found absolute path %s", want, quote(p))
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return fmt.Sprintf("%s, found %s which contains \"..\"", want, quote(p))
		}
	}
	if strings.Contains(p, `\`) {
		return fmt.Sprintf("%s with forward slashes, found %s", want, quote(p))
	}
	return ""
}

// safeChars reports whether s is printable ASCII without spaces, the only
// characters a record's free-form fields may hold: it keeps every field a
// single token that Render can write exactly as Psych does.
func safeChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// quote quotes a found value for an error message, truncated to ~80 characters.
func quote(s string) string {
	const limit = 80
	if utf8.RuneCountInString(s) > limit {
		r := []rune(s)
		return strconv.Quote(string(r[:limit])) + "…"
	}
	return strconv.Quote(s)
}
