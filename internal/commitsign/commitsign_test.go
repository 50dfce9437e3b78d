package commitsign_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/argo-refs/argo-refs/internal/commitsign"
	"github.com/argo-refs/argo-refs/internal/signtest"
)

func TestParse(t *testing.T) {
	pgp := signtest.OpenPGP(t, "a", "a@example.com")
	sshKey := signtest.SSH(t, "a@example.com")
	for _, tc := range []struct {
		key    string
		format commitsign.Format
	}{{pgp.Private, commitsign.OpenPGP}, {"\n  " + sshKey.Private, commitsign.SSH}} {
		s, err := commitsign.Parse(tc.key)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if s.GPGFormat() != tc.format || s.KeyID() == "" {
			t.Errorf("format %q id %q, want %q", s.GPGFormat(), s.KeyID(), tc.format)
		}
		sig, err := s.Sign([]byte("tree x\n\nmessage\n"))
		if err != nil || !strings.HasPrefix(sig, "-----BEGIN") {
			t.Errorf("Sign = %q, %v", sig, err)
		}
	}

	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pass"))
	if err != nil {
		t.Fatal(err)
	}
	locked := string(pem.EncodeToMemory(block))
	// A key damaged in its middle: the error must not quote it.
	lines := strings.Split(pgp.Private, "\n")
	lines[len(lines)/2] = strings.Repeat("A", len(lines[len(lines)/2]))
	damaged := strings.Join(lines, "\n")
	for _, tc := range []struct{ name, key, want string }{
		{"empty", "", "want an ASCII-armored OpenPGP private key"},
		{"a password", "hunter2", "want an ASCII-armored OpenPGP private key"},
		{"an SSH public key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB a@b", "this is a public key"},
		{"an SSH key with a passphrase", locked, "protected by a passphrase"},
		{"a damaged OpenPGP key", damaged, "reading the OpenPGP key"},
		{"too long", strings.Repeat("x", 70<<10), "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := commitsign.Parse(tc.key)
			if !errors.Is(err, commitsign.ErrInvalidKey) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidKey saying %q", err, tc.want)
			}
			for _, l := range strings.Split(tc.key, "\n") {
				if len(l) > 16 && strings.Contains(err.Error(), l) {
					t.Errorf("the error quotes the key: %v", err)
				}
			}
		})
	}
}

// TestSignerNeverPrintsItsKey: a Signer rendered every way a program might
// shows the format and key ID, never key material.
func TestSignerNeverPrintsItsKey(t *testing.T) {
	for _, k := range []signtest.Key{signtest.OpenPGP(t, "a", "a@example.com"), signtest.SSH(t, "a@example.com")} {
		s, err := commitsign.Parse(k.Private)
		if err != nil {
			t.Fatal(err)
		}
		var outs []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
			outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, struct{ S *commitsign.Signer }{s}))
		}
		b, _ := json.Marshal(struct{ S *commitsign.Signer }{s})
		var logged bytes.Buffer
		slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "s", s)
		outs = append(outs, string(b), logged.String())
		for _, o := range outs {
			if !strings.Contains(o, s.KeyID()) || len(o) > 200 {
				t.Errorf("rendered as %q: want only the format and key ID", o)
			}
		}
	}
}
