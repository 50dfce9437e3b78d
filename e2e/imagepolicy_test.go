package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/sigstoretest"
	"github.com/argo-refs/argo-refs/warehouse"
)

const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// TestImagePolicyThroughTheBinaries: argo-refs runs argo-refs-trust from
// next to itself, as in the image. verify with cosign's flags passes for
// the image CI signed and attested and names who signed it; with another
// required identity it fails (exit 1) naming both; publish refuses to
// record an unsigned image and writes nothing.
func TestImagePolicyThroughTheBinaries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ss := sigstoretest.New(t)
	repo := strings.TrimSuffix(f.sourceURL, ".git")
	ci := sigstoretest.GitHubWorkflow(repo, ".github/workflows/publish.yml", "refs/heads/main", f.srcCommit)
	pushBundle := func(digest, pred string, bundle []byte) {
		f.reg.PushReferrer(t, imageRepo, digest, bundleType, bundleType, bundle,
			map[string]string{"dev.sigstore.bundle.predicateType": pred})
	}
	pushBundle(f.digest, sigstoretest.PredicateSign, ss.SignImage(t, ci, f.digest))
	pushBundle(f.digest, sigstoretest.PredicateSLSAv1, ss.Attest(t, ci, f.digest, sigstoretest.PredicateSLSAv1,
		sigstoretest.SLSAv1(repo, "refs/heads/main", f.srcCommit, ci.SAN)))

	s := newSandbox(t)
	cfg := s.writeFile(t, "config.yaml", f.configYAML(""))
	root := s.writeFile(t, "trusted_root.json", ss.TrustedRoot(t))
	policy := []string{"--trusted-root=" + root, "--certificate-identity=" + ci.SAN,
		"--certificate-oidc-issuer=" + sigstoretest.GitHubIssuer, "--provenance-builder=" + ci.SAN}

	r := s.runStep(t, nil, stepArgs("verify", "staging", f.freight, append([]string{"--config=" + cfg}, policy...)...)...)
	wantCode(t, r, 0)
	for _, want := range []string{"imageSignature", ci.SAN, "imageProvenance", f.srcCommit} {
		if !strings.Contains(r.rawOutputs, want) {
			t.Errorf("outputs lack %q:\n%s", want, r.rawOutputs)
		}
	}

	fork := "--certificate-identity=https://github.com/evil/fork/.github/workflows/publish.yml@refs/heads/main"
	r = s.runStep(t, nil, stepArgs("verify", "staging", f.freight, "--config="+cfg, "--trusted-root="+root, fork,
		"--certificate-oidc-issuer="+sigstoretest.GitHubIssuer)...)
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, `signed by "`+ci.SAN+`"`) || !strings.Contains(r.stderr, "required \"https://github.com/evil/fork/") {
		t.Errorf("stderr does not name who signed and who was required:\n%s", r.stderr)
	}

	// publish: the next build's image is unsigned.
	next := gittest.CommitFiles(t, f.git.Dir("source.git"), "main", map[string]string{"BUILD": "2\n"}, "next")
	tag := imageRepo + ":git-" + next
	digest := f.reg.PushImage(t, tag, nil)
	out := filepath.Join(s.out, "records")
	env := []string{"ARGO_REFS_REGISTRY_USERNAME=" + regUser, "ARGO_REFS_REGISTRY_PASSWORD=" + secret}
	args := append([]string{"publish", "--output-dir", out, "--git-commit", next, "--image-ref", f.reg.Ref(tag), "--image-digest", digest,
		"--source-repo", f.sourceURL}, policy...)
	r = s.runStep(t, env, args...)
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "refusing to record") || !strings.Contains(r.stderr, "no signature of") {
		t.Errorf("publish stderr:\n%s", r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("publish wrote records for an image it refused (%v)", err)
	}
	// Once CI has signed and attested it, the same command records it.
	nextCI := sigstoretest.GitHubWorkflow(repo, ".github/workflows/publish.yml", "refs/heads/main", next)
	pushBundle(digest, sigstoretest.PredicateSign, ss.SignImage(t, nextCI, digest))
	pushBundle(digest, sigstoretest.PredicateSLSAv1, ss.Attest(t, nextCI, digest, sigstoretest.PredicateSLSAv1,
		sigstoretest.SLSAv1(repo, "refs/heads/main", next, ci.SAN)))
	r = s.runStep(t, env, args...)
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "image policy: signed by "+ci.SAN+"; built by "+ci.SAN) {
		t.Errorf("publish stdout:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(out, warehouse.HistoricalName(next))); err != nil {
		t.Errorf("the record was not written: %v", err)
	}
}
