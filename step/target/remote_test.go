package target

import (
	"errors"
	"testing"
)

func TestNormalizeRepoURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"github.com/org/repo", "github.com/org/repo"},
		{"https://github.com/org/repo", "github.com/org/repo"},
		{"https://github.com/org/repo.git", "github.com/org/repo"},
		{"https://github.com/org/repo/", "github.com/org/repo"},
		{"https://github.com/org/repo.git/", "github.com/org/repo"},
		{"HTTPS://GitHub.COM/org/repo", "github.com/org/repo"},
		{"http://github.com/org/repo", "github.com/org/repo"},
		{"https://github.com:443/org/repo", "github.com/org/repo"},
		{"https://git.example.com:8443/org/repo", "git.example.com:8443/org/repo"},
		{"https://user:token@github.com/org/repo.git", "github.com/org/repo"},
		{"ssh://git@github.com/org/repo.git", "github.com/org/repo"},
		{"ssh://git@github.com:22/org/repo.git", "github.com/org/repo"},
		{"git@github.com:org/repo.git", "github.com/org/repo"},
		{"git@GitHub.com:org/repo", "github.com/org/repo"},
		{"git::https://github.com/org/repo", "github.com/org/repo"},
		{"  https://github.com/org/repo  ", "github.com/org/repo"},
		{"https://gitlab.com/group/sub/repo.git", "gitlab.com/group/sub/repo"},
		{"https://github.com/Org/Repo", "github.com/Org/Repo"},
	}
	for _, tt := range tests {
		if got := NormalizeRepoURL(tt.in); got != tt.want {
			t.Errorf("NormalizeRepoURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRewriteRemoteRef(t *testing.T) {
	const (
		repo = "https://github.com/org/repo"
		path = "k8s/base"
		ref  = "5f1c86f92d8bc5ab47d072d04a9e345ffd5716cd"
	)
	tests := []struct {
		name, url, want string
		ok              bool
	}{
		{"short form", "github.com/org/repo//k8s/base?ref=old", "github.com/org/repo//k8s/base?ref=" + ref, true},
		{"keeps other params and order", "github.com/org/repo//k8s/base?timeout=120s&ref=old&submodules=false",
			"github.com/org/repo//k8s/base?timeout=120s&ref=" + ref + "&submodules=false", true},
		{"https .git", "https://github.com/org/repo.git//k8s/base?ref=v1", "https://github.com/org/repo.git//k8s/base?ref=" + ref, true},
		{"scp form", "git@github.com:org/repo.git//k8s/base?ref=v1", "git@github.com:org/repo.git//k8s/base?ref=" + ref, true},
		{"ssh scheme", "ssh://git@github.com/org/repo.git//k8s/base?ref=v1", "ssh://git@github.com/org/repo.git//k8s/base?ref=" + ref, true},
		{"git:: prefix", "git::https://github.com/org/repo//k8s/base?ref=v1", "git::https://github.com/org/repo//k8s/base?ref=" + ref, true},
		{"legacy version", "github.com/org/repo//k8s/base?version=v1&timeout=1m", "github.com/org/repo//k8s/base?ref=" + ref + "&timeout=1m", true},
		{"no ref yet", "github.com/org/repo//k8s/base", "github.com/org/repo//k8s/base?ref=" + ref, true},
		{"no ref, other params", "github.com/org/repo//k8s/base?timeout=120s", "github.com/org/repo//k8s/base?timeout=120s&ref=" + ref, true},
		{"path written with ./ and trailing /", "github.com/org/repo//./k8s/base/?ref=a", "github.com/org/repo//./k8s/base/?ref=" + ref, true},
		{"github without //", "https://github.com/org/repo/k8s/base?ref=a", "https://github.com/org/repo/k8s/base?ref=" + ref, true},
		{"host case", "GitHub.com/org/repo//k8s/base?ref=a", "GitHub.com/org/repo//k8s/base?ref=" + ref, true},
		{"other path", "github.com/org/repo//k8s/overlay?ref=a", "", false},
		{"path prefix only", "github.com/org/repo//k8s?ref=a", "", false},
		{"other repo", "github.com/org/repo2//k8s/base?ref=a", "", false},
		{"other host", "gitlab.com/org/repo//k8s/base?ref=a", "", false},
		{"local path", "../../base", "", false},
		{"local file", "deployment.yaml", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := RewriteRemoteRef(tt.url, repo, path, ref)
			if err != nil {
				t.Fatalf("RewriteRemoteRef: %v", err)
			}
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRewriteRemoteRefErrors(t *testing.T) {
	tests := []struct {
		name, url, ref string
		want           error
	}{
		{"empty ref", "github.com/org/repo//p", "", ErrInvalid},
		{"ref with space", "github.com/org/repo//p", "a b", ErrInvalid},
		{"ref with plus", "github.com/org/repo//p", "a+b", ErrInvalid},
		{"ref twice", "github.com/org/repo//p?ref=a&ref=b", "c", ErrAmbiguous},
		{"ref and version", "github.com/org/repo//p?ref=a&version=b", "c", ErrAmbiguous},
		{"fragment", "github.com/org/repo//p?ref=a#x", "c", ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := RewriteRemoteRef(tt.url, "github.com/org/repo", "p", tt.ref)
			if ok || !errors.Is(err, tt.want) {
				t.Errorf("got ok=%v, %v; want error wrapping %v", ok, err, tt.want)
			}
		})
	}
}
