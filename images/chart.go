package images

// Helm charts stored in OCI registries, for the dependencies of a chart
// being rendered.

import (
	"bytes"
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// HelmChartLayer is the media type of a Helm chart's packaged content in
// an OCI registry (helm push).
const HelmChartLayer = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// maxChartBytes bounds a packaged chart read from a registry.
const maxChartBytes = 16 << 20

// PullChart returns the packaged chart (a .tgz) that ref, a chart's
// repository and tag as helm pull takes them without oci://, points at;
// the bytes are checked against their digest. The credentials rules are
// the client's: a registry other than theirs is read anonymously.
func (c *Client) PullChart(ctx context.Context, ref string) ([]byte, error) {
	b, err := c.pullChart(ctx, ref)
	return b, withContext(ctx, err)
}

func (c *Client) pullChart(ctx context.Context, ref string) ([]byte, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	repo := r.Context()
	rt, err := c.transportFor(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("pulling chart %s: %w", ref, err)
	}
	_, body, err := c.getManifest(ctx, rt, r)
	if err != nil {
		return nil, fmt.Errorf("pulling chart %s: %w", ref, err)
	}
	man, err := v1.ParseManifest(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("pulling chart %s: parsing the manifest: %w", ref, err)
	}
	for _, l := range man.Layers {
		if string(l.MediaType) != HelmChartLayer {
			continue
		}
		if l.Size > maxChartBytes {
			return nil, fmt.Errorf("pulling chart %s: the chart is %d bytes, over %d", ref, l.Size, maxChartBytes)
		}
		dg := l.Digest.String()
		if !validDigest(dg) {
			return nil, fmt.Errorf("pulling chart %s: layer digest %q: want sha256:<64 hex>", ref, dg)
		}
		return c.getBlob(ctx, rt, repo, dg, maxChartBytes)
	}
	return nil, fmt.Errorf("%w: %s is not a Helm chart (no %s layer)", ErrNotFound, ref, HelmChartLayer)
}
