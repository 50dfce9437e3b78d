package trust

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/sigstoretest"
	"github.com/argo-refs/argo-refs/trust/spec"
)

const (
	srcRepo  = "https://github.com/example/app"
	commit   = "0123456789abcdef0123456789abcdef01234567"
	other    = "89abcdef0123456789abcdef0123456789abcdef"
	digest   = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	digestB  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	workflow = ".github/workflows/publish.yml"
)

var release = sigstoretest.GitHubWorkflow(srcRepo, workflow, "refs/heads/main", commit)

func keyless() spec.Signer {
	return spec.Signer{Identity: release.SAN, Issuer: sigstoretest.GitHubIssuer}
}

func request(ss *sigstoretest.Sigstore, t *testing.T, p spec.Policy, bundles ...[]byte) spec.Request {
	req := spec.Request{Version: spec.Version, Digest: digest, Image: "ghcr.io/example/app:v1", SourceRepo: srcRepo + ".git", GitCommit: commit,
		Policy: p, TrustedRoot: ss.TrustedRoot(t), Looked: []string{"referrers of ghcr.io/example/app"}}
	for i, b := range bundles {
		req.Bundles = append(req.Bundles, spec.Bundle{Where: "referrer " + string(rune('a'+i)), JSON: b})
	}
	return req
}

func both() spec.Policy {
	return spec.Policy{Signature: ptr(keyless()), Provenance: &spec.Provenance{Signer: keyless(), Builders: []string{release.SAN}}}
}

func ptr[T any](v T) *T { return &v }

func TestSignedAndAttestedImagePasses(t *testing.T) {
	ss := sigstoretest.New(t)
	sig := ss.SignImage(t, release, digest)
	prov := ss.Attest(t, release, digest, spec.PredicateSLSAv1, sigstoretest.SLSAv1(srcRepo, "refs/heads/main", commit, release.SAN))
	res := Verify(context.Background(), request(ss, t, both(), prov, sig))
	if res.Failure != nil {
		t.Fatalf("failure: %+v", res.Failure)
	}
	if s := res.Signature; s == nil || s.Identity != release.SAN || s.Issuer != sigstoretest.GitHubIssuer || s.SourceCommit != commit || s.Where != "referrer b" {
		t.Errorf("signature = %+v", res.Signature)
	}
	if p := res.Provenance; p == nil || p.Builder != release.SAN || p.GitCommit != commit || p.SourceRepo != srcRepo || p.Identity != release.SAN || p.Where != "referrer a" {
		t.Errorf("provenance = %+v", res.Provenance)
	}
}

