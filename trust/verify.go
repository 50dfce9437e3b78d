package trust

// The verdict: each candidate signature or attestation is verified with
// sigstore-go against the signer the policy requires, then bound to the
// recorded digest and, for provenance, to the record's source.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/argo-refs/argo-refs/trust/spec"
)

// Verify decides whether req.Digest meets req.Policy. It never returns an
// error: a request it cannot use is a Failure of RulePolicy.
func Verify(ctx context.Context, req spec.Request) spec.Response {
	return verifier{}.verify(ctx, req)
}

// verifier holds what tests may change.
type verifier struct {
	// mirror replaces the public-good TUF repository's URL.
	mirror string
}

func (v verifier) verify(ctx context.Context, req spec.Request) spec.Response {
	if f := checkRequest(req); f != nil {
		return spec.Response{Failure: f}
	}
	var tr root.TrustedMaterial
	if req.Policy.NeedsTrustedRoot() {
		var err error
		if tr, err = loadRoot(req.TrustedRoot, req.CacheDir, v.mirror); err != nil {
			return spec.Response{Failure: &spec.Failure{Rule: spec.RulePolicy, Message: err.Error(), Retryable: errors.Is(err, errRootUnavailable)}}
		}
	}
	if err := ctx.Err(); err != nil {
		return spec.Response{Failure: &spec.Failure{Rule: spec.RulePolicy, Message: err.Error(), Retryable: true}}
	}
	cands := candidates(req)
	var res spec.Response
	if p := req.Policy.Signature; p != nil {
		sc, err := newSignerCheck(tr, *p)
		if err != nil {
			return spec.Response{Failure: &spec.Failure{Rule: spec.RulePolicy, Message: "signature: " + err.Error()}}
		}
		vs, f := checkSignature(req, sc, cands)
		if f != nil {
			return spec.Response{Failure: f}
		}
		res.Signature = vs
	}
	if p := req.Policy.Provenance; p != nil {
		sc, err := newSignerCheck(tr, p.Signer)
		if err != nil {
			return spec.Response{Failure: &spec.Failure{Rule: spec.RulePolicy, Message: "provenance: " + err.Error()}}
		}
		vp, f := checkProvenance(req, sc, cands)
		if f != nil {
			return spec.Response{Failure: f}
		}
		res.Provenance = vp
	}
	return res
}

// checkRequest refuses a request that cannot be verified as asked.
func checkRequest(req spec.Request) *spec.Failure {
	bad := func(format string, args ...any) *spec.Failure {
		return &spec.Failure{Rule: spec.RulePolicy, Message: fmt.Sprintf(format, args...)}
	}
	if req.Version != spec.Version {
		return bad("request version %d, argo-refs-trust speaks %d", req.Version, spec.Version)
	}
	if _, ok := digestBytes(req.Digest); !ok {
		return bad("digest %q: want sha256:<64 hex>", req.Digest)
	}
	if problems := req.Policy.Problems(); len(problems) > 0 {
		return bad("%s", strings.Join(problems, "; "))
	}
	if req.Policy.NeedsTrustedRoot() && req.TrustedRoot == "" {
		return bad("no trusted root: give a trusted_root.json or %q", spec.PublicGood)
	}
	return nil
}

func digestBytes(d string) ([]byte, bool) {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 || strings.ToLower(h) != h {
		return nil, false
	}
	b, err := hex.DecodeString(h)
	return b, err == nil
}

// candidate is one signature or attestation found for the image, parsed
// but not yet verified.
type candidate struct {
	where  string
	bundle *bundle.Bundle
	// err says why the candidate cannot be verified at all.
	err error
	// stmt is the DSSE payload's statement (unverified until verify);
	// legacyPayload the signed simple-signing document of a cosign
	// signature tag.
	stmt          *statement
	legacy        bool
	legacyPayload []byte
	message       bool
}

// kind says what a candidate can prove.
func (c candidate) isSignature() bool {
	return c.legacy || c.message || (c.stmt != nil && c.stmt.PredicateType == spec.PredicateCosignSign)
}

func (c candidate) isProvenance() bool {
	return c.stmt != nil && (c.stmt.PredicateType == spec.PredicateSLSAv1 || c.stmt.PredicateType == spec.PredicateSLSAv02)
}

func candidates(req spec.Request) []candidate {
	var out []candidate
	for _, b := range req.Bundles {
		c := candidate{where: b.Where, bundle: &bundle.Bundle{}}
		if err := c.bundle.UnmarshalJSON(b.JSON); err != nil {
			c.err = fmt.Errorf("not a valid Sigstore bundle: %w", err)
			out = append(out, c)
			continue
		}
		if env, err := c.bundle.Envelope(); err == nil {
			payload, err := env.RawEnvelope().DecodeB64Payload()
			var s statement
			if err == nil {
				s, err = parseStatement(payload)
			}
			if err != nil {
				c.err = err
			} else {
				c.stmt = &s
			}
		} else {
			c.message = true
		}
		out = append(out, c)
	}
	for _, l := range req.Legacy {
		c := candidate{where: l.Where, legacy: true, legacyPayload: l.Payload}
		c.bundle, c.err = legacyBundle(l)
		out = append(out, c)
	}
	return out
}

// verified is what verifying a candidate's signature established.
type verified struct {
	identity, issuer, keyID, sourceCommit string
}

