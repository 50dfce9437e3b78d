package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/signtest"
)

// TestPublishSignsAndTrailsItsCommit: publish --signing-key-file signs the
// commit (git verify-commit agrees) and the commit carries Source-Commit
// and Image trailers (git interpret-trailers reads them); the key itself
// shows nowhere.
func TestPublishSignsAndTrailsItsCommit(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  signtest.Key
		how  func(p *publishEnv, key string) []string
	}{
		{"openpgp from a file", signtest.OpenPGP(t, "CI", "ci@example.com"), func(p *publishEnv, key string) []string {
			file := filepath.Join(t.TempDir(), "key.asc")
			if err := os.WriteFile(file, []byte(key), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"--signing-key-file", file}
		}},
		{"ssh from the environment", signtest.SSH(t, "ci@example.com"), func(p *publishEnv, key string) []string {
			p.env[envSigningKey] = key
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPublishEnv(t)
			code, out, errOut := p.run(t, p.args(append(tc.how(p, tc.key.Private), "--image-digest", p.dgst, "--author-email", tc.key.Email)...))
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			commit := gittest.Git(t, p.bare, "rev-parse", "main")
			if v, err := signtest.VerifyCommit(t, p.bare, commit, tc.key); err != nil {
				t.Errorf("git verify-commit: %v\n%s", err, v)
			}
			cmd := exec.Command("git", "interpret-trailers", "--parse")
			cmd.Stdin = strings.NewReader(gittest.Git(t, p.bare, "log", "-1", "--format=%B", commit))
			trailers, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			want := "Source-Commit: " + p.sha + "\nImage: " + p.ref + "@" + p.dgst + "\n"
			if string(trailers) != want {
				t.Errorf("trailers:\n%s\nwant:\n%s", trailers, want)
			}
			keyLine := strings.Split(strings.TrimSpace(tc.key.Private), "\n")[2]
			if strings.Contains(out+errOut, keyLine) {
				t.Error("the key shows in the output")
			}
		})
	}
}

// TestPublishRefusesABadSigningKey: a key that cannot sign is a usage
// error before anything is pushed, and the error does not quote it.
func TestPublishRefusesABadSigningKey(t *testing.T) {
	p := newPublishEnv(t)
	tip := gittest.Git(t, p.bare, "rev-parse", "main")
	p.env[envSigningKey] = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nsecretish-line-that-must-not-show\n-----END PGP PUBLIC KEY BLOCK-----\n"
	code, _, errOut := p.run(t, p.args("--image-digest", p.dgst))
	if code != exitUsage || !strings.Contains(errOut, envSigningKey) || strings.Contains(errOut, "secretish") {
		t.Errorf("exit %d, stderr %q; want a usage error naming %s without the key", code, errOut, envSigningKey)
	}
	if gittest.Git(t, p.bare, "rev-parse", "main") != tip {
		t.Error("pushed with a bad key")
	}
}
