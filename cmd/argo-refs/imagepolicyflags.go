package main

// The image policy as flags, named as cosign verify names them, for CI:
// verify --certificate-identity ... requires what a Stage's imagePolicy
// would, and publish refuses to record an image that does not meet it.

import (
	"encoding/json"
	"os"

	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/trust/spec"
)

type imagePolicyFlags struct {
	trustedRoot              string
	identity, identityRegExp string
	issuer, issuerRegExp     string
	keyFile                  string
	ignoreTlog               bool
	builders                 []string
}

func (f *imagePolicyFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.identity, "certificate-identity", "", "require a keyless signature of the image by this identity (the certificate's subject alternative name), e.g. https://github.com/ORG/REPO/.github/workflows/publish.yml@refs/heads/main")
	fs.StringVar(&f.identityRegExp, "certificate-identity-regexp", "", "require a keyless signature by an identity matching this Go regular expression")
	fs.StringVar(&f.issuer, "certificate-oidc-issuer", "", "the identity's OIDC issuer, e.g. https://token.actions.githubusercontent.com")
	fs.StringVar(&f.issuerRegExp, "certificate-oidc-issuer-regexp", "", "an OIDC issuer matching this Go regular expression")
	fs.StringVar(&f.keyFile, "key", "", "require a signature by this public key `FILE` (cosign.pub) instead of a keyless identity")
	fs.BoolVar(&f.ignoreTlog, "insecure-ignore-tlog", false, "with --key: accept a signature that is in no transparency log")
	fs.StringArrayVar(&f.builders, "provenance-builder", nil, "require build provenance of the image, signed by the same signer, from the record's source commit, by this builder ID (repeatable: any of them)")
	fs.StringVar(&f.trustedRoot, "trusted-root", "", "Sigstore trusted_root.json `FILE` (default: the public-good instance's, through its TUF repository)")
}

// set reports whether any policy flag was given.
func (f *imagePolicyFlags) set() bool {
	return f.identity != "" || f.identityRegExp != "" || f.issuer != "" || f.issuerRegExp != "" || f.keyFile != "" ||
		f.ignoreTlog || len(f.builders) > 0 || f.trustedRoot != ""
}

// config is the imagePolicy the flags ask for.
func (f *imagePolicyFlags) config() (*step.ImagePolicy, error) {
	if !f.set() {
		return nil, nil
	}
	s := spec.Signer{Identity: f.identity, IdentityRegExp: f.identityRegExp, Issuer: f.issuer, IssuerRegExp: f.issuerRegExp, IgnoreTransparencyLog: f.ignoreTlog}
	if f.keyFile != "" {
		b, err := os.ReadFile(f.keyFile)
		if err != nil {
			return nil, usageError("--key: %w", err)
		}
		s.PublicKey = string(b)
	}
	p := &step.ImagePolicy{TrustedRootFile: f.trustedRoot, Signature: &s}
	if len(f.builders) > 0 {
		p.Provenance = &step.ImageProvenance{Builders: f.builders}
	}
	if _, err := p.Policy(); err != nil {
		return nil, usageError("image policy flags: %w", err)
	}
	return p, nil
}

// withImagePolicy returns the step config with its imagePolicy replaced
// by the flags', when they give one.
func (f *imagePolicyFlags) withImagePolicy(config []byte) ([]byte, error) {
	p, err := f.config()
	if err != nil || p == nil {
		return config, err
	}
	var m map[string]any
	if err := json.Unmarshal(config, &m); err != nil {
		return nil, usageError("reading the config: %w", err)
	}
	m["imagePolicy"] = p
	return json.Marshal(m)
}
