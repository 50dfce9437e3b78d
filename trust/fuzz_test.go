package trust

import (
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/trust/spec"
)

// FuzzProvenance feeds hostile predicates to the reader: it never panics,
// and a provenance passes only when one of its git sources is the record's
// repository and commit and its builder is allowed.
func FuzzProvenance(f *testing.F) {
	f.Add(spec.PredicateSLSAv1, `{"buildDefinition":{"resolvedDependencies":[{"uri":"git+https://github.com/o/r@refs/heads/main","digest":{"gitCommit":"abc"}}]},"runDetails":{"builder":{"id":"b"}}}`)
	f.Add(spec.PredicateSLSAv02, `{"builder":{"id":"b"},"invocation":{"configSource":{"uri":"git+https://github.com/o/r.git@refs/tags/v1","digest":{"sha1":"ABC"}}}}`)
	f.Add(spec.PredicateSLSAv1, `{"buildDefinition":{"resolvedDependencies":[{"uri":"git+ssh://git@github.com/o/r","digest":{}}]}}`)
	f.Add("x", `null`)
	f.Fuzz(func(t *testing.T, predicateType, predicate string) {
		facts, err := provenanceFacts(predicateType, []byte(predicate))
		if err != nil {
			return
		}
		src, err := checkFacts(facts, "https://github.com/o/r", "abc", []string{"b"})
		if err != nil {
			return
		}
		if facts.Builder != "b" || !sameRepo(src.Repo, "https://github.com/o/r") || !strings.EqualFold(src.Commit, "abc") {
			t.Fatalf("passed %+v for %q", facts, predicate)
		}
	})
}

// FuzzLegacy feeds hostile cosign signature layers to the converter and
// the payload reader: errors, never panics.
func FuzzLegacy(f *testing.F) {
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"}}`), "c2ln", "", `{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","integratedTime":1,"logIndex":1,"logID":"00"}}`)
	f.Add([]byte(`[]`), "!!", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", `{}`)
	f.Fuzz(func(t *testing.T, payload []byte, sig, cert, rekor string) {
		_, _ = signedDigest(payload)
		_, _ = legacyBundle(spec.LegacySignature{Payload: payload, Signature: sig, Certificate: cert, RekorBundle: rekor})
	})
}
