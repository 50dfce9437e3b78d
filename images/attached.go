package images

// What is attached to an image digest: Sigstore bundles among its OCI 1.1
// referrers (or the referrers tag schema's index on a registry without the
// API), and cosign's signature tag sha256-<hex>.sig. Bytes only: whether
// any of it proves anything is argo-refs-trust's to decide.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Media types and annotations of attached signatures and attestations.
const (
	// BundleMediaTypePrefix starts every Sigstore bundle media type
	// (application/vnd.dev.sigstore.bundle.v0.3+json and the older
	// ...bundle+json;version=0.x).
	BundleMediaTypePrefix = "application/vnd.dev.sigstore.bundle"
	// BundlePredicateTypeAnnotation says, on a referrer, which in-toto
	// predicate its bundle holds (cosign's bundle spec).
	BundlePredicateTypeAnnotation = "dev.sigstore.bundle.predicateType"
	// SimpleSigningMediaType is a cosign signature layer's media type.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	createdAnnotation      = "org.opencontainers.image.created"
)

// Limits on what is read for attachments.
const (
	maxReferrersBytes = 1 << 20
	maxBundleBytes    = 1 << 20
	maxPayloadBytes   = 64 << 10
	// maxAttached bounds the bundles (and signature layers) fetched for
	// one question, newest first: a digest may have many referrers.
	maxAttached = 8
)

// AttachedQuery says what to look for.
type AttachedQuery struct {
	// Signatures asks for signature bundles (a bundle annotated with
	// SignaturePredicate, or not annotated) and, when the referrers hold
	// none, the cosign signature tag.
	Signatures bool
	// SignaturePredicate is the predicate type of a signature bundle.
	SignaturePredicate string
	// Attestations asks for bundles annotated with one of these predicate
	// types (or not annotated).
	Attestations []string
}

// Attached is what was found.
type Attached struct {
	Bundles []AttachedBundle
	Legacy  []SignatureLayer
	// Looked says where, for messages.
	Looked []string
	// Requests counts the registry requests made.
	Requests int
}

// AttachedBundle is one Sigstore bundle found among the referrers.
type AttachedBundle struct {
	// Where names the referrer manifest.
	Where string
	JSON  []byte
}

// SignatureLayer is one layer of a cosign signature manifest.
type SignatureLayer struct {
	Where       string
	Payload     []byte
	Annotations map[string]string
}

// Attached returns what is attached to digest in repository repo (host and
// path, as in an image reference). Nothing found is no error; the errors
// are the package's sentinels (ErrUnavailable for an outage).
func (c *Client) Attached(ctx context.Context, repo, digest string, q AttachedQuery) (Attached, error) {
	a, err := c.attached(ctx, repo, digest, q)
	return a, withContext(ctx, err)
}

func (c *Client) attached(ctx context.Context, repoStr, digest string, q AttachedQuery) (Attached, error) {
	var a Attached
	if !validDigest(digest) {
		return a, fmt.Errorf("%w: digest %q: want sha256:<64 lowercase hex>", ErrInvalidReference, digest)
	}
	r, err := ParseReference(repoStr + "@" + digest)
	if err != nil {
		return a, err
	}
	repo := r.Context()
	rt, err := c.transportFor(ctx, repo)
	if err != nil {
		return a, fmt.Errorf("looking for what is attached to %s: %w", digest, err)
	}
	idx, where, err := c.referrers(ctx, rt, repo, digest, &a)
	if err != nil {
		return a, err
	}
	a.Looked = append(a.Looked, where)
	sigs := 0
	for _, d := range pickBundles(idx, q) {
		if q.Signatures && (d.Annotations[BundlePredicateTypeAnnotation] == "" || d.Annotations[BundlePredicateTypeAnnotation] == q.SignaturePredicate) {
			sigs++
		}
		b, ok, err := c.referrerBundle(ctx, rt, repo, digest, d, &a)
		if err != nil {
			return a, err
		}
		if ok {
			a.Bundles = append(a.Bundles, AttachedBundle{Where: "referrer " + d.Digest.String(), JSON: b})
		}
	}
	if q.Signatures && sigs == 0 {
		if err := c.signatureTag(ctx, rt, repo, digest, &a); err != nil {
			return a, err
		}
	}
	return a, nil
}

// referrers GETs the referrers of digest, or the referrers tag schema's
// index when the registry has no referrers API; none is an empty list.
func (c *Client) referrers(ctx context.Context, rt http.RoundTripper, repo name.Repository, digest string, a *Attached) ([]v1.Descriptor, string, error) {
	u := fmt.Sprintf("%s://%s/v2/%s/referrers/%s", c.scheme(repo.Registry), repo.RegistryStr(), repo.RepositoryStr(), digest)
	where := "referrers of " + repo.String()
	body, found, err := c.getIndex(ctx, rt, u, a)
	if err != nil {
		return nil, where, fmt.Errorf("listing the referrers of %s: %w", digest, err)
	}
	if !found {
		// No referrers API: the referrers tag schema (OCI distribution
		// spec 1.1), which cosign and GitHub's attest actions maintain.
		tag := strings.Replace(digest, ":", "-", 1)
		where = fmt.Sprintf("referrers tag %s:%s", repo, tag)
		if body, found, err = c.getIndex(ctx, rt, c.manifestURL(repo, tag), a); err != nil {
			return nil, where, fmt.Errorf("reading the referrers tag %s: %w", tag, err)
		}
		if !found {
			return nil, where, nil
		}
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(body))
	if err != nil {
		return nil, where, fmt.Errorf("%w: reading the %s: %w", ErrUnavailable, where, err)
	}
	return idx.Manifests, where, nil
}

