package step

// Rules for single config values that a JSON Schema pattern cannot express:
// durations, Git branch names, paths and URLs.

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/argo-refs/argo-refs/internal/ambient"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/relpath"
	"github.com/argo-refs/argo-refs/step/target"
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

// gitCredentialProblems refuses Git credentials the step cannot use for
// repoURL: Kargo's GitHub App keys (not supported yet), a missing user name
// or password, or a Kargo repoURL that does not match the GitOps
// repository. Findings are keyed by JSON pointer under /credentials/git.
func gitCredentialProblems(g *GitCredentials, repoURL string) map[string]string {
	switch {
	case g.usesGitHubApp() && g.Password != "":
		return map[string]string{"": "holds both a password and GitHub App keys; give one of them"}
	case g.usesGitHubApp():
		out := map[string]string{}
		if g.GitHubAppClientID == "" && g.GitHubAppID == "" {
			out["/githubAppClientID"] = "required key is missing (or githubAppID)"
		}
		if g.GitHubAppInstallationID == "" {
			out["/githubAppInstallationID"] = "required key is missing"
		}
		if g.GitHubAppPrivateKey == "" {
			out["/githubAppPrivateKey"] = "required key is missing"
		}
		if len(out) > 0 {
			return out
		}
	case g.Username == "" || g.Password == "":
		out := map[string]string{}
		if g.Username == "" {
			out["/username"] = "required key is missing"
		}
		if g.Password == "" {
			out["/password"] = "required key is missing"
		}
		return out
	}
	if g.RepoURL == "" {
		return nil
	}
	scope, err := newGitScope(g)
	if err != nil {
		return map[string]string{"/repoURL": err.Error()}
	}
	if repoURL != "" && !scope.matches(repoURL) {
		return map[string]string{"/repoURL": fmt.Sprintf("the credentials are for %s, not for repoURL %s: credentials are sent only to the repository they name", netpolicy.RedactURL(g.RepoURL), netpolicy.RedactURL(repoURL))}
	}
	return nil
}

// registryCredentialProblems refuses registry credentials that give both a
// password and ambient, or neither, and ambient credentials for a registry
// no cloud provider serves. Findings are keyed by JSON pointer under
// /credentials/registry.
func registryCredentialProblems(r *RegistryCredentials, imageRepository string) map[string]string {
	if !r.Ambient {
		out := map[string]string{}
		if r.Username == "" {
			out["/username"] = "required key is missing (or ambient: true)"
		}
		if r.Password == "" {
			out["/password"] = "required key is missing (or ambient: true)"
		}
		return out
	}
	if r.Username != "" || r.Password != "" {
		return map[string]string{"/ambient": "takes no username or password; give one kind of credentials"}
	}
	host := r.Registry
	if host == "" {
		host, _, _ = strings.Cut(imageRepository, "/")
	}
	if host == "" {
		return nil // Resolve asks for the registry
	}
	if _, err := ambient.ProviderOf(host); err != nil {
		return map[string]string{"/ambient": err.Error()}
	}
	return nil
}

// gitScope is the repository (or pattern) Git credentials are for.
type gitScope struct {
	repoURL string         // "" when the credentials name no repository
	re      *regexp.Regexp // when repoURL is a regular expression
}

// newGitScope reads the scope of g, compiling a repoURL pattern once.
func newGitScope(g *GitCredentials) (gitScope, error) {
	s := gitScope{repoURL: g.RepoURL}
	if g.RepoURL != "" && g.RepoURLIsRegex {
		re, err := regexp.Compile(g.RepoURL)
		if err != nil {
			return gitScope{}, fmt.Errorf("is not a regular expression: %v", err)
		}
		s.re = re
	}
	return s, nil
}

// matches applies Kargo's rule: a regular expression matches the URL as
// given or normalised; a plain repoURL matches when both normalise to the
// same repository.
func (s gitScope) matches(rawURL string) bool {
	if s.re != nil {
		return s.re.MatchString(rawURL) || s.re.MatchString(target.NormalizeRepoURL(rawURL))
	}
	return target.NormalizeRepoURL(s.repoURL) == target.NormalizeRepoURL(rawURL)
}
