package step

// The image policy: what the recorded digest must prove besides being what
// the tag serves. argo-refs finds the signatures and attestations attached
// to the digest in the registry; argo-refs-trust verifies them.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/argo-refs/argo-refs/images"
	"github.com/argo-refs/argo-refs/trust/spec"
	"github.com/argo-refs/argo-refs/warehouse"
)

// Output keys of the image policy: what was verified, for later steps (a
// set-metadata step, a pull request's description).
const (
	OutputImageSignature  = "imageSignature"
	OutputImageProvenance = "imageProvenance"
)

// maxTrustedRootFile bounds a trustedRootFile.
const maxTrustedRootFile = 1 << 20

// ErrImagePolicy means the image does not meet the stage's image policy:
// unsigned, signed by someone else, or built from something else. Terminal,
// but for a public-good trusted root that could not be fetched.
var ErrImagePolicy = errors.New("the image does not meet the image policy")

// resolveImagePolicy turns the config's imagePolicy into the policy
// argo-refs-trust checks, reporting problems under /imagePolicy.
func resolveImagePolicy(c *ImagePolicy, add func(ptr, format string, args ...any)) *spec.Policy {
	p, problems := c.policy()
	for _, pr := range problems {
		add(pr.ptr, "%s", pr.msg)
	}
	return p
}

// Policy is the policy argo-refs-trust checks; a *ConfigError lists what
// makes it unusable.
func (c *ImagePolicy) Policy() (*spec.Policy, error) {
	p, ps := c.policy()
	if len(ps) > 0 {
		return nil, configError(ps)
	}
	return p, nil
}

func (c *ImagePolicy) policy() (*spec.Policy, []problem) {
	var ps []problem
	p := &spec.Policy{}
	if c.Signature != nil {
		s := *c.Signature
		p.Signature = &s
	}
	if pr := c.Provenance; pr != nil {
		s := pr.Signer
		if s == (spec.Signer{}) {
			if p.Signature == nil {
				ps = append(ps, problem{"/imagePolicy/provenance", "names no signer (publicKey, or identity and issuer), and there is no signature section to take it from"})
			} else {
				s = *p.Signature
			}
		}
		p.Provenance = &spec.Provenance{Signer: s, Builders: pr.Builders}
	}
	if c.TrustedRoot != "" && c.TrustedRootFile != "" {
		ps = append(ps, problem{"/imagePolicy", "trustedRoot and trustedRootFile are exclusive"})
	}
	for _, msg := range p.Problems() {
		ps = append(ps, problem{"/imagePolicy", msg})
	}
	return p, ps
}

