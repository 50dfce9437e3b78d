// Package signtest makes signing keys for tests and checks commit
// signatures the way a Git host's users would: with git verify-commit,
// through gpg for OpenPGP keys and ssh-keygen for SSH keys.
package signtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"
)

// Key is a signing key and what a verifier needs of it.
type Key struct {
	// Private is the key as a config gives it: ASCII-armored OpenPGP or
	// OpenSSH PEM.
	Private string
	// Email is the identity the key is for.
	Email string

	public []byte // armored OpenPGP public key, or an authorized_keys line
	ssh    bool
}

// OpenPGP makes an Ed25519 OpenPGP key for name <email>, unprotected.
func OpenPGP(t testing.TB, name, email string) Key {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", email, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var priv, pub bytes.Buffer
	w, err := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, err = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return Key{Private: priv.String(), Email: email, public: pub.Bytes()}
}

// SSH makes an Ed25519 SSH key for email, unprotected.
func SSH(t testing.TB, email string) Key {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, email)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Private: string(pem.EncodeToMemory(block)), Email: email, public: ssh.MarshalAuthorizedKey(sp), ssh: true}
}

// VerifyCommit runs git verify-commit on commit in the repository at dir,
// trusting only k, and returns git's verdict (nil when good) and output.
func VerifyCommit(t testing.TB, dir, commit string, k Key) (string, error) {
	t.Helper()
	home := t.TempDir()
	args := []string{"-c", "gpg.program=gpg"}
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GNUPGHOME="+home, "HOME="+home)
	if k.ssh {
		signers := filepath.Join(home, "allowed_signers")
		line := k.Email + " " + strings.TrimSpace(string(k.public)) + "\n"
		if err := os.WriteFile(signers, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+signers)
	} else {
		imp := exec.Command("gpg", "--batch", "--import")
		imp.Env, imp.Stdin = env, bytes.NewReader(k.public)
		if out, err := imp.CombinedOutput(); err != nil {
			t.Fatalf("gpg --import: %v\n%s", err, out)
		}
	}
	cmd := exec.Command("git", append(args, "verify-commit", "-v", commit)...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Unsigned reports whether commit in the repository at dir carries no
// signature at all.
func Unsigned(t testing.TB, dir, commit string) bool {
	t.Helper()
	cmd := exec.Command("git", "cat-file", "commit", commit)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git cat-file commit %s: %v", commit, err)
	}
	header, _, _ := strings.Cut(string(out), "\n\n")
	return !strings.Contains(header, "\ngpgsig ")
}
