// Package spec is what argo-refs asks argo-refs-trust and what it answers:
// the recorded digest and what the record says it was built from, the
// policy a stage requires, and the signatures and attestations found in the
// registry; the answer names what was verified or the rule that failed. It
// has no dependencies, so that the step binary speaks it without linking
// sigstore-go.
package spec

// Version is the request format's version; argo-refs-trust refuses
// another.
const Version = 1

// PublicGood names the Sigstore public-good instance's trusted root,
// fetched and kept fresh through its TUF repository, as Request.TrustedRoot.
const PublicGood = "public-good"

// The predicate types argo-refs understands.
const (
	// PredicateCosignSign is what cosign (v2.4+ with the new bundle
	// format, v3 by default) signs for an image: an in-toto statement
	// whose subject is the image digest, with an empty predicate.
	PredicateCosignSign = "https://sigstore.dev/cosign/sign/v1"
	// PredicateSLSAv1 is SLSA build provenance v1, as GitHub's
	// attest-build-provenance and cosign attest --type slsaprovenance1
	// write it.
	PredicateSLSAv1 = "https://slsa.dev/provenance/v1"
	// PredicateSLSAv02 is SLSA build provenance v0.2.
	PredicateSLSAv02 = "https://slsa.dev/provenance/v0.2"
)

// Request asks whether the image Digest meets Policy, given what was found
// attached to it.
type Request struct {
	Version int `json:"version"`
	// Digest is the recorded digest, sha256:<64 hex>.
	Digest string `json:"digest"`
	// Image names the image in messages (the record's ref).
	Image string `json:"image"`
	// SourceRepo and GitCommit are the record's: provenance must name
	// them.
	SourceRepo string `json:"sourceRepo"`
	GitCommit  string `json:"gitCommit"`
	Policy     Policy `json:"policy"`
	// TrustedRoot is a Sigstore trusted_root.json, or PublicGood.
	TrustedRoot string `json:"trustedRoot"`
	// CacheDir holds the public-good TUF metadata between runs; empty
	// means the system's temporary directory.
	CacheDir string `json:"cacheDir,omitempty"`
	// Bundles are the Sigstore bundles found among the digest's
	// referrers.
	Bundles []Bundle `json:"bundles,omitempty"`
	// Legacy are the signatures found under the cosign signature tag
	// sha256-<hex>.sig.
	Legacy []LegacySignature `json:"legacy,omitempty"`
	// Looked says where argo-refs looked, for the message when nothing
	// was found, e.g. "referrers of ghcr.io/org/app".
	Looked []string `json:"looked,omitempty"`
}

// Policy is what a stage requires of the image. Nil sections are not
// checked; at least one is set.
type Policy struct {
	Signature  *Signer     `json:"signature,omitempty"`
	Provenance *Provenance `json:"provenance,omitempty"`
}

// Signer says who must have signed: a public key, or a keyless identity
// (the certificate's subject alternative name) and OIDC issuer, each exact
// or a regular expression.
type Signer struct {
	// PublicKey is a PEM public key (cosign.pub).
	PublicKey string `json:"publicKey,omitempty"`
	// IgnoreTransparencyLog accepts a key's signature that is in no
	// transparency log (cosign sign --tlog-upload=false). Keys only.
	IgnoreTransparencyLog bool `json:"ignoreTransparencyLog,omitempty"`

	Identity       string `json:"identity,omitempty"`
	IdentityRegExp string `json:"identityRegExp,omitempty"`
	Issuer         string `json:"issuer,omitempty"`
	IssuerRegExp   string `json:"issuerRegExp,omitempty"`
}

// Provenance says what a build provenance attestation for the digest must
// say: its signer, and a builder from an allowed list. Its source
// repository and commit must always be the record's.
type Provenance struct {
	// Signer signed the attestation.
	Signer Signer `json:"signer"`
	// Builders are the allowed builder IDs (exact).
	Builders []string `json:"builders"`
}

// Bundle is one Sigstore bundle (its JSON) and where it was found.
type Bundle struct {
	// Where is e.g. "referrer sha256:…".
	Where string `json:"where"`
	// JSON is the bundle as stored.
	JSON []byte `json:"json"`
}

// LegacySignature is one layer of a cosign signature manifest
// (sha256-<hex>.sig): the signed payload and the layer's annotations.
type LegacySignature struct {
	Where string `json:"where"`
	// Payload is the layer's content, a simple-signing JSON document
	// naming the digest it signs.
	Payload []byte `json:"payload"`
	// Signature is dev.cosignproject.cosign/signature (base64).
	Signature string `json:"signature"`
	// Certificate and Chain are dev.sigstore.cosign/certificate and
	// dev.sigstore.cosign/chain (PEM), for keyless signatures.
	Certificate string `json:"certificate,omitempty"`
	Chain       string `json:"chain,omitempty"`
	// RekorBundle is dev.sigstore.cosign/bundle: the transparency log's
	// signed entry timestamp and the entry.
	RekorBundle string `json:"rekorBundle,omitempty"`
	// RFC3161Timestamp is dev.sigstore.cosign/rfc3161timestamp.
	RFC3161Timestamp string `json:"rfc3161Timestamp,omitempty"`
}

// Response is the verdict: what was verified, or the first rule that
// failed.
type Response struct {
	Signature  *VerifiedSignature  `json:"signature,omitempty"`
	Provenance *VerifiedProvenance `json:"provenance,omitempty"`
	Failure    *Failure            `json:"failure,omitempty"`
}

// VerifiedSignature names the signature that met the policy.
type VerifiedSignature struct {
	// Identity and Issuer are the certificate's, for keyless signatures;
	// KeyID the key's SHA-256 fingerprint for key signatures.
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	KeyID    string `json:"keyID,omitempty"`
	// SourceCommit is the certificate's source repository digest
	// (Fulcio's extension), when it has one.
	SourceCommit string `json:"sourceCommit,omitempty"`
	// Where is where the signature was found.
	Where string `json:"where"`
}

// VerifiedProvenance names the provenance that met the policy.
type VerifiedProvenance struct {
	PredicateType string `json:"predicateType"`
	Builder       string `json:"builder"`
	SourceRepo    string `json:"sourceRepo"`
	GitCommit     string `json:"gitCommit"`
	// Identity and Issuer (or KeyID) signed the attestation.
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	KeyID    string `json:"keyID,omitempty"`
	Where    string `json:"where"`
}

// The rules a Failure names.
const (
	RuleSignature  = "signature"
	RuleProvenance = "provenance"
	// RulePolicy is a policy or trusted root that cannot be used.
	RulePolicy = "policy"
)

// Failure is why the image does not meet the policy.
type Failure struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Retryable is true when nothing was learnt about the image (the
	// public-good trusted root could not be fetched): a retry may pass.
	Retryable bool `json:"retryable,omitempty"`
}
