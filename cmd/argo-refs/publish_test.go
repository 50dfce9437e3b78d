package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/internal/regtest"
)

const publishSecret = leaktest.Secret

type publishEnv struct {
	git  *gittest.Server
	reg  *regtest.Registry
	repo string
	bare string
	sha  string
	ref  string
	dgst string
	env  map[string]string
}

func newPublishEnv(t *testing.T) *publishEnv {
	t.Helper()
	p := &publishEnv{
		git: gittest.New(t, gittest.WithBasicAuth("ci", publishSecret)),
		reg: regtest.New(t, regtest.WithCredentials("ci", publishSecret)),
		sha: strings.Repeat("5e", 20),
	}
	p.repo = p.git.CreateRepo(t, "gitops.git")
	p.bare = p.git.Dir("gitops.git")
	gittest.CommitFiles(t, p.bare, "main", map[string]string{"README.md": "x\n"}, "init")
	p.ref = p.reg.Ref("org/app:git-" + p.sha)
	p.dgst = p.reg.PushImage(t, "org/app:git-"+p.sha, nil)
	p.env = map[string]string{
		"GIT_USERNAME": "ci", "GIT_PASSWORD": publishSecret,
		"ARGO_REFS_REGISTRY_USERNAME": "ci", "ARGO_REFS_REGISTRY_PASSWORD": publishSecret,
	}
	return p
}

func (p *publishEnv) args(extra ...string) []string {
	return append([]string{"publish", "--repo", p.repo, "--dir", "warehouses/app/builds", "--git-commit", p.sha,
		"--image-ref", p.ref, "--source-repo", "https://github.com/org/app.git", "--created-at", "2026-03-22T10:10:09Z"}, extra...)
}

func (p *publishEnv) run(t *testing.T, args []string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, stdio{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
		getenv: func(k string) string { return p.env[k] }})
	for _, s := range []string{out.String(), errOut.String(), gittest.Git(t, p.bare, "log", "--format=%B", "main")} {
		if form := leaktest.Find(s, "ci", publishSecret); form != "" {
			t.Fatalf("the credential leaked (as %q): %s", form, s)
		}
	}
	return code, out.String(), errOut.String()
}

