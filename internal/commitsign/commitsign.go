package commitsign

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// Format names a signature format as git's gpg.format does.
type Format string

// The formats.
const (
	OpenPGP Format = "openpgp"
	SSH     Format = "ssh"
)

// maxKeySize bounds the key text accepted (an armored RSA-4096 key with
// subkeys is under 16 KiB).
const maxKeySize = 64 << 10

// ErrInvalidKey wraps every problem with a signing key. The error never
// contains the key.
var ErrInvalidKey = errors.New("invalid signing key")

// Signer signs commit payloads. It is safe for concurrent use.
type Signer struct {
	format Format
	pgp    *openpgp.Entity
	ssh    ssh.Signer
	id     string // key ID or SSH fingerprint, for messages
}

// Parse reads a signing key: an ASCII-armored OpenPGP private key (as
// Kargo's author.signingKey holds it, e.g. gpg --export-secret-keys
// --armor) or an OpenSSH private key. The key must not be protected by a
// passphrase.
func Parse(key string) (*Signer, error) {
	k := strings.TrimSpace(key)
	switch {
	case len(k) > maxKeySize:
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, maxKeySize)
	case strings.HasPrefix(k, "-----BEGIN PGP PRIVATE KEY BLOCK-----"):
		return parsePGP(k)
	case strings.HasPrefix(k, "-----BEGIN OPENSSH PRIVATE KEY-----"):
		return parseSSH(k)
	case strings.HasPrefix(k, "-----BEGIN PGP PUBLIC KEY BLOCK-----"), strings.HasPrefix(k, "ssh-"):
		return nil, fmt.Errorf("%w: this is a public key; give the private key", ErrInvalidKey)
	}
	return nil, fmt.Errorf("%w: want an ASCII-armored OpenPGP private key (-----BEGIN PGP PRIVATE KEY BLOCK-----) or an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----)", ErrInvalidKey)
}

func parsePGP(k string) (*Signer, error) {
	ring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(k))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the OpenPGP key: %s", ErrInvalidKey, scrub(err))
	}
	for _, e := range ring {
		if e.PrivateKey == nil {
			continue
		}
		if e.PrivateKey.Encrypted {
			return nil, fmt.Errorf("%w: the OpenPGP key %s is protected by a passphrase; export it without one", ErrInvalidKey, e.PrimaryKey.KeyIdString())
		}
		if _, ok := e.SigningKey(packetTime()); !ok {
			continue
		}
		return &Signer{format: OpenPGP, pgp: e, id: e.PrimaryKey.KeyIdString()}, nil
	}
	return nil, fmt.Errorf("%w: the OpenPGP key ring holds no private key that can sign", ErrInvalidKey)
}

func parseSSH(k string) (*Signer, error) {
	s, err := ssh.ParsePrivateKey([]byte(k))
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, fmt.Errorf("%w: the SSH key is protected by a passphrase; give one without", ErrInvalidKey)
	case err != nil:
		return nil, fmt.Errorf("%w: reading the SSH key: %s", ErrInvalidKey, scrub(err))
	}
	return &Signer{format: SSH, ssh: s, id: ssh.FingerprintSHA256(s.PublicKey())}, nil
}

// GPGFormat is the signature format, as git's gpg.format names it.
func (s *Signer) GPGFormat() Format { return s.format }

// KeyID is the OpenPGP key ID or the SSH key's SHA256 fingerprint.
func (s *Signer) KeyID() string { return s.id }

// Sign returns the armored signature of payload, the commit encoded
// without its signature, for the commit's gpgsig header.
func (s *Signer) Sign(payload []byte) (string, error) {
	switch s.format {
	case OpenPGP:
		var b bytes.Buffer
		if err := openpgp.ArmoredDetachSign(&b, s.pgp, bytes.NewReader(payload), &packet.Config{Rand: rand.Reader}); err != nil {
			return "", fmt.Errorf("signing with OpenPGP key %s: %s", s.id, scrub(err))
		}
		return b.String(), nil
	case SSH:
		sig, err := sshsig.Sign(bytes.NewReader(payload), s.ssh, sshsig.HashSHA512, "git")
		if err != nil {
			return "", fmt.Errorf("signing with SSH key %s: %s", s.id, scrub(err))
		}
		return string(sshsig.Armor(sig)), nil
	}
	return "", fmt.Errorf("signing: no key")
}

// scrub keeps only an error's text, so that nothing a library attached
// (a key, a buffer) travels with it.
func scrub(err error) string { return err.Error() }

// packetTime is the time keys are checked at (expiry, revocation).
func packetTime() time.Time { return time.Now() }

// String names the format and key ID, never the key.
func (s *Signer) String() string {
	if s == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s key %s", s.format, s.id)
}

// GoString is String: a Signer never prints its key.
func (s *Signer) GoString() string { return "commitsign.Signer{" + s.String() + "}" }

// Format makes every fmt verb print String.
func (s *Signer) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(s.String()))
}

// MarshalJSON encodes String.
func (s *Signer) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue makes slog print String.
func (s *Signer) LogValue() slog.Value { return slog.StringValue(s.String()) }
