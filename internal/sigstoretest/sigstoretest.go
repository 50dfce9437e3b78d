package sigstoretest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// Predicate and statement types the helpers write.
const (
	StatementV1       = "https://in-toto.io/Statement/v1"
	PredicateSign     = "https://sigstore.dev/cosign/sign/v1"
	PredicateSLSAv1   = "https://slsa.dev/provenance/v1"
	GitHubIssuer      = "https://token.actions.githubusercontent.com"
	inTotoPayloadType = "application/vnd.in-toto+json"
	bundleV03         = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// Fulcio's certificate extensions (github.com/sigstore/fulcio
// docs/oid-info.md).
var (
	oidIssuerV1     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	oidSourceRepo   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 12}
	oidSourceDigest = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 13}
)

// Sigstore is a certificate authority and a transparency log.
type Sigstore struct {
	vs        *ca.VirtualSigstore
	root      *x509.Certificate
	inter     *x509.Certificate
	interKey  *ecdsa.PrivateKey
	logIndex  int64
	createdAt time.Time
}

// New starts a Sigstore.
func New(t testing.TB) *Sigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	inter, interKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return &Sigstore{vs: vs, root: rootCert, inter: inter, interKey: interKey, createdAt: time.Now()}
}

// TrustedRoot returns the trusted_root.json naming the authority and the
// log (no certificate transparency log: the certificates carry no SCTs).
func (s *Sigstore) TrustedRoot(t testing.TB) string {
	t.Helper()
	fulcio := &root.FulcioCertificateAuthority{
		Root: s.root, Intermediates: []*x509.Certificate{s.inter},
		ValidityPeriodStart: s.createdAt.Add(-time.Hour), ValidityPeriodEnd: s.createdAt.Add(2 * time.Hour),
		URI: "https://fulcio.sigstoretest.local",
	}
	// The virtual log's ID is its hex string's bytes; a trusted root
	// holds the raw key ID, which is what log entries name.
	logs := map[string]*root.TransparencyLog{}
	for id, l := range s.vs.RekorLogs() {
		raw, err := hex.DecodeString(id)
		if err != nil {
			t.Fatal(err)
		}
		c := *l
		c.ID = raw
		logs[id] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{fulcio}, nil, s.vs.TimestampingAuthorities(), logs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Identity is who signs keylessly: the certificate's subject alternative
// name (a URI) and issuer, and the source repository and commit Fulcio
// records for a CI workflow.
type Identity struct {
	SAN, Issuer              string
	SourceRepo, SourceCommit string
}

// GitHubWorkflow is the identity GitHub Actions gives the workflow at
// path in repo (https://github.com/org/app), run on ref at commit.
func GitHubWorkflow(repo, path, ref, commit string) Identity {
	return Identity{SAN: repo + "/" + path + "@" + ref, Issuer: GitHubIssuer, SourceRepo: repo, SourceCommit: commit}
}

func (s *Sigstore) leaf(t testing.TB, id Identity) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	san, err := url.Parse(id.SAN)
	if err != nil {
		t.Fatal(err)
	}
	der := func(s string) []byte {
		b, err := asn1.MarshalWithParams(s, "utf8")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	exts := []pkix.Extension{
		{Id: oidIssuerV1, Value: []byte(id.Issuer)},
		{Id: oidIssuerV2, Value: der(id.Issuer)},
	}
	if id.SourceRepo != "" {
		exts = append(exts, pkix.Extension{Id: oidSourceRepo, Value: der(id.SourceRepo)})
	}
	if id.SourceCommit != "" {
		exts = append(exts, pkix.Extension{Id: oidSourceDigest, Value: der(id.SourceCommit)})
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(time.Now().UnixNano()),
		URIs:            []*url.URL{san},
		NotBefore:       time.Now().Add(-time.Minute),
		NotAfter:        time.Now().Add(9 * time.Minute),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: exts,
	}
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, s.inter, &key.PublicKey, s.interKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// Statement is an in-toto v1 statement about digest (sha256:<hex>).
func Statement(t testing.TB, digest, predicateType string, predicate any) []byte {
	t.Helper()
	algo, hexd, _ := cut(digest)
	if predicate == nil {
		predicate = map[string]any{}
	}
	b, err := json.Marshal(map[string]any{
		"_type":         StatementV1,
		"subject":       []map[string]any{{"name": "image", "digest": map[string]string{algo: hexd}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cut(d string) (string, string, bool) {
	for i := range d {
		if d[i] == ':' {
			return d[:i], d[i+1:], true
		}
	}
	return "", d, false
}

// SLSAv1 is a SLSA v1 provenance predicate as GitHub's
// attest-build-provenance writes it (github.com/actions/buildtypes
// workflow/v1): the workflow's repository at ref and commit, built by
// builder.
func SLSAv1(repo, ref, commit, builder string) map[string]any {
	return map[string]any{
		"buildDefinition": map[string]any{
			"buildType": "https://actions.github.io/buildtypes/workflow/v1",
			"externalParameters": map[string]any{
				"workflow": map[string]any{"ref": ref, "repository": repo, "path": ".github/workflows/publish.yml"},
			},
			"resolvedDependencies": []map[string]any{{
				"uri": "git+" + repo + "@" + ref, "digest": map[string]string{"gitCommit": commit},
			}},
		},
		"runDetails": map[string]any{
			"builder":  map[string]any{"id": builder},
			"metadata": map[string]any{"invocationId": repo + "/actions/runs/1/attempts/1"},
		},
	}
}

// SignImage returns the bundle cosign v3 pushes for `cosign sign`: a DSSE
// envelope of a statement with PredicateSign about digest.
func (s *Sigstore) SignImage(t testing.TB, id Identity, digest string) []byte {
	t.Helper()
	return s.SignStatement(t, id, Statement(t, digest, PredicateSign, nil))
}

// Attest returns the bundle of a DSSE-signed statement about digest.
func (s *Sigstore) Attest(t testing.TB, id Identity, digest, predicateType string, predicate any) []byte {
	t.Helper()
	return s.SignStatement(t, id, Statement(t, digest, predicateType, predicate))
}

// SignStatement signs an in-toto statement keylessly and logs it: a
// bundle v0.3 with the certificate and the log entry with its inclusion
// proof.
func (s *Sigstore) SignStatement(t testing.TB, id Identity, stmt []byte) []byte {
	t.Helper()
	cert, key := s.leaf(t, id)
	env, sig := signDSSE(t, key, stmt)
	entry, err := s.vs.GenerateTlogEntry(cert, env, sig, time.Now().Unix(), true)
	if err != nil {
		t.Fatal(err)
	}
	tle := entry.TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	// Rekor v1 answers with the signed entry timestamp too, which makes
	// the entry's integrated time an observed time.
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
		IntegratedTime: tle.IntegratedTime, LogIndex: tle.LogIndex, LogID: hex.EncodeToString(tle.LogId.KeyId)})
	if err != nil {
		t.Fatal(err)
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	return marshalBundle(t, &protobundle.Bundle{
		MediaType: bundleV03,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
			TlogEntries: []*protorekor.TransparencyLogEntry{tle},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: protoEnvelope(t, env)},
	})
}

func signDSSE(t testing.TB, key *ecdsa.PrivateKey, stmt []byte) (*dsse.Envelope, []byte) {
	t.Helper()
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := dsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{SignatureSigner: sv, Pub: &key.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	env, err := signer.SignPayload(context.Background(), inTotoPayloadType, stmt)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	return env, sig
}

func protoEnvelope(t testing.TB, env *dsse.Envelope) *protodsse.Envelope {
	t.Helper()
	payload, err := env.DecodeB64Payload()
	if err != nil {
		t.Fatal(err)
	}
	out := &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType}
	for _, s := range env.Signatures {
		raw, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			t.Fatal(err)
		}
		out.Signatures = append(out.Signatures, &protodsse.Signature{Sig: raw, Keyid: s.KeyID})
	}
	return out
}

func marshalBundle(t testing.TB, pb *protobundle.Bundle) []byte {
	t.Helper()
	b, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Key is a cosign key pair.
type Key struct{ priv *ecdsa.PrivateKey }

// NewKey generates an ECDSA P-256 key, as cosign generate-key-pair does.
func NewKey(t testing.TB) Key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Key{priv: k}
}

// PublicPEM is the key's cosign.pub.
func (k Key) PublicPEM(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// SignStatementWithKey signs a statement with k, in no log
// (cosign attest --key --tlog-upload=false).
func (s *Sigstore) SignStatementWithKey(t testing.TB, k Key, stmt []byte) []byte {
	t.Helper()
	env, _ := signDSSE(t, k.priv, stmt)
	return marshalBundle(t, &protobundle.Bundle{
		MediaType: bundleV03,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: protoEnvelope(t, env)},
	})
}

// Layer is one layer of a cosign signature manifest.
type Layer struct {
	Payload     []byte
	Annotations map[string]string
}

// SimpleSigning is the payload cosign v2 signs for ref at digest.
func SimpleSigning(t testing.TB, ref, digest string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": ref},
			"image":    map[string]string{"docker-manifest-digest": digest},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// LegacySign is what cosign v2 `sign` pushes to sha256-<hex>.sig for a
// keyless signature: the payload, its signature, the certificate, and the
// log's signed entry timestamp.
func (s *Sigstore) LegacySign(t testing.TB, id Identity, payload []byte) Layer {
	t.Helper()
	cert, key := s.leaf(t, id)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return s.legacy(t, key, payload, certPEM, true)
}

// LegacySignWithKey is what cosign v2 `sign --key` pushes, logged.
func (s *Sigstore) LegacySignWithKey(t testing.TB, k Key, payload []byte) Layer {
	t.Helper()
	return s.legacy(t, k.priv, payload, []byte(k.PublicPEM(t)), false)
}

func (s *Sigstore) legacy(t testing.TB, key *ecdsa.PrivateKey, payload, pubPEM []byte, isCert bool) Layer {
	t.Helper()
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sigB64 := base64.StdEncoding.EncodeToString(sig)
	// A hashedrekord v0.0.1 entry in canonical JSON (sorted keys, no
	// spaces), as Rekor stores it.
	body, err := json.Marshal(map[string]any{
		"apiVersion": "0.0.1",
		"kind":       "hashedrekord",
		"spec": map[string]any{
			"data":      map[string]any{"hash": map[string]string{"algorithm": "sha256", "value": hex.EncodeToString(sum[:])}},
			"signature": map[string]any{"content": sigB64, "publicKey": map[string]string{"content": base64.StdEncoding.EncodeToString(pubPEM)}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	logID, err := s.vs.RekorLogID()
	if err != nil {
		t.Fatal(err)
	}
	s.logIndex++
	payloadForSET := tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: time.Now().Unix(), LogIndex: s.logIndex, LogID: logID}
	set, err := s.vs.RekorSignPayload(payloadForSET)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := json.Marshal(map[string]any{"SignedEntryTimestamp": set, "Payload": payloadForSET})
	if err != nil {
		t.Fatal(err)
	}
	ann := map[string]string{
		"dev.cosignproject.cosign/signature": sigB64,
		"dev.sigstore.cosign/bundle":         string(rb),
	}
	if isCert {
		ann["dev.sigstore.cosign/certificate"] = string(pubPEM)
	}
	return Layer{Payload: payload, Annotations: ann}
}
