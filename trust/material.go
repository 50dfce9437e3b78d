package trust

// What signatures are checked against: the trusted root (a file's
// contents, or the public-good instance's through TUF) and the public
// keys a policy names, and the sigstore-go verifier each signer needs.

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/argo-refs/argo-refs/trust/spec"
)

// errRootUnavailable means the public-good trusted root could not be
// fetched: nothing is known about the image yet.
var errRootUnavailable = errors.New("the public-good trusted root is unavailable")

// loadRoot reads the trusted root the request names.
func loadRoot(trustedRoot, cacheDir, mirror string) (root.TrustedMaterial, error) {
	if trustedRoot != spec.PublicGood {
		tr, err := root.NewTrustedRootFromJSON([]byte(trustedRoot))
		if err != nil {
			return nil, fmt.Errorf("reading the trusted root: %w", err)
		}
		return tr, nil
	}
	opts := tuf.DefaultOptions()
	if cacheDir == "" {
		cacheDir = filepath.Join(os.TempDir(), "argo-refs-sigstore")
	}
	opts.CachePath = cacheDir
	if mirror != "" {
		opts.RepositoryBaseURL = mirror
	}
	tr, err := root.FetchTrustedRootWithOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRootUnavailable, err)
	}
	return tr, nil
}

// signerCheck verifies signatures for one Signer.
type signerCheck struct {
	signer   spec.Signer
	verifier *verify.Verifier
	policy   verify.PolicyOption
	// identity is the keyless identity required; keyID the key's.
	identity *verify.CertificateIdentity
	keyID    string
}

// newSignerCheck builds the verifier for s on the trusted root tr (nil
// when s needs none).
func newSignerCheck(tr root.TrustedMaterial, s spec.Signer) (*signerCheck, error) {
	c := &signerCheck{signer: s}
	if s.PublicKey != "" {
		pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(s.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("reading publicKey: %w", err)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("reading publicKey: %w", err)
		}
		sum := sha256.Sum256(der)
		c.keyID = "sha256:" + hex.EncodeToString(sum[:])
		sv, err := signature.LoadDefaultVerifier(pub)
		if err != nil {
			return nil, fmt.Errorf("reading publicKey: %w", err)
		}
		key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
		keys := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
		var material root.TrustedMaterial = keys
		opts := []verify.VerifierOption{verify.WithNoObserverTimestamps()}
		if !s.IgnoreTransparencyLog {
			material = root.TrustedMaterialCollection{tr, keys}
			opts = []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
		}
		v, err := verify.NewVerifier(material, append(opts, verify.WithoutStatementPredicate())...)
		if err != nil {
			return nil, fmt.Errorf("setting up the verifier: %w", err)
		}
		c.verifier, c.policy = v, verify.WithKey()
		return c, nil
	}
	id, err := verify.NewShortCertificateIdentity(s.Issuer, s.IssuerRegExp, s.Identity, s.IdentityRegExp)
	if err != nil {
		return nil, fmt.Errorf("reading the identity: %w", err)
	}
	c.identity = &id
	opts := []verify.VerifierOption{verify.WithObserverTimestamps(1), verify.WithoutStatementPredicate()}
	if len(tr.RekorLogs()) > 0 {
		opts = append(opts, verify.WithTransparencyLog(1))
	}
	if len(tr.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	v, err := verify.NewVerifier(tr, opts...)
	if err != nil {
		return nil, fmt.Errorf("setting up the verifier: %w", err)
	}
	c.verifier, c.policy = v, verify.WithoutIdentitiesUnsafe()
	return c, nil
}

// required describes what the signer requires, for messages.
func (c *signerCheck) required() string {
	s := c.signer
	if s.PublicKey != "" {
		return "the key " + c.keyID
	}
	id, iss := fmt.Sprintf("%q", s.Identity), fmt.Sprintf("%q", s.Issuer)
	if s.IdentityRegExp != "" {
		id = fmt.Sprintf("an identity matching %q", s.IdentityRegExp)
	}
	if s.IssuerRegExp != "" {
		iss = fmt.Sprintf("an issuer matching %q", s.IssuerRegExp)
	}
	return id + " (issuer " + iss + ")"
}
