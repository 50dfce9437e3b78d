package step

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/regtest"
	"github.com/argo-refs/argo-refs/internal/sigstoretest"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/trust"
	"github.com/argo-refs/argo-refs/trust/spec"
)

// verifyInProcess verifies in the test's process, as argo-refs-trust
// would.
type verifyInProcess struct{ calls *int }

func (v verifyInProcess) Verify(ctx context.Context, req spec.Request) (spec.Response, error) {
	if v.calls != nil {
		*v.calls++
	}
	return trust.Verify(ctx, req), nil
}

// policyFixture is the step fixture with a Sigstore, the CI workflow's
// identity, and helpers to sign and attest the fixture's image.
type policyFixture struct {
	*fixture
	ss      *sigstoretest.Sigstore
	ci      sigstoretest.Identity
	repo    string // the source repository's URL as GitHub names it (no .git)
	builder string
}

func newPolicyFixture(t *testing.T, o fixtureOpt) *policyFixture {
	t.Helper()
	f := &policyFixture{fixture: newFixture(t, o), ss: sigstoretest.New(t)}
	f.repo = strings.TrimSuffix(f.sourceURL, ".git")
	f.ci = sigstoretest.GitHubWorkflow(f.repo, ".github/workflows/publish.yml", "refs/heads/main", f.srcCommit)
	f.builder = f.ci.SAN
	return f
}

// sign pushes the bundle cosign v3 pushes for the image.
func (f *policyFixture) sign(t *testing.T, id sigstoretest.Identity, digest string) {
	t.Helper()
	f.reg.PushReferrer(t, imageRepo, f.digest, bundleMediaType, bundleMediaType, f.ss.SignImage(t, id, digest),
		map[string]string{"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": spec.PredicateCosignSign})
}

// attest pushes the provenance GitHub's attest-build-provenance pushes.
func (f *policyFixture) attest(t *testing.T, commit, builder string) {
	t.Helper()
	pred := sigstoretest.SLSAv1(f.repo, "refs/heads/main", commit, builder)
	f.reg.PushReferrer(t, imageRepo, f.digest, bundleMediaType, bundleMediaType, f.ss.Attest(t, f.ci, f.digest, spec.PredicateSLSAv1, pred),
		map[string]string{"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": spec.PredicateSLSAv1})
}

const bundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

func (f *policyFixture) policy(t *testing.T, provenance bool) map[string]any {
	t.Helper()
	p := map[string]any{
		"trustedRoot": f.ss.TrustedRoot(t),
		"signature":   map[string]any{"identity": f.ci.SAN, "issuer": sigstoretest.GitHubIssuer},
	}
	if provenance {
		p["provenance"] = map[string]any{"builders": []string{f.builder}}
	}
	return map[string]any{"imagePolicy": p}
}

func (f *policyFixture) promote(t *testing.T, extra map[string]any, calls *int) Result {
	t.Helper()
	res := f.runner.Run(context.Background(), KindPromote, f.context("staging"), f.config(t, extra), Options{Truster: verifyInProcess{calls}})
	f.assertNoLeak(t, res)
	return res
}

// TestImagePolicySignedAndAttested: the production policy (signature and
// provenance, keyless, GitHub Actions) passes for an image the CI
// workflow signed and attested; the outputs and the commit's trailers say
// who signed and what built it.
func TestImagePolicySignedAndAttested(t *testing.T) {
	f := newPolicyFixture(t, fixtureOpt{})
	f.sign(t, f.ci, f.digest)
	f.attest(t, f.srcCommit, f.builder)
	calls := 0
	res := f.promote(t, f.policy(t, true), &calls)
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if calls != 1 {
		t.Errorf("%d verifications, want 1", calls)
	}
	sig, _ := res.Output[OutputImageSignature].(map[string]any)
	prov, _ := res.Output[OutputImageProvenance].(map[string]any)
	if sig["identity"] != f.ci.SAN || sig["issuer"] != sigstoretest.GitHubIssuer || sig["sourceCommit"] != f.srcCommit {
		t.Errorf("imageSignature = %v", sig)
	}
	if prov["builder"] != f.builder || prov["gitCommit"] != f.srcCommit || prov["predicateType"] != spec.PredicateSLSAv1 {
		t.Errorf("imageProvenance = %v", prov)
	}
	msg := gittest.Git(t, f.gitopsDir, "log", "-1", "--format=%B", "main")
	for _, want := range []string{"Image-Signed-By: " + f.ci.SAN, "Image-Built-By: " + f.builder} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}
	// The staging policy, signature only, passes too and says nothing of
	// provenance.
	res = f.promote(t, f.policy(t, false), nil)
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if _, ok := res.Output[OutputImageProvenance]; ok {
		t.Errorf("imageProvenance set without a provenance policy")
	}
}