// ReadTrustedRoot returns the policy's trusted root: the file's content,
// the config's, or spec.PublicGood.
func (c *ImagePolicy) ReadTrustedRoot() (string, error) {
	if c.TrustedRootFile == "" {
		if c.TrustedRoot == "" {
			return spec.PublicGood, nil
		}
		return c.TrustedRoot, nil
	}
	f, err := os.Open(c.TrustedRootFile)
	if err != nil {
		return "", Terminal(fmt.Errorf("imagePolicy.trustedRootFile: %w", err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTrustedRootFile+1))
	if err != nil {
		return "", Terminal(fmt.Errorf("imagePolicy.trustedRootFile: %w", err))
	}
	if len(b) > maxTrustedRootFile {
		return "", Terminal(fmt.Errorf("imagePolicy.trustedRootFile %s is over %d bytes", c.TrustedRootFile, maxTrustedRootFile))
	}
	return string(b), nil
}

// checkImagePolicy checks the record's image against the plan's policy.
func (r *runner) checkImagePolicy(ctx context.Context, rec *warehouse.Record) (*spec.Response, error) {
	root, err := r.plan.Config.ImagePolicy.ReadTrustedRoot()
	if err != nil {
		return nil, err
	}
	client, err := r.registryClient()
	if err != nil {
		return nil, err
	}
	res, requests, err := VerifyImagePolicy(ctx, client, r.opts.Truster, *r.plan.ImagePolicy, root, rec)
	if err != nil {
		return nil, err
	}
	r.log.Info("image policy met", "digest", rec.Image.Digest, "requests", requests,
		"signedBy", signedBy(res.Signature), "builder", builderOf(res.Provenance))
	return res, nil
}

// VerifyImagePolicy checks rec's image against pol: client finds what is
// attached to the recorded digest, truster (nil: ExecTruster) verifies it
// with trustedRoot (a trusted_root.json's content, or spec.PublicGood). It
// returns what was verified and the registry requests made. A failure
// wraps ErrImagePolicy, Terminal unless a retry may pass; a registry
// outage is the images package's ErrUnavailable.
func VerifyImagePolicy(ctx context.Context, client *images.Client, truster Truster, pol spec.Policy, trustedRoot string, rec *warehouse.Record) (*spec.Response, int, error) {
	q := images.AttachedQuery{Signatures: pol.Signature != nil, SignaturePredicate: spec.PredicateCosignSign}
	if pol.Provenance != nil {
		q.Attestations = []string{spec.PredicateSLSAv1, spec.PredicateSLSAv02}
	}
	repo := imageRepository(rec.Image.Ref)
	att, err := client.Attached(ctx, repo, rec.Image.Digest, q)
	if err != nil {
		return nil, att.Requests, fmt.Errorf("imagePolicy: looking up the signatures of %s@%s: %w", repo, rec.Image.Digest, err)
	}
	req := spec.Request{Version: spec.Version, Digest: rec.Image.Digest, Image: repo, SourceRepo: rec.Packaging.SourceRepo,
		GitCommit: rec.GitCommit, Policy: pol, TrustedRoot: trustedRoot, Looked: att.Looked}
	for _, b := range att.Bundles {
		req.Bundles = append(req.Bundles, spec.Bundle{Where: b.Where, JSON: b.JSON})
	}
	for _, l := range att.Legacy {
		req.Legacy = append(req.Legacy, spec.LegacySignature{Where: l.Where, Payload: l.Payload,
			Signature:        l.Annotations["dev.cosignproject.cosign/signature"],
			Certificate:      l.Annotations["dev.sigstore.cosign/certificate"],
			Chain:            l.Annotations["dev.sigstore.cosign/chain"],
			RekorBundle:      l.Annotations["dev.sigstore.cosign/bundle"],
			RFC3161Timestamp: l.Annotations["dev.sigstore.cosign/rfc3161timestamp"]})
	}
	if truster == nil {
		truster = ExecTruster{}
	}
	res, err := truster.Verify(ctx, req)
	if err != nil {
		return nil, att.Requests, fmt.Errorf("imagePolicy: %w", err)
	}
	if f := res.Failure; f != nil {
		err := fmt.Errorf("%s: %w: %s: %s", rec.ReleaseID, ErrImagePolicy, f.Rule, f.Message)
		if f.Retryable {
			return nil, att.Requests, err
		}
		return nil, att.Requests, Terminal(err)
	}
	return &res, att.Requests, nil
}

func signedBy(s *spec.VerifiedSignature) string {
	switch {
	case s == nil:
		return ""
	case s.KeyID != "":
		return s.KeyID
	}
	return s.Identity
}

func builderOf(p *spec.VerifiedProvenance) string {
	if p == nil {
		return ""
	}
	return p.Builder
}

// imagePolicyOutputs are the outputs naming what the policy verified.
func imagePolicyOutputs(res *spec.Response, output map[string]any) {
	if res == nil {
		return
	}
	if s := res.Signature; s != nil {
		output[OutputImageSignature] = plainJSON(s)
	}
	if p := res.Provenance; p != nil {
		output[OutputImageProvenance] = plainJSON(p)
	}
}
