package images

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseReference(t *testing.T) {
	tests := []struct {
		in                   string
		registry, repository string
		identifier, tag      string
	}{
		{"ghcr.io/org/repo:git-abc", "ghcr.io", "org/repo", "git-abc", "git-abc"},
		{"ghcr.io/org/repo", "ghcr.io", "org/repo", "latest", "latest"},
		{"repo@sha256:" + hex64, "index.docker.io", "library/repo", "sha256:" + hex64, ""},
		{"ghcr.io/org/repo:v1@sha256:" + hex64, "ghcr.io", "org/repo", "sha256:" + hex64, "v1"},
		{"alpine", "index.docker.io", "library/alpine", "latest", "latest"},
		{"alpine:3.20", "index.docker.io", "library/alpine", "3.20", "3.20"},
		{"docker.io/org/app:1", "index.docker.io", "org/app", "1", "1"},
		{"org/app:1", "index.docker.io", "org/app", "1", "1"},
		{"localhost:5000/repo:tag", "localhost:5000", "repo", "tag", "tag"},
		{"127.0.0.1:5000/team/app:v1", "127.0.0.1:5000", "team/app", "v1", "v1"},
		{"registry.example.com:8443/a/b/c:v1.2.3_rc-1", "registry.example.com:8443", "a/b/c", "v1.2.3_rc-1", "v1.2.3_rc-1"},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "app", "v1", "v1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ref, err := ParseReference(tt.in)
			if err != nil {
				t.Fatalf("ParseReference: %v", err)
			}
			if got := ref.Context().RegistryStr(); got != tt.registry {
				t.Errorf("registry = %q, want %q", got, tt.registry)
			}
			if got := ref.Context().RepositoryStr(); got != tt.repository {
				t.Errorf("repository = %q, want %q", got, tt.repository)
			}
			if got := ref.Identifier(); got != tt.identifier {
				t.Errorf("identifier = %q, want %q", got, tt.identifier)
			}
			if got := tagOf(ref); got != tt.tag {
				t.Errorf("tag = %q, want %q", got, tt.tag)
			}
		})
	}
}

func TestParseReferenceErrors(t *testing.T) {
	tests := []struct{ in, mention string }{
		{"", "empty reference"},
		{" ghcr.io/org/repo:v1", "white space"},
		{"https://ghcr.io/org/repo:v1", "URL scheme"},
		{"ghcr.io/Org/Repo:v1", "repository can only contain"},
		{"ghcr.io/org/repo:", "must specify a tag name"},
		{"ghcr.io/org/repo@sha256:abc", "sha256:abc"},
		{"ghcr.io/org/repo@md5:" + hex64, "md5"},
		{"ghcr.io/org/repo:v 1", "ghcr.io/org/repo:v 1"},
		{"ghcr.io//repo:v1", "single '/'"},
		{"ghcr.io/org/-repo:v1", "path components"},
		{"ghcr.io/org/repo:v1@sha256:" + hex64 + "@x", "exactly one '@'"},
		{"a@b@c", "exactly one '@'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseReference(tt.in)
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("err = %v, want ErrInvalidReference", err)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("message %q does not mention %q", err, tt.mention)
			}
		})
	}
}

func TestValidDigest(t *testing.T) {
	for d, want := range map[string]bool{
		"sha256:" + hex64:                  true,
		"sha256:" + strings.ToUpper(hex64): false,
		"sha256:" + hex64[:63]:             false,
		"sha512:" + hex64:                  false,
		hex64:                              false,
		"sha256:" + hex64[:63] + "g":       false,
		"sha256:" + hex64 + "0":            false,
		"":                                 false,
	} {
		if got := validDigest(d); got != want {
			t.Errorf("validDigest(%q) = %v, want %v", d, got, want)
		}
	}
}

func TestTagOfDigestOnly(t *testing.T) {
	d, err := name.NewDigest("127.0.0.1:5000/repo@sha256:" + hex64)
	if err != nil {
		t.Fatal(err)
	}
	if got := tagOf(d); got != "" {
		t.Errorf("tagOf = %q, want none (the port is not a tag)", got)
	}
}