// TestImagePolicyRefusesAndLeavesTheRepository: every failure of the
// policy is Failed with the rule and what was found, and nothing is pushed.
func TestImagePolicyRefusesAndLeavesTheRepository(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, f *policyFixture)
		want  []string
	}{
		{"unsigned", func(t *testing.T, f *policyFixture) { f.attest(t, f.srcCommit, f.builder) },
			[]string{"the image does not meet the image policy: signature: no signature of", "looked at referrers tag"}},
		{"signed by a fork", func(t *testing.T, f *policyFixture) {
			f.sign(t, sigstoretest.GitHubWorkflow("https://github.com/evil/fork", ".github/workflows/publish.yml", "refs/heads/main", f.srcCommit), f.digest)
			f.attest(t, f.srcCommit, f.builder)
		}, []string{`signature: the signature of`, `signed by "https://github.com/evil/fork/.github/workflows/publish.yml@refs/heads/main"`}},
		{"built from another commit", func(t *testing.T, f *policyFixture) {
			f.sign(t, f.ci, f.digest)
			f.attest(t, strings.Repeat("e", 40), f.builder)
		}, []string{"provenance: ", "provenance says commit " + strings.Repeat("e", 40) + ", record says"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newPolicyFixture(t, fixtureOpt{})
			c.setup(t, f)
			before := f.tip(t)
			res := f.promote(t, f.policy(t, true), nil)
			wantStatus(t, res, kargo.StatusFailed, true)
			for _, w := range c.want {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q lacks %q", res.Message, w)
				}
			}
			if after := f.tip(t); after != before {
				t.Errorf("the branch moved from %s to %s", before, after)
			}
		})
	}
}

// TestImagePolicyRegistryOutageIsRetryable: a registry that cannot say
// what is attached gives Errored, never Failed.
func TestImagePolicyRegistryOutageIsRetryable(t *testing.T) {
	down := regtest.FailRequests(func(r *http.Request) bool {
		return strings.Contains(r.URL.Path, "/referrers/") || strings.Contains(r.URL.Path, "/manifests/sha256-")
	}, 1000, http.StatusServiceUnavailable, "")
	f := newPolicyFixture(t, fixtureOpt{regMW: down})
	before := f.tip(t)
	res := f.promote(t, f.policy(t, true), nil)
	wantStatus(t, res, kargo.StatusErrored, false)
	if !strings.Contains(res.Message, "imagePolicy: looking up the signatures") {
		t.Errorf("message = %q", res.Message)
	}
	if f.tip(t) != before {
		t.Error("the branch moved")
	}
}

func TestImagePolicyConfigProblems(t *testing.T) {
	f := newPolicyFixture(t, fixtureOpt{})
	cases := []struct {
		policy map[string]any
		want   string
	}{
		{map[string]any{"provenance": map[string]any{"builders": []string{"b"}}}, "/imagePolicy/provenance: names no signer"},
		{map[string]any{"signature": map[string]any{"identityRegExp": "(", "issuer": "i"}}, "/imagePolicy: signature.identityRegExp: error parsing regexp"},
		{map[string]any{"signature": map[string]any{"identity": "a"}}, "exactly one of issuer and issuerRegExp"},
		{map[string]any{"trustedRoot": "x", "trustedRootFile": "/y", "signature": map[string]any{"publicKey": "k", "ignoreTransparencyLog": true}}, "trustedRoot and trustedRootFile are exclusive"},
		{map[string]any{"signature": map[string]any{"identity": "a", "issuer": "b", "builders": []string{"x"}}}, "builders"},
	}
	for _, c := range cases {
		res := f.promote(t, map[string]any{"imagePolicy": c.policy}, nil)
		wantStatus(t, res, kargo.StatusFailed, true)
		if !strings.Contains(res.Message, c.want) {
			b, _ := json.Marshal(c.policy)
			t.Errorf("%s: message %q lacks %q", b, res.Message, c.want)
		}
	}
}

// TestImagePolicyRequestBudget: on a warm process, a verification with
// the production policy costs the registry the digest check, the
// referrers list, and a manifest and a blob for each of the two bundles;
// on a registry without the referrers API one more, for the tag schema's
// index. No token request, and the GitOps and source servers see nothing
// more than without a policy.
func TestImagePolicyRequestBudget(t *testing.T) {
	for _, api := range []bool{true, false} {
		name, want := "referrers API", 6
		var opts []regtest.Option
		if api {
			opts = append(opts, regtest.WithReferrersAPI())
		} else {
			name, want = "referrers tag schema", 7
		}
		t.Run(name, func(t *testing.T) {
			f := newPolicyFixture(t, fixtureOpt{regOpts: opts})
			f.sign(t, f.ci, f.digest)
			f.attest(t, f.srcCommit, f.builder)
			verify := func() Result {
				res := f.runner.Run(context.Background(), KindVerify, f.context("staging"), f.config(t, f.policy(t, true)), Options{Truster: verifyInProcess{}})
				wantStatus(t, res, kargo.StatusSucceeded, false)
				return res
			}
			verify()
			f.reg.ResetCounters()
			f.git.ResetStats()
			verify()
			if got, tokens := f.reg.Requests(), f.reg.TokenRequests(); got != want || tokens != 0 {
				t.Errorf("registry requests %d (tokens %d), want %d and 0", got, tokens, want)
			}
			withoutPolicy := f.git.Stats().Requests
			f.git.ResetStats()
			wantStatus(t, f.run(t, KindVerify, "staging", nil), kargo.StatusSucceeded, false)
			if got := f.git.Stats().Requests; got != withoutPolicy {
				t.Errorf("Git requests with the policy %d, without %d", withoutPolicy, got)
			}
		})
	}
}