// getIndex GETs an image index; found is false on 404.
func (c *Client) getIndex(ctx context.Context, rt http.RoundTripper, u string, a *Attached) ([]byte, bool, error) {
	a.Requests++
	resp, err := c.send(ctx, rt, http.MethodGet, u, []string{"application/vnd.oci.image.index.v1+json"})
	if err != nil {
		return nil, false, classify(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, classify(transport.CheckError(resp, http.StatusOK))
	}
	body, err := readLimited(resp.Body, maxReferrersBytes)
	if err != nil {
		return nil, false, classify(err)
	}
	return body, true, nil
}

// pickBundles keeps the referrers that are Sigstore bundles of a wanted
// kind, newest first, at most maxAttached.
func pickBundles(ms []v1.Descriptor, q AttachedQuery) []v1.Descriptor {
	want := map[string]bool{}
	if q.Signatures {
		want[q.SignaturePredicate] = true
	}
	for _, p := range q.Attestations {
		want[p] = true
	}
	var out []v1.Descriptor
	for _, d := range ms {
		if !strings.HasPrefix(d.ArtifactType, BundleMediaTypePrefix) || !validDigest(d.Digest.String()) {
			continue
		}
		if p := d.Annotations[BundlePredicateTypeAnnotation]; p != "" && !want[p] {
			continue
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Annotations[createdAnnotation] > out[j].Annotations[createdAnnotation]
	})
	if len(out) > maxAttached {
		out = out[:maxAttached]
	}
	return out
}

// referrerBundle reads a referrer manifest and its bundle layer; ok is
// false when the manifest is gone or is not a bundle about digest.
func (c *Client) referrerBundle(ctx context.Context, rt http.RoundTripper, repo name.Repository, digest string, d v1.Descriptor, a *Attached) ([]byte, bool, error) {
	a.Requests++
	_, body, err := c.getManifest(ctx, rt, repo.Digest(d.Digest.String()))
	if isNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading referrer %s: %w", d.Digest, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(body))
	if err != nil || m.Subject == nil || m.Subject.Digest.String() != digest {
		// Listed by a tag schema index anyone may push, but about
		// something else: not attached.
		return nil, false, nil
	}
	for _, l := range m.Layers {
		if !strings.HasPrefix(string(l.MediaType), BundleMediaTypePrefix) || !validDigest(l.Digest.String()) {
			continue
		}
		if l.Size > maxBundleBytes {
			return nil, false, fmt.Errorf("%w: referrer %s: the bundle is %d bytes, over %d", ErrInvalidReference, d.Digest, l.Size, maxBundleBytes)
		}
		a.Requests++
		b, err := c.getBlob(ctx, rt, repo, l.Digest.String(), maxBundleBytes)
		if err != nil {
			return nil, false, fmt.Errorf("reading the bundle of referrer %s: %w", d.Digest, err)
		}
		return b, true, nil
	}
	return nil, false, nil
}

// signatureTag reads cosign's signature manifest sha256-<hex>.sig.
func (c *Client) signatureTag(ctx context.Context, rt http.RoundTripper, repo name.Repository, digest string, a *Attached) error {
	tag := strings.Replace(digest, ":", "-", 1) + ".sig"
	a.Looked = append(a.Looked, fmt.Sprintf("signature tag %s:%s", repo, tag))
	a.Requests++
	_, body, err := c.getManifest(ctx, rt, repo.Tag(tag))
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the signature tag %s: %w", tag, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: reading the signature tag %s: %w", ErrUnavailable, tag, err)
	}
	n := 0
	for _, l := range m.Layers {
		if string(l.MediaType) != SimpleSigningMediaType || !validDigest(l.Digest.String()) || n == maxAttached {
			continue
		}
		n++
		if l.Size > maxPayloadBytes {
			return fmt.Errorf("%w: signature tag %s: a payload is %d bytes, over %d", ErrInvalidReference, tag, l.Size, maxPayloadBytes)
		}
		a.Requests++
		p, err := c.getBlob(ctx, rt, repo, l.Digest.String(), maxPayloadBytes)
		if err != nil {
			return fmt.Errorf("reading the signature tag %s: %w", tag, err)
		}
		a.Legacy = append(a.Legacy, SignatureLayer{Where: fmt.Sprintf("signature tag %s layer %d", tag, n), Payload: p, Annotations: l.Annotations})
	}
	return nil
}

func isNotFound(err error) bool {
	return err != nil && errors.Is(err, ErrNotFound)
}

// String is Attached as JSON without the bundles' bytes, for tests and
// logs.
func (a Attached) String() string {
	type short struct {
		Bundles, Legacy int
		Looked          []string
		Requests        int
	}
	b, _ := json.Marshal(short{len(a.Bundles), len(a.Legacy), a.Looked, a.Requests})
	return string(b)
}
