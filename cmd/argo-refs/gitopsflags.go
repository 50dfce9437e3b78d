package main

// The flags of a command that commits to the GitOps repository (publish,
// legacy-merge), and opening the repository with them: credentials from
// the environment or a file, never from a flag.

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/internal/commitsign"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// gitopsFlags are the flags every GitOps writer takes.
type gitopsFlags struct {
	repo, branch, message, output, passwordFile string
	signingKeyFile                              string
	authorName, authorEmail                     string
	insecureHosts                               []string
	timeout                                     time.Duration
	treeFetch                                   string
}

// register adds the flags to fs; what names what the command writes, for
// the help of --message.
func (g *gitopsFlags) register(fs *pflag.FlagSet, what string) {
	fs.StringVar(&g.repo, "repo", "", "GitOps repository URL (https)")
	fs.StringVar(&g.branch, "branch", "main", "branch to commit to")
	fs.StringVar(&g.message, "message", "", "commit message (default names "+what+")")
	fs.StringVar(&g.authorName, "author-name", "argo-refs", "commit author name")
	fs.StringVar(&g.authorEmail, "author-email", "argo-refs@users.noreply.github.com", "commit author email")
	fs.StringVar(&g.passwordFile, "password-file", "", "file holding the Git password or token (else GIT_PASSWORD or GITHUB_TOKEN)")
	fs.StringVar(&g.signingKeyFile, "signing-key-file", "", "`FILE` holding a private key that signs the commit: ASCII-armored OpenPGP or OpenSSH, no passphrase (else "+envSigningKey+" holds the key itself; neither: unsigned)")
	fs.StringSliceVar(&g.insecureHosts, "insecure-http-hosts", nil, "`HOSTS` (host or host:port, comma-separated or repeated) allowed over plain http besides loopback")
	fs.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	fs.DurationVar(&g.timeout, "timeout", 2*time.Minute, "bound on the whole command")
	fs.StringVar(&g.treeFetch, "tree-fetch", "whole", "how the repository's trees are fetched: whole (every tree, one request) or paths (only the trees on the paths written, one request per level: for monorepos)")
}

// checkOutput refuses an --output other than text or json.
func (g *gitopsFlags) checkOutput() error {
	if g.output != "text" && g.output != "json" {
		return usageError("--output must be text or json, not %q", g.output)
	}
	return nil
}

// envSigningKey holds the signing key when --signing-key-file is not given.
const envSigningKey = "ARGO_REFS_SIGNING_KEY"

// signer reads the signing key from --signing-key-file or the environment;
// nil (a nil interface) when neither gives one. Errors never quote the key.
func (g *gitopsFlags) signer(getenv func(string) string) (gitrepo.Signer, error) {
	key := getenv(envSigningKey)
	from := envSigningKey
	if g.signingKeyFile != "" {
		data, err := os.ReadFile(g.signingKeyFile)
		if err != nil {
			return nil, usageError("reading --signing-key-file: %v", errors.Unwrap(err))
		}
		key, from = string(data), "--signing-key-file "+g.signingKeyFile
	}
	if strings.TrimSpace(key) == "" {
		if g.signingKeyFile != "" {
			return nil, usageError("%s is empty", from)
		}
		return nil, nil
	}
	s, err := commitsign.Parse(key)
	if err != nil {
		return nil, usageError("%s: %v", from, err)
	}
	return s, nil
}

// author is the commit's author and committer.
func (g *gitopsFlags) author() gitrepo.Signature {
	return gitrepo.Signature{Name: g.authorName, Email: g.authorEmail}
}

// open opens --repo with the credentials of the environment.
func (g *gitopsFlags) open(ctx context.Context, io stdio) (*gitrepo.Remote, error) {
	auth, err := gitAuthFromEnv(io.getenv, g.passwordFile)
	if err != nil {
		return nil, err
	}
	var trees gitrepo.TreeFetch
	switch g.treeFetch {
	case "whole":
		trees = gitrepo.TreesWhole
	case "paths":
		trees = gitrepo.TreesPaths
	default:
		return nil, usageError("--tree-fetch %q: expected whole or paths", g.treeFetch)
	}
	return gitrepo.Open(ctx, g.repo, gitrepo.Options{Auth: auth, AllowInsecureHTTP: plainHTTPListed(g.repo, g.insecureHosts), TreeFetch: trees})
}

// gitAuthFromEnv reads Git credentials from the environment
// (netpolicy.GitFromEnv, the rules the step uses) or, for the password,
// from a file; never from flags.
func gitAuthFromEnv(getenv func(string) string, passwordFile string) (*gitrepo.Auth, error) {
	if passwordFile != "" {
		data, err := os.ReadFile(passwordFile)
		if err != nil {
			return nil, usageError("reading --password-file: %v", errors.Unwrap(err))
		}
		pass := strings.TrimSpace(string(data))
		if pass == "" {
			return nil, usageError("--password-file %s is empty", passwordFile)
		}
		user := getenv(netpolicy.EnvGitUsername)
		if user == "" {
			user = netpolicy.GitHubTokenUser
		}
		return &gitrepo.Auth{Username: user, Password: pass}, nil
	}
	auth, err := netpolicy.GitFromEnv(getenv)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return auth, nil
}

// plainHTTPListed reports whether raw's host is one plain http may reach
// (netpolicy's rule: loopback, or listed).
func plainHTTPListed(raw string, hosts []string) bool {
	u, err := url.Parse(raw)
	return err == nil && netpolicy.PlainHTTPAllowed(u.Host, hosts)
}

// parseEventTime reads an RFC 3339 time given on the command line (default
// now), refusing one more than maxClockSkew ahead: a record from the future
// would keep current.yaml from ever moving again.
func parseEventTime(flag, value string) (time.Time, error) {
	if value == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return time.Time{}, usageError("--%s: want RFC 3339 such as 2026-03-22T10:10:09Z, found %q", flag, value)
	}
	if limit := time.Now().Add(maxClockSkew); t.After(limit) {
		return time.Time{}, usageError("--%s %s is in the future (more than %s ahead of this machine's clock); a record from the future would keep current.yaml from ever moving again", flag, value, maxClockSkew)
	}
	return t, nil
}