// verifyCandidate verifies c's signature against sc and binds it to the
// digest; the error says what was found against what was required.
func verifyCandidate(req spec.Request, sc *signerCheck, c candidate) (verified, error) {
	if c.err != nil {
		return verified{}, c.err
	}
	digest, _ := digestBytes(req.Digest)
	// What the candidate is over, before any cryptography, for the
	// message: sigstore-go decides.
	if c.stmt != nil && !c.stmt.names(req.Digest) {
		return verified{}, fmt.Errorf("it is over %s, the record's digest is %s", strings.Join(c.stmt.subjects(), ", "), req.Digest)
	}
	var artifact verify.ArtifactPolicyOption
	if c.legacy {
		got, err := signedDigest(c.legacyPayload)
		if err != nil {
			return verified{}, err
		}
		if got != req.Digest {
			return verified{}, fmt.Errorf("it is over %s, the record's digest is %s", got, req.Digest)
		}
		artifact = verify.WithArtifact(strings.NewReader(string(c.legacyPayload)))
	} else {
		artifact = verify.WithArtifactDigest("sha256", digest)
	}
	vc, err := c.bundle.VerificationContent()
	if err != nil {
		return verified{}, fmt.Errorf("reading its verification material: %w", err)
	}
	cert := vc.Certificate()
	switch {
	case sc.signer.PublicKey != "" && cert != nil:
		return verified{}, fmt.Errorf("signed keyless by %q, required %s", firstSAN(cert), sc.required())
	case sc.signer.PublicKey == "" && cert == nil:
		return verified{}, fmt.Errorf("signed with a key, required %s", sc.required())
	}
	res, err := sc.verifier.Verify(c.bundle, verify.NewPolicy(artifact, sc.policy))
	if err != nil {
		if sc.signer.PublicKey != "" {
			return verified{}, fmt.Errorf("it does not verify with %s: %w", sc.required(), err)
		}
		return verified{}, fmt.Errorf("it does not verify: %w", err)
	}
	if sc.identity == nil {
		return verified{keyID: sc.keyID}, nil
	}
	sum := res.Signature.Certificate
	if sum == nil {
		return verified{}, errors.New("it verified without a certificate summary")
	}
	if err := sc.identity.Verify(*sum); err != nil {
		return verified{}, fmt.Errorf("signed by %q (issuer %q), required %s", sum.SubjectAlternativeName, sum.Issuer, sc.required())
	}
	return verified{identity: sum.SubjectAlternativeName, issuer: sum.Issuer, sourceCommit: sum.SourceRepositoryDigest}, nil
}

func checkSignature(req spec.Request, sc *signerCheck, cands []candidate) (*spec.VerifiedSignature, *spec.Failure) {
	var reasons []string
	for _, c := range cands {
		if c.err == nil && !c.isSignature() {
			continue
		}
		v, err := verifyCandidate(req, sc, c)
		if err != nil {
			reasons = append(reasons, c.where+": "+err.Error())
			continue
		}
		return &spec.VerifiedSignature{Identity: v.identity, Issuer: v.issuer, KeyID: v.keyID, SourceCommit: v.sourceCommit, Where: c.where}, nil
	}
	return nil, failure(spec.RuleSignature, req, "signature", reasons)
}

func checkProvenance(req spec.Request, sc *signerCheck, cands []candidate) (*spec.VerifiedProvenance, *spec.Failure) {
	var reasons []string
	for _, c := range cands {
		if !c.isProvenance() {
			continue
		}
		v, err := verifyCandidate(req, sc, c)
		if err != nil {
			reasons = append(reasons, c.where+": "+err.Error())
			continue
		}
		// The statement was parsed before verification; it is the
		// payload sigstore-go just verified, so it now counts.
		f, err := provenanceFacts(c.stmt.PredicateType, c.stmt.Predicate)
		if err != nil {
			reasons = append(reasons, c.where+": "+err.Error())
			continue
		}
		src, err := checkFacts(f, req.SourceRepo, req.GitCommit, req.Policy.Provenance.Builders)
		if err != nil {
			reasons = append(reasons, c.where+": "+err.Error())
			continue
		}
		return &spec.VerifiedProvenance{PredicateType: c.stmt.PredicateType, Builder: f.Builder, SourceRepo: src.Repo, GitCommit: src.Commit,
			Identity: v.identity, Issuer: v.issuer, KeyID: v.keyID, Where: c.where}, nil
	}
	return nil, failure(spec.RuleProvenance, req, "build provenance", reasons)
}

// failure says that nothing met a rule: none was found (and where argo-refs
// looked), or why each one found failed.
func failure(rule string, req spec.Request, what string, reasons []string) *spec.Failure {
	img := req.Image + "@" + req.Digest
	if req.Image == "" {
		img = req.Digest
	}
	if len(reasons) == 0 {
		msg := fmt.Sprintf("no %s of %s", what, img)
		if len(req.Looked) > 0 {
			msg += " (looked at " + strings.Join(req.Looked, ", ") + ")"
		}
		return &spec.Failure{Rule: rule, Message: msg}
	}
	if len(reasons) == 1 {
		return &spec.Failure{Rule: rule, Message: fmt.Sprintf("the %s of %s does not meet the policy: %s", what, img, reasons[0])}
	}
	return &spec.Failure{Rule: rule, Message: fmt.Sprintf("none of the %d %ss of %s meets the policy: %s", len(reasons), what, img, strings.Join(reasons, "; "))}
}