func TestPublishChecksTheRegistryAndPushes(t *testing.T) {
	p := newPublishEnv(t)
	code, out, errOut := p.run(t, p.args("--image-digest", p.dgst, "--output", "json"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct{ Outcome, Commit, ImageDigest, Registry string }
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json output %q: %v", out, err)
	}
	if res.Outcome != "published" || res.Commit != gittest.Git(t, p.bare, "rev-parse", "main") || !strings.HasPrefix(res.Registry, "verified") {
		t.Fatalf("result %+v", res)
	}
	code, out, _ = p.run(t, p.args("--image-digest", p.dgst))
	if code != exitOK || !strings.Contains(out, "already published") {
		t.Fatalf("re-publish: exit %d, %q", code, out)
	}
}

// TestPublishByPath: --tree-fetch paths publishes the same record, and
// re-publishing is "already published", reading only the trees on the
// build-lock directory's path.
func TestPublishByPath(t *testing.T) {
	p := newPublishEnv(t)
	if code, _, errOut := p.run(t, p.args("--image-digest", p.dgst, "--tree-fetch", "paths")); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if cur := gittest.Git(t, p.bare, "show", "main:warehouses/app/builds/current.yaml"); !strings.Contains(cur, "digest: "+p.dgst) {
		t.Fatalf("current.yaml:\n%s", cur)
	}
	code, out, _ := p.run(t, p.args("--image-digest", p.dgst, "--tree-fetch", "paths"))
	if code != exitOK || !strings.Contains(out, "already published") {
		t.Fatalf("re-publish: exit %d, %q", code, out)
	}
	if code, _, errOut := p.run(t, p.args("--image-digest", p.dgst, "--tree-fetch", "some")); code != exitUsage || !strings.Contains(errOut, "--tree-fetch") {
		t.Fatalf("a bad --tree-fetch: exit %d, %q", code, errOut)
	}
}

func TestPublishRecordsTheRegistryDigestWhenNoneIsGiven(t *testing.T) {
	p := newPublishEnv(t)
	if code, _, errOut := p.run(t, p.args()); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	cur := gittest.Git(t, p.bare, "show", "main:warehouses/app/builds/current.yaml")
	if !strings.Contains(cur, "digest: "+p.dgst) {
		t.Fatalf("current.yaml does not hold the registry's digest:\n%s", cur)
	}
}

func TestPublishRefusesADigestTheTagDoesNotHave(t *testing.T) {
	p := newPublishEnv(t)
	tip := gittest.Git(t, p.bare, "rev-parse", "main")
	wrong := "sha256:" + strings.Repeat("0", 64)
	code, _, errOut := p.run(t, p.args("--image-digest", wrong))
	if code != exitFailed || !strings.Contains(errOut, wrong) || !strings.Contains(errOut, p.dgst) {
		t.Fatalf("exit %d, stderr %q: want exit 1 naming both digests", code, errOut)
	}
	if gittest.Git(t, p.bare, "rev-parse", "main") != tip {
		t.Fatal("a refused publish pushed")
	}
}

func TestPublishSkipRegistryCheckSaysSo(t *testing.T) {
	p := newPublishEnv(t)
	code, out, errOut := p.run(t, p.args("--image-digest", "sha256:"+strings.Repeat("1", 64), "--skip-registry-check"))
	if code != exitOK || !strings.Contains(out, "NOT checked against the registry") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestPublishWrongGitPasswordFails(t *testing.T) {
	p := newPublishEnv(t)
	p.env["GIT_PASSWORD"] = publishSecret + "x"
	code, _, errOut := p.run(t, p.args("--image-digest", p.dgst))
	if code != exitFailed || !strings.Contains(errOut, "authentication failed") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestPublishLocalOutputDir(t *testing.T) {
	p := newPublishEnv(t)
	out := filepath.Join(t.TempDir(), "builds")
	code, stdout, errOut := p.run(t, []string{"publish", "--output-dir", out, "--git-commit", p.sha, "--image-ref", p.ref,
		"--image-digest", p.dgst, "--source-repo", "https://github.com/org/app.git", "--skip-registry-check"})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(out, "git-"+p.sha+".yaml")); err != nil || !strings.Contains(stdout, "published git-"+p.sha) {
		t.Fatalf("stdout %q, stat %v", stdout, err)
	}
}

func TestPublishMalformedInputs(t *testing.T) {
	p := newPublishEnv(t)
	good := map[string]string{
		"--git-commit": p.sha, "--image-ref": "ghcr.io/org/app:git-" + p.sha,
		"--image-digest": "sha256:" + strings.Repeat("a", 64), "--packaging-kind": "helm",
		"--created-at": "2026-03-22T10:10:09Z", "--source-repo": "https://github.com/org/app.git",
	}
	tests := []struct {
		name, flag, value, want string
	}{
		{"short sha", "--git-commit", "5e5e5e5", "gitCommit"},
		{"upper-case sha", "--git-commit", strings.ToUpper(p.sha), "gitCommit"},
		{"tag is not the release", "--image-ref", "ghcr.io/org/app:latest", "image.ref"},
		{"digest not sha256", "--image-digest", "md5:abc", "image.digest"},
		{"short digest", "--image-digest", "sha256:abc", "image.digest"},
		{"unknown packaging", "--packaging-kind", "jsonnet", "packaging.kind"},
		{"bad time", "--created-at", "yesterday", "--created-at"},
		{"no source repo", "--source-repo", "", "packaging.sourceRepo"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"publish", "--output-dir", t.TempDir(), "--skip-registry-check"}
			for k, v := range good {
				if k == tt.flag {
					v = tt.value
				}
				args = append(args, k+"="+v)
			}
			code, _, errOut := p.run(t, args)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q: want exit 2 naming %s", code, errOut, tt.want)
			}
			line := strings.SplitN(errOut, "\n", 2)[0]
			if prev, dup := seen[line]; dup {
				t.Fatalf("same message as %q: %s", prev, line)
			}
			seen[line] = tt.name
		})
	}
	if code, _, errOut := p.run(t, []string{"publish", "--git-commit", p.sha}); code != exitUsage || !strings.Contains(errOut, "--repo") {
		t.Fatalf("no destination: exit %d, %q", code, errOut)
	}
}

// TestPublishRefusesATagThatMovedEvenWhenNothingIsPushed: the registry is
// asked while the GitOps repository is read, and its answer counts even for
// a re-publish that would change nothing.
func TestPublishRefusesATagThatMovedEvenWhenNothingIsPushed(t *testing.T) {
	p := newPublishEnv(t)
	if code, _, errOut := p.run(t, p.args("--image-digest", p.dgst)); code != exitOK {
		t.Fatalf("first publish: exit %d: %s", code, errOut)
	}
	tip := gittest.Git(t, p.bare, "rev-parse", "main")
	moved := p.reg.PushImage(t, "org/app:git-"+p.sha, map[string]string{"rebuilt": "yes"})
	code, out, errOut := p.run(t, p.args("--image-digest", p.dgst))
	if code != exitFailed || !strings.Contains(errOut, moved) || strings.Contains(out, "already published") {
		t.Fatalf("re-publish after the tag moved: exit %d, stdout %q, stderr %q; want exit 1 naming %s", code, out, errOut, moved)
	}
	if gittest.Git(t, p.bare, "rev-parse", "main") != tip {
		t.Fatal("the refused re-publish pushed")
	}
}

// TestPublishRefusedPushIsNotTransient: a push the server refuses for good
// (here a pack it will not unpack, over receive.maxInputSize) exits 1 with
// the server's words, not 3, so CI does not retry it for ever.
func TestPublishRefusedPushIsNotTransient(t *testing.T) {
	p := newPublishEnv(t)
	gittest.Git(t, p.bare, "config", "receive.maxInputSize", "16")
	before := gittest.Git(t, p.bare, "rev-parse", "main")
	code, _, errOut := p.run(t, p.args("--image-digest", p.dgst))
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailed, errOut)
	}
	if !strings.Contains(errOut, "pack exceeds maximum allowed size") {
		t.Errorf("stderr does not carry the server's words:\n%s", errOut)
	}
	if gittest.Git(t, p.bare, "rev-parse", "main") != before {
		t.Error("main moved")
	}
}