// TestEachHostileCaseHasItsOwnMessage pins the message of every way an
// image can fail the policy: the rule that failed, what was found, what was
// required.
func TestEachHostileCaseHasItsOwnMessage(t *testing.T) {
	ss := sigstoretest.New(t)
	stranger := sigstoretest.GitHubWorkflow("https://github.com/evil/fork", workflow, "refs/heads/main", commit)
	goodProv := func() []byte {
		return ss.Attest(t, release, digest, spec.PredicateSLSAv1, sigstoretest.SLSAv1(srcRepo, "refs/heads/main", commit, release.SAN))
	}
	cases := []struct {
		name    string
		bundles [][]byte
		rule    string
		want    []string
	}{
		{"unsigned", [][]byte{goodProv()}, spec.RuleSignature,
			[]string{"no signature of ghcr.io/example/app:v1@" + digest, "looked at referrers of ghcr.io/example/app"}},
		{"another identity", [][]byte{ss.SignImage(t, stranger, digest)}, spec.RuleSignature,
			[]string{`signed by "https://github.com/evil/fork/.github/workflows/publish.yml@refs/heads/main" (issuer "https://token.actions.githubusercontent.com")`, `required "` + release.SAN + `"`}},
		{"over another digest", [][]byte{ss.SignImage(t, release, digestB)}, spec.RuleSignature,
			[]string{"it is over " + digestB + ", the record's digest is " + digest}},
		{"tampered", [][]byte{tamper(t, ss.SignImage(t, release, digest))}, spec.RuleSignature,
			[]string{"referrer a: it does not verify"}},
		{"provenance of another commit", [][]byte{ss.SignImage(t, release, digest),
			ss.Attest(t, release, digest, spec.PredicateSLSAv1, sigstoretest.SLSAv1(srcRepo, "refs/heads/main", other, release.SAN))}, spec.RuleProvenance,
			[]string{"provenance says commit " + other + ", record says " + commit}},
		{"provenance of another builder", [][]byte{ss.SignImage(t, release, digest),
			ss.Attest(t, release, digest, spec.PredicateSLSAv1, sigstoretest.SLSAv1(srcRepo, "refs/heads/main", commit, "https://ci.example/builder"))}, spec.RuleProvenance,
			[]string{`built by "https://ci.example/builder", allowed builders: ["` + release.SAN + `"]`}},
		{"provenance of another repository", [][]byte{ss.SignImage(t, release, digest),
			ss.Attest(t, release, digest, spec.PredicateSLSAv1, sigstoretest.SLSAv1("https://github.com/evil/fork", "refs/heads/main", commit, release.SAN))}, spec.RuleProvenance,
			[]string{"provenance says source repository https://github.com/evil/fork (commit " + commit + "), record says " + srcRepo + ".git"}},
		{"no provenance", [][]byte{ss.SignImage(t, release, digest)}, spec.RuleProvenance,
			[]string{"no build provenance of ghcr.io/example/app:v1@" + digest}},
		{"provenance signed by another identity", [][]byte{ss.SignImage(t, release, digest),
			ss.Attest(t, stranger, digest, spec.PredicateSLSAv1, sigstoretest.SLSAv1(srcRepo, "refs/heads/main", commit, release.SAN))}, spec.RuleProvenance,
			[]string{`signed by "https://github.com/evil/fork/`}},
		{"not a bundle", [][]byte{[]byte(`{"mediaType":"text/plain"}`)}, spec.RuleSignature,
			[]string{"referrer a: not a valid Sigstore bundle"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Verify(context.Background(), request(ss, t, both(), c.bundles...))
			f := res.Failure
			if f == nil {
				t.Fatalf("passed: %+v", res)
			}
			if f.Rule != c.rule || f.Retryable {
				t.Errorf("rule %q retryable %v, want %q and terminal: %s", f.Rule, f.Retryable, c.rule, f.Message)
			}
			for _, w := range c.want {
				if !strings.Contains(f.Message, w) {
					t.Errorf("message %q lacks %q", f.Message, w)
				}
			}
		})
	}
}

