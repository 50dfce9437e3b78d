package step

// The dependencies of a chart being rendered that live in an OCI registry:
// pulled through the Runner's registry client, with its credential rules,
// and added to the chart as charts/<name>-<version>.tgz, as helm
// dependency build would.

import (
	"context"
	"fmt"
	"path"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/argo-refs/argo-refs/images"
)

// addOCIDependencies pulls the Chart.yaml dependencies of chart that are
// not vendored in charts/ and come from an oci:// repository at an exact
// version. Others are left for the renderer to name as missing.
func (r *runner) addOCIDependencies(ctx context.Context, chart map[string][]byte) error {
	var meta struct {
		Dependencies []struct {
			Name       string `json:"name"`
			Version    string `json:"version"`
			Repository string `json:"repository"`
		} `json:"dependencies"`
	}
	if err := yaml.Unmarshal(chart["Chart.yaml"], &meta); err != nil {
		return nil // the renderer reports a bad Chart.yaml
	}
	var client *images.Client
	for _, d := range meta.Dependencies {
		repo, ok := strings.CutPrefix(d.Repository, "oci://")
		if !ok || vendored(chart, d.Name) {
			continue
		}
		if strings.ContainsAny(d.Version, "^~*<>=| xX") || d.Version == "" {
			return Terminal(fmt.Errorf("%w: the chart's dependency %s from %s asks for version %q; an OCI dependency is pulled at an exact version: pin one, or vendor it in charts/", ErrRender, d.Name, d.Repository, d.Version))
		}
		if client == nil {
			var err error
			if client, err = r.registryClient(); err != nil {
				return err
			}
		}
		ref := strings.TrimSuffix(repo, "/") + "/" + d.Name + ":" + d.Version
		tgz, err := client.PullChart(ctx, ref)
		if err != nil {
			return fmt.Errorf("rendering: pulling the chart's dependency %s: %w", ref, err)
		}
		chart[path.Join("charts", d.Name+"-"+d.Version+".tgz")] = tgz
	}
	return nil
}

// vendored reports whether the chart carries dependency name in charts/,
// unpacked or packaged.
func vendored(chart map[string][]byte, name string) bool {
	for p := range chart {
		rest, ok := strings.CutPrefix(p, "charts/")
		if !ok {
			continue
		}
		if strings.HasPrefix(rest, name+"/") || (strings.HasPrefix(rest, name+"-") && strings.HasSuffix(rest, ".tgz") && !strings.Contains(rest, "/")) {
			return true
		}
	}
	return false
}