// TestPublishRepoURLWithAPasswordIsNotPrinted: a password in --repo with
// '/', '?', '#' and '@' in it (which ended the host part of the old
// redaction early) appears on no output; the run fails before any push.
func TestPublishRepoURLWithAPasswordIsNotPrinted(t *testing.T) {
	p := newPublishEnv(t)
	before := gittest.Git(t, p.bare, "rev-parse", "main")
	for _, repo := range []string{
		strings.Replace(p.repo, "http://", "http://ci:"+publishSecret+"@", 1),
		strings.Replace(p.repo, "http://", "http://"+publishSecret+"@", 1),
	} {
		args := p.args("--image-digest", p.dgst)
		for i, a := range args {
			if a == p.repo {
				args[i] = repo
			}
		}
		code, out, errOut := p.run(t, args) // p.run fails the test on any form of the secret
		if code != exitUsage {
			t.Errorf("publish with a password in --repo: exit %d, want %d (bad input): %s", code, exitUsage, out)
		}
		if !strings.Contains(errOut, "REDACTED") {
			t.Errorf("stderr does not show the redacted URL:\n%s", errOut)
		}
	}
	if gittest.Git(t, p.bare, "rev-parse", "main") != before {
		t.Error("main moved")
	}
}

// TestPublishDirectoryWhereTheRecordGoesIsNotTransient: a directory at
// current.yaml's path cannot become a file by retrying: exit 1, not 3.
func TestPublishDirectoryWhereTheRecordGoesIsNotTransient(t *testing.T) {
	p := newPublishEnv(t)
	gittest.CommitFiles(t, p.bare, "main", map[string]string{"warehouses/app/builds/current.yaml/x": "x\n"}, "a directory")
	code, _, errOut := p.run(t, p.args("--image-digest", p.dgst))
	if code != exitFailed || !strings.Contains(errOut, "not a regular file") {
		t.Fatalf("exit %d, want %d naming the directory:\n%s", code, exitFailed, errOut)
	}
}

// TestPublishRefusesAFutureRecordAndBadDirs: a createdAt far in the future
// would keep current.yaml from ever moving again; --dir follows the step
// config's path rule. Both are bad input (exit 2), before any request.
func TestPublishRefusesAFutureRecordAndBadDirs(t *testing.T) {
	p := newPublishEnv(t)
	before := gittest.Git(t, p.bare, "rev-parse", "main")
	p.git.ResetStats()
	for name, tc := range map[string]struct {
		args    []string
		mention string
	}{
		"createdAt in 2999":  {[]string{"--created-at", "2999-01-01T00:00:00Z"}, "in the future"},
		"backslash in --dir": {[]string{"--dir", `warehouses\x`}, "--dir"},
		"dot-dot in --dir":   {[]string{"--dir", "warehouses/..x/../.."}, "--dir"},
		"absolute --dir":     {[]string{"--dir", "/etc"}, "--dir"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := p.run(t, p.args(append([]string{"--image-digest", p.dgst}, tc.args...)...))
			if code != exitUsage || !strings.Contains(errOut, tc.mention) {
				t.Errorf("exit %d, want %d mentioning %q:\n%s", code, exitUsage, tc.mention, errOut)
			}
		})
	}
	// A clock a little behind is fine.
	soon := time.Now().UTC().Add(time.Minute).Format(time.RFC3339)
	if code, _, errOut := p.run(t, p.args("--image-digest", p.dgst, "--created-at", soon)); code != exitOK {
		t.Errorf("createdAt a minute ahead: exit %d:\n%s", code, errOut)
	}
	if n := gittest.Git(t, p.bare, "rev-list", "--count", before+"..main"); n != "1" {
		t.Errorf("%s commits, want the one good publish", n)
	}
}

// publish reads Git credentials with the step's rules (netpolicy.GitFromEnv):
// a user name without a password is a usage error, not a silent fallback to
// GITHUB_TOKEN, and nothing is pushed.
func TestPublishRefusesAUserNameWithoutPassword(t *testing.T) {
	p := newPublishEnv(t)
	before := gittest.Git(t, p.bare, "rev-parse", "main")
	delete(p.env, "GIT_PASSWORD")
	p.env["GITHUB_TOKEN"] = publishSecret
	code, _, errOut := p.run(t, p.args("--image-digest", p.dgst))
	if code != exitUsage || !strings.Contains(errOut, "GIT_USERNAME but no GIT_PASSWORD") {
		t.Fatalf("exit %d, stderr %q; want exit %d naming GIT_USERNAME and GIT_PASSWORD", code, errOut, exitUsage)
	}
	if after := gittest.Git(t, p.bare, "rev-parse", "main"); after != before {
		t.Fatalf("main moved from %s to %s", before, after)
	}
}