// tamper rewrites the signed statement inside a bundle, keeping its
// subject, so that only the signature can tell.
func tamper(t *testing.T, b []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	env := m["dsseEnvelope"].(map[string]any)
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	payload = []byte(strings.Replace(string(payload), `"predicate":{}`, `"predicate":{"x":1}`, 1))
	env["payload"] = base64.StdEncoding.EncodeToString(payload)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOneGoodSignatureAmongBadOnesIsEnough(t *testing.T) {
	ss := sigstoretest.New(t)
	stranger := sigstoretest.GitHubWorkflow("https://github.com/evil/fork", workflow, "refs/heads/main", commit)
	req := request(ss, t, spec.Policy{Signature: ptr(keyless())}, ss.SignImage(t, stranger, digest), ss.SignImage(t, release, digest))
	res := Verify(context.Background(), req)
	if res.Failure != nil || res.Signature == nil || res.Signature.Where != "referrer b" {
		t.Fatalf("got %+v %+v", res.Failure, res.Signature)
	}
	req.Bundles = req.Bundles[:1]
	req.Bundles = append(req.Bundles, spec.Bundle{Where: "referrer c", JSON: ss.SignImage(t, release, digestB)})
	res = Verify(context.Background(), req)
	if res.Failure == nil || !strings.Contains(res.Failure.Message, "none of the 2 signatures") ||
		!strings.Contains(res.Failure.Message, "referrer a: signed by") || !strings.Contains(res.Failure.Message, "referrer c: it is over") {
		t.Fatalf("failure = %+v", res.Failure)
	}
}

func TestIdentityAndIssuerByRegularExpression(t *testing.T) {
	ss := sigstoretest.New(t)
	p := spec.Policy{Signature: &spec.Signer{IdentityRegExp: `^https://github\.com/example/app/\.github/workflows/[^/]+@refs/heads/main$`, IssuerRegExp: `^https://token\.actions\.githubusercontent\.com$`}}
	res := Verify(context.Background(), request(ss, t, p, ss.SignImage(t, release, digest)))
	if res.Failure != nil {
		t.Fatalf("failure: %+v", res.Failure)
	}
	tag := sigstoretest.GitHubWorkflow(srcRepo, workflow, "refs/tags/v1", commit)
	res = Verify(context.Background(), request(ss, t, p, ss.SignImage(t, tag, digest)))
	if res.Failure == nil || !strings.Contains(res.Failure.Message, `required an identity matching "^https://github\\.com/example/app`) {
		t.Fatalf("failure = %+v", res.Failure)
	}
}

func TestCosignV2SignatureTag(t *testing.T) {
	ss := sigstoretest.New(t)
	ref := "ghcr.io/example/app"
	legacy := func(l sigstoretest.Layer) spec.LegacySignature {
		return spec.LegacySignature{Where: "signature tag layer 1", Payload: l.Payload, Signature: l.Annotations["dev.cosignproject.cosign/signature"],
			Certificate: l.Annotations["dev.sigstore.cosign/certificate"], RekorBundle: l.Annotations["dev.sigstore.cosign/bundle"]}
	}
	req := request(ss, t, spec.Policy{Signature: ptr(keyless())})
	req.Legacy = []spec.LegacySignature{legacy(ss.LegacySign(t, release, sigstoretest.SimpleSigning(t, ref, digest)))}
	if res := Verify(context.Background(), req); res.Failure != nil || res.Signature.Identity != release.SAN {
		t.Fatalf("keyless: %+v %+v", res.Failure, res.Signature)
	}

	req.Legacy = []spec.LegacySignature{legacy(ss.LegacySign(t, release, sigstoretest.SimpleSigning(t, ref, digestB)))}
	if res := Verify(context.Background(), req); res.Failure == nil || !strings.Contains(res.Failure.Message, "it is over "+digestB) {
		t.Fatalf("other digest: %+v", res.Failure)
	}

	l := legacy(ss.LegacySign(t, release, sigstoretest.SimpleSigning(t, ref, digest)))
	l.Payload = []byte(strings.Replace(string(l.Payload), `"optional":null`, `"optional":{"x":"y"}`, 1))
	req.Legacy = []spec.LegacySignature{l}
	if res := Verify(context.Background(), req); res.Failure == nil || !strings.Contains(res.Failure.Message, "does not verify") {
		t.Fatalf("tampered payload: %+v", res.Failure)
	}

	key := sigstoretest.NewKey(t)
	req.Policy = spec.Policy{Signature: &spec.Signer{PublicKey: key.PublicPEM(t)}}
	req.Legacy = []spec.LegacySignature{legacy(ss.LegacySignWithKey(t, key, sigstoretest.SimpleSigning(t, ref, digest)))}
	res := Verify(context.Background(), req)
	if res.Failure != nil || !strings.HasPrefix(res.Signature.KeyID, "sha256:") {
		t.Fatalf("key: %+v %+v", res.Failure, res.Signature)
	}
	req.Policy = spec.Policy{Signature: &spec.Signer{PublicKey: sigstoretest.NewKey(t).PublicPEM(t)}}
	if res := Verify(context.Background(), req); res.Failure == nil || !strings.Contains(res.Failure.Message, "it does not verify with the key sha256:") {
		t.Fatalf("other key: %+v", res.Failure)
	}
}

func TestKeySignatureOutsideTheLog(t *testing.T) {
	ss := sigstoretest.New(t)
	key := sigstoretest.NewKey(t)
	b := ss.SignStatementWithKey(t, key, sigstoretest.Statement(t, digest, spec.PredicateCosignSign, nil))
	p := spec.Policy{Signature: &spec.Signer{PublicKey: key.PublicPEM(t), IgnoreTransparencyLog: true}}
	req := request(ss, t, p, b)
	req.TrustedRoot = ""
	if res := Verify(context.Background(), req); res.Failure != nil {
		t.Fatalf("ignoring the log: %+v", res.Failure)
	}
	req = request(ss, t, spec.Policy{Signature: &spec.Signer{PublicKey: key.PublicPEM(t)}}, b)
	if res := Verify(context.Background(), req); res.Failure == nil || !strings.Contains(res.Failure.Message, "does not verify") {
		t.Fatalf("requiring the log: %+v", res.Failure)
	}
	req = request(ss, t, spec.Policy{Signature: ptr(keyless())}, b)
	if res := Verify(context.Background(), req); res.Failure == nil || !strings.Contains(res.Failure.Message, "signed with a key, required \""+release.SAN) {
		t.Fatalf("keyless policy: %+v", res.Failure)
	}
}

func TestUnreachablePublicGoodRootIsRetryable(t *testing.T) {
	ss := sigstoretest.New(t)
	req := request(ss, t, spec.Policy{Signature: ptr(keyless())}, ss.SignImage(t, release, digest))
	req.TrustedRoot, req.CacheDir = spec.PublicGood, t.TempDir()
	res := verifier{mirror: "http://127.0.0.1:1"}.verify(context.Background(), req)
	if res.Failure == nil || !res.Failure.Retryable || res.Failure.Rule != spec.RulePolicy || !strings.Contains(res.Failure.Message, "public-good trusted root is unavailable") {
		t.Fatalf("failure = %+v", res.Failure)
	}
}

func TestUnusablePolicies(t *testing.T) {
	ss := sigstoretest.New(t)
	key := sigstoretest.NewKey(t).PublicPEM(t)
	cases := []struct {
		name string
		edit func(*spec.Request)
		want string
	}{
		{"version", func(r *spec.Request) { r.Version = 9 }, "request version 9"},
		{"digest", func(r *spec.Request) { r.Digest = "sha256:ABC" }, `digest "sha256:ABC"`},
		{"empty", func(r *spec.Request) { r.Policy = spec.Policy{} }, "neither a signature nor provenance"},
		{"no builders", func(r *spec.Request) { r.Policy.Provenance.Builders = nil }, "builders is empty"},
		{"key and identity", func(r *spec.Request) { r.Policy.Signature.PublicKey = key }, "signature: publicKey and a keyless identity are exclusive"},
		{"half an identity", func(r *spec.Request) { r.Policy.Signature.Issuer = "" }, "exactly one of issuer and issuerRegExp"},
		{"keyless without log", func(r *spec.Request) { r.Policy.Provenance.Signer.IgnoreTransparencyLog = true }, "provenance: ignoreTransparencyLog applies to publicKey only"},
		{"no root", func(r *spec.Request) { r.TrustedRoot = "" }, "no trusted root"},
		{"bad root", func(r *spec.Request) { r.TrustedRoot = "{" }, "reading the trusted root"},
		{"bad regexp", func(r *spec.Request) { r.Policy.Signature.Identity, r.Policy.Signature.IdentityRegExp = "", "(" }, "signature.identityRegExp: error parsing regexp"},
		{"bad key", func(r *spec.Request) { r.Policy.Signature = &spec.Signer{PublicKey: "nope"} }, "signature: reading publicKey"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := request(ss, t, both())
			c.edit(&req)
			f := Verify(context.Background(), req).Failure
			if f == nil || f.Rule != spec.RulePolicy || f.Retryable || !strings.Contains(f.Message, c.want) {
				t.Fatalf("failure = %+v, want a terminal policy failure with %q", f, c.want)
			}
		})
	}
}
