package render

// Helm charts, as Argo CD's repo server renders them: `helm template`
// (client only, hooks and CRDs included) with the release name, namespace,
// value files, inline values and parameters of the Application's source.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/argo-refs/argo-refs/render/spec"
)

func helm(ctx context.Context, h *spec.Helm) spec.Output {
	fail := func(format string, args ...any) spec.Output {
		return spec.Output{Error: fmt.Sprintf(format, args...)}
	}
	if _, ok := h.Chart["Chart.yaml"]; !ok {
		return fail("the chart has no Chart.yaml")
	}
	names := make([]string, 0, len(h.Chart))
	for n := range h.Chart {
		names = append(names, n)
	}
	slices.Sort(names)
	files := make([]*archive.BufferedFile, 0, len(names))
	for _, n := range names {
		files = append(files, &archive.BufferedFile{Name: n, Data: h.Chart[n]})
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return fail("loading the chart: %v", err)
	}
	if missing := missingDependencies(ch); len(missing) > 0 {
		return spec.Output{
			Error:   "the chart's dependencies " + strings.Join(missing, ", ") + " are neither vendored in charts/ nor fetched; vendor them (helm dependency build, and commit charts/) or publish them to an OCI registry",
			Missing: missing,
		}
	}
	vals := map[string]any{}
	for i, data := range h.ValueFiles {
		m, err := loader.LoadValues(bytes.NewReader(data))
		if err != nil {
			name := fmt.Sprintf("value file %d", i+1)
			if i < len(h.ValueFileNames) {
				name = h.ValueFileNames[i]
			}
			return fail("reading %s: %v", name, err)
		}
		vals = loader.MergeMaps(vals, m)
	}
	if strings.TrimSpace(h.Values) != "" {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(h.Values), &m); err != nil {
			return fail("reading the inline values: %v", err)
		}
		vals = loader.MergeMaps(vals, m)
	}
	for _, p := range h.Parameters {
		parse := strvals.ParseInto
		if p.ForceString {
			parse = strvals.ParseIntoString
		}
		if err := parse(p.Name+"="+p.Value, vals); err != nil {
			return fail("parameter %s: %v", p.Name, err)
		}
	}

	cfg := action.NewConfiguration()
	cfg.SetLogger(slog.DiscardHandler)
	inst := action.NewInstall(cfg)
	inst.DryRunStrategy = action.DryRunClient
	inst.Replace = true
	inst.ReleaseName = h.ReleaseName
	inst.Namespace = h.Namespace
	inst.IncludeCRDs = !h.SkipCRDs
	inst.APIVersions = common.VersionSet(h.APIVersions)
	if h.KubeVersion != "" {
		kv, err := common.ParseKubeVersion(h.KubeVersion)
		if err != nil {
			return fail("kubeVersion %q: %v", h.KubeVersion, err)
		}
		inst.KubeVersion = kv
	}
	r, err := inst.RunWithContext(ctx, ch, vals)
	if err != nil {
		return fail("%v", err)
	}
	rel, ok := r.(*release.Release)
	if !ok {
		return fail("helm returned a %T, not a v1 release", r)
	}
	// As `helm template` prints them: the manifest, then every hook.
	var b strings.Builder
	b.WriteString(strings.TrimSpace(rel.Manifest))
	for _, hk := range rel.Hooks {
		fmt.Fprintf(&b, "\n---\n# Source: %s\n%s", hk.Path, strings.TrimSpace(hk.Manifest))
	}
	b.WriteString("\n")
	return spec.Output{Manifests: b.String()}
}

// missingDependencies names the Chart.yaml dependencies, enabled or not,
// that the chart does not carry.
func missingDependencies(ch *chart.Chart) []string {
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	var missing []string
	for _, d := range ch.Metadata.Dependencies {
		if !have[d.Name] {
			m := d.Name
			if d.Repository != "" {
				m += " " + d.Version + " from " + d.Repository
			}
			missing = append(missing, m)
		}
	}
	return missing
}
