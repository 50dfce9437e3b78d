package spec

import (
	"fmt"
	"regexp"
)

// Problems lists what makes the policy unusable, each naming its field
// ("signature.issuer", "provenance.builders"); nil when it is usable.
func (p Policy) Problems() []string {
	var out []string
	if p.Signature == nil && p.Provenance == nil {
		out = append(out, "the policy requires neither a signature nor provenance")
	}
	if p.Signature != nil {
		out = append(out, p.Signature.problems("signature")...)
	}
	if p.Provenance != nil {
		out = append(out, p.Provenance.Signer.problems("provenance")...)
		if len(p.Provenance.Builders) == 0 {
			out = append(out, "provenance.builders is empty; name the builder IDs allowed")
		}
		for i, b := range p.Provenance.Builders {
			if b == "" {
				out = append(out, fmt.Sprintf("provenance.builders[%d] is empty", i))
			}
		}
	}
	return out
}

// NeedsTrustedRoot reports whether verifying the policy needs a trusted
// root: every keyless signer does, and a key whose signatures must be in
// the transparency log.
func (p Policy) NeedsTrustedRoot() bool {
	return (p.Signature != nil && p.Signature.needsRoot()) || (p.Provenance != nil && p.Provenance.Signer.needsRoot())
}

func (s Signer) needsRoot() bool { return s.PublicKey == "" || !s.IgnoreTransparencyLog }

// Keyless reports whether the signer names an identity or issuer.
func (s Signer) Keyless() bool {
	return s.Identity != "" || s.IdentityRegExp != "" || s.Issuer != "" || s.IssuerRegExp != ""
}

func (s Signer) problems(field string) []string {
	var out []string
	switch {
	case s.PublicKey != "" && s.Keyless():
		out = append(out, field+": publicKey and a keyless identity are exclusive")
	case s.PublicKey == "" && s.IgnoreTransparencyLog:
		out = append(out, field+": ignoreTransparencyLog applies to publicKey only; a keyless certificate needs the log's time")
	case s.PublicKey == "" && ((s.Identity == "") == (s.IdentityRegExp == "") || (s.Issuer == "") == (s.IssuerRegExp == "")):
		out = append(out, field+": a keyless signer needs exactly one of identity and identityRegExp, and exactly one of issuer and issuerRegExp (or publicKey instead)")
	}
	for name, re := range map[string]string{"identityRegExp": s.IdentityRegExp, "issuerRegExp": s.IssuerRegExp} {
		if re == "" {
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			out = append(out, fmt.Sprintf("%s.%s: %v", field, name, err))
		}
	}
	return out
}
