package images

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// repoName is the repository name grammar of the OCI distribution spec.
var repoName = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)

// ParseReference parses an image reference as people write them:
// ghcr.io/org/repo:tag, repo@sha256:…, repo:tag@sha256:…, Docker Hub short
// names (alpine, org/repo) and registries with ports (127.0.0.1:5000/repo).
// A reference without a tag or digest means the tag "latest". Errors wrap
// ErrInvalidReference and say what was expected.
func ParseReference(s string) (name.Reference, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty reference, want e.g. ghcr.io/org/repo:tag", ErrInvalidReference)
	}
	if strings.TrimSpace(s) != s {
		return nil, fmt.Errorf("%w: %q has leading or trailing white space", ErrInvalidReference, s)
	}
	if strings.Contains(s, "://") {
		return nil, fmt.Errorf("%w: %q has a URL scheme, want registry/repository:tag without one", ErrInvalidReference, s)
	}
	var ref name.Reference
	var err error
	if strings.Contains(s, "@") {
		ref, err = name.NewDigest(s)
	} else {
		ref, err = name.NewTag(s)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w (want registry/repository:tag, repository@sha256:<64 hex> or repository:tag@sha256:<64 hex>)", ErrInvalidReference, s, err)
	}
	if repo := ref.Context().RepositoryStr(); !repoName.MatchString(repo) {
		return nil, fmt.Errorf("%w: %q: repository %q must be lower-case path components of letters and digits separated by '.', '_', '__' or '-', joined by single '/'", ErrInvalidReference, s, repo)
	}
	return ref, nil
}

// tagOf returns the tag written in ref, also for repo:tag@sha256:… where
// go-containerregistry keeps only the digest, and "" when there is none.
func tagOf(ref name.Reference) string {
	switch r := ref.(type) {
	case name.Tag:
		return r.TagStr()
	case name.Digest:
		base, _, ok := strings.Cut(r.String(), "@")
		if !ok {
			return ""
		}
		t, err := name.NewTag(base, name.StrictValidation)
		if err != nil {
			return ""
		}
		return t.TagStr()
	}
	return ""
}

// validDigest reports whether d is sha256:<64 lowercase hex>, the only form a
// build-lock record holds.
func validDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
