package images

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/regtest"
)

const (
	bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	signPred   = "https://sigstore.dev/cosign/sign/v1"
	slsaPred   = "https://slsa.dev/provenance/v1"
)

func bundleAnnotations(pred string) map[string]string {
	return map[string]string{"dev.sigstore.bundle.content": "dsse-envelope", BundlePredicateTypeAnnotation: pred,
		"org.opencontainers.image.created": "2026-12-06T05:00:00Z"}
}

// TestAttachedRequestBudget pins the registry requests of the lookup: the
// referrers list, then a manifest and a blob per bundle wanted; on a
// registry without the referrers API one more for the tag schema's index;
// the cosign signature tag only when the referrers hold no signature.
func TestAttachedRequestBudget(t *testing.T) {
	both := AttachedQuery{Signatures: true, SignaturePredicate: signPred, Attestations: []string{slsaPred}}
	for _, api := range []bool{true, false} {
		name := "referrers API"
		var opts []regtest.Option
		if api {
			opts = append(opts, regtest.WithReferrersAPI())
		} else {
			name = "referrers tag schema"
		}
		t.Run(name, func(t *testing.T) {
			reg := regtest.New(t, opts...)
			dg := reg.PushImage(t, "app:v1", nil)
			reg.PushReferrer(t, "app", dg, bundleType, bundleType, []byte(`{"sig":1}`), bundleAnnotations(signPred))
			reg.PushReferrer(t, "app", dg, bundleType, bundleType, []byte(`{"prov":1}`), bundleAnnotations(slsaPred))
			// An SBOM and another image's bundle: never fetched.
			reg.PushReferrer(t, "app", dg, bundleType, bundleType, []byte(`{"sbom":1}`), bundleAnnotations("https://spdx.dev/Document"))
			reg.PushReferrer(t, "app", dg, "application/vnd.example.thing", "application/octet-stream", []byte("x"), nil)
			c := newClient(t, fastOptions())
			// Warm the token so that the budget counts the lookup only.
			if _, err := c.Resolve(context.Background(), reg.Ref("app:v1")); err != nil {
				t.Fatal(err)
			}
			reg.ResetCounters()
			a, err := c.Attached(context.Background(), reg.Host+"/app", dg, both)
			if err != nil {
				t.Fatal(err)
			}
			want := 5
			if !api {
				want = 6
			}
			if got := reg.Requests(); got != want || a.Requests != want {
				t.Errorf("requests: registry saw %d, client counted %d, want %d", got, a.Requests, want)
			}
			if len(a.Bundles) != 2 || len(a.Legacy) != 0 {
				t.Fatalf("attached = %s", a)
			}
			got := string(a.Bundles[0].JSON) + string(a.Bundles[1].JSON)
			if !strings.Contains(got, `{"sig":1}`) || !strings.Contains(got, `{"prov":1}`) {
				t.Errorf("bundles = %s", got)
			}
		})
	}
}

func TestAttachedFallsBackToTheSignatureTag(t *testing.T) {
	reg := regtest.New(t, regtest.WithReferrersAPI())
	dg := reg.PushImage(t, "app:v1", nil)
	reg.PushSignatureTag(t, "app", dg,
		regtest.SignatureLayer{Payload: []byte(`{"critical":{}}`), Annotations: map[string]string{"dev.cosignproject.cosign/signature": "c2ln"}})
	c := newClient(t, fastOptions())
	a, err := c.Attached(context.Background(), reg.Host+"/app", dg, AttachedQuery{Signatures: true, SignaturePredicate: signPred})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Legacy) != 1 || string(a.Legacy[0].Payload) != `{"critical":{}}` || a.Legacy[0].Annotations["dev.cosignproject.cosign/signature"] != "c2ln" {
		t.Fatalf("legacy = %+v", a.Legacy)
	}
	if len(a.Looked) != 2 || !strings.Contains(a.Looked[1], strings.Replace(dg, ":", "-", 1)+".sig") {
		t.Errorf("looked = %q", a.Looked)
	}
	// Nothing at all is no error.
	bare := reg.PushImage(t, "app:v2", nil)
	a, err = c.Attached(context.Background(), reg.Host+"/app", bare, AttachedQuery{Signatures: true, SignaturePredicate: signPred})
	if err != nil || len(a.Bundles)+len(a.Legacy) != 0 {
		t.Fatalf("bare image: %s, %v", a, err)
	}
}

// TestAttachedIgnoresReferrersAboutSomethingElse: a tag schema index is
// an ordinary tag anyone with push access can write; a manifest it lists
// whose subject is another image is not attached to this one.
func TestAttachedIgnoresReferrersAboutSomethingElse(t *testing.T) {
	reg := regtest.New(t)
	dg := reg.PushImage(t, "app:v1", nil)
	other := reg.PushImage(t, "app:v2", nil)
	reg.PushReferrer(t, "app", other, bundleType, bundleType, []byte(`{"other":1}`), bundleAnnotations(signPred))
	// Copy v2's index to v1's tag schema tag.
	c := newClient(t, fastOptions())
	reg.CopyTag(t, "app:"+strings.Replace(other, ":", "-", 1), "app:"+strings.Replace(dg, ":", "-", 1))
	a, err := c.Attached(context.Background(), reg.Host+"/app", dg, AttachedQuery{Signatures: true, SignaturePredicate: signPred})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Bundles) != 0 {
		t.Fatalf("took another image's bundle: %s", a)
	}
}

func TestAttachedOutageIsUnavailable(t *testing.T) {
	reg := regtest.New(t, regtest.WithReferrersAPI(), regtest.WithMiddleware(regtest.FailRequests(func(r *http.Request) bool {
		return strings.Contains(r.URL.Path, "/referrers/")
	}, 100, http.StatusServiceUnavailable, "")))
	dg := reg.PushImage(t, "app:v1", nil)
	c := newClient(t, fastOptions())
	_, err := c.Attached(context.Background(), reg.Host+"/app", dg, AttachedQuery{Signatures: true, SignaturePredicate: signPred})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestAttachedRefusesAnOversizedBundleBeforeFetchingIt(t *testing.T) {
	reg := regtest.New(t, regtest.WithReferrersAPI())
	dg := reg.PushImage(t, "app:v1", nil)
	reg.PushReferrer(t, "app", dg, bundleType, bundleType, make([]byte, maxBundleBytes+1), bundleAnnotations(signPred))
	c := newClient(t, fastOptions())
	_, err := c.Attached(context.Background(), reg.Host+"/app", dg, AttachedQuery{Signatures: true, SignaturePredicate: signPred})
	if !errors.Is(err, ErrInvalidReference) || !strings.Contains(err.Error(), "over 1048576") {
		t.Fatalf("err = %v", err)
	}
}
