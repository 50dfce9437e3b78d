package step

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/layout"
	"github.com/argo-refs/argo-refs/render"
	"github.com/argo-refs/argo-refs/render/spec"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/warehouse"
)

// inProcess renders in the test's process, as argo-refs-render would.
type inProcess struct{ calls *int }

func (p inProcess) Render(ctx context.Context, req spec.Request) (spec.Response, error) {
	if p.calls != nil {
		*p.calls++
	}
	return render.Render(ctx, req)
}

// chartPassword is the chart's Secret value, which no output may show.
const chartPassword = "chart-S3cret-never-shown"

// chartAt is the codeai chart as a release changes it: templates that use
// values, a helper, a vendored subchart, a Secret and a ConfigMap.
func chartAt(replicas, configLine, secretExtra string) map[string]string {
	return map[string]string{
		"k8s/helm/Chart.yaml":             "apiVersion: v2\nname: codeai\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 1.0.0\n",
		"k8s/helm/values.yaml":            "replicas: " + replicas + "\nimage: none\npassword: default\n",
		"k8s/helm/templates/_helpers.tpl": `{{- define "codeai.fullname" -}}codeai-{{ .Release.Name }}{{- end -}}` + "\n",
		"k8s/helm/templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"codeai.fullname\" . }}\n  namespace: {{ .Release.Namespace }}\n" +
			"spec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n      containers:\n        - name: web\n          image: {{ .Values.image }}\n",
		"k8s/helm/templates/secret.yaml":               "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ include \"codeai.fullname\" . }}\nstringData:\n  password: {{ .Values.password }}\n" + secretExtra,
		"k8s/helm/templates/configmap.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"codeai.fullname\" . }}\ndata:\n  setting: " + configLine + "\n",
		"k8s/helm/charts/redis/Chart.yaml":             "apiVersion: v2\nname: redis\nversion: 1.0.0\n",
		"k8s/helm/charts/redis/templates/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-redis\nspec:\n  ports: [{port: 6379}]\n",
	}
}

// renderFixture is the step fixture with the chart in the source
// repository, the ApplicationSet and envType values in the GitOps
// repository, and the stage already at release a; release b changes
// replicas (through the chart), the ConfigMap and the image.
type renderFixture struct {
	*fixture
	a, b release
}

func newRenderFixture(t *testing.T) *renderFixture {
	t.Helper()
	f := &renderFixture{fixture: newFixture(t, fixtureOpt{})}
	src := f.git.Dir("source.git")
	gittest.CommitFiles(t, src, "main", chartAt("1", "one", ""), "chart v1")
	f.a = f.publishNext(t)
	gittest.CommitFiles(t, src, "main", chartAt("2", "two", "  token: t-{{ .Values.password }}\n"), "chart v2")
	f.b = f.publishNext(t)
	gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{
		"apps/codeai/applicationset.yaml":          layout.ApplicationSet(f.gitopsURL, f.sourceURL),
		"apps/codeai/envTypes/staging.values.yaml": "password: " + chartPassword + "\n",
	}, "appset")
	// The stage at release a, promoted without a render.
	res := f.runAt(t, f.a, nil, Options{})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	return f
}

func (f *renderFixture) runAt(t *testing.T, r release, extra map[string]any, opts Options) Result {
	t.Helper()
	sc := f.context("staging")
	sc.Freight.Items[whKey] = freightAt(f.fixture, r.freight)
	res := f.runner.Run(t.Context(), KindPromote, sc, f.config(t, extra), opts)
	f.assertNoLeak(t, res)
	return res
}

// TestRenderedReviewHelm: promoting b renders the chart at a and at b with
// the ApplicationSet's value files and release name, and reviews the
// difference; the Secret's value shows nowhere.
func TestRenderedReviewHelm(t *testing.T) {
	f := newRenderFixture(t)
	calls := 0
	res := f.runAt(t, f.b, map[string]any{"render": map[string]any{}}, Options{Renderer: inProcess{&calls}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if calls != 1 {
		t.Errorf("%d render calls, want 1 (both sides in one)", calls)
	}
	sum, _ := json.MarshalIndent(res.Output[OutputRenderSummary], "", "  ")
	md, _ := res.Output[OutputReviewMarkdown].(string)
	golden := filepath.Join("testdata", "render", "helm.golden")
	got := f.anonymize(res.Review + "\n--- summary\n" + string(sum) + "\n--- markdown\n" + md)
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("ARGO_REFS_UPDATE_GOLDEN") != "" {
		_ = os.WriteFile(golden, []byte(got), 0o644)
	}
	if got != string(want) {
		t.Errorf("the review differs from %s; got:\n%s", golden, got)
	}
	for where, text := range map[string]string{"review": res.Review, "summary": string(sum), "markdown": md, "logs": f.logs.String()} {
		if strings.Contains(text, chartPassword) {
			t.Errorf("the Secret's value shows in the %s", where)
		}
	}
}

// anonymize replaces what changes from run to run (commit IDs, digests,
// the registry's port) with names.
func (f *renderFixture) anonymize(s string) string {
	return strings.NewReplacer(
		f.a.src, "<A>", f.b.src, "<B>", f.a.src[:7], "<a>", f.b.src[:7], "<b>",
		f.a.digest, "<digest-a>", f.b.digest, "<digest-b>", f.reg.Host, "<registry>",
	).Replace(s)
}

// TestRenderedReviewRefusals: a chart that no longer renders, and a change
// to a kind render.allowedKinds does not allow, fail the promotion with the
// reason, before anything is pushed.
func TestRenderedReviewRefusals(t *testing.T) {
	f := newRenderFixture(t)
	broken := chartAt("2", "two", "")
	broken["k8s/helm/templates/configmap.yaml"] = "{{ .Values.replicas | nosuchfunc }}\n"
	gittest.CommitFiles(t, f.git.Dir("source.git"), "main", broken, "broken chart")
	c := f.publishNext(t)
	tip := f.tip(t)
	res := f.runAt(t, c, map[string]any{"render": map[string]any{}}, Options{Renderer: inProcess{}})
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, `function "nosuchfunc" not defined`) || !strings.Contains(res.Message, "nothing was pushed") {
		t.Errorf("message: %s", res.Message)
	}
	if f.tip(t) != tip {
		t.Error("a release that does not render was pushed")
	}

	res = f.runAt(t, f.b, map[string]any{"render": map[string]any{"allowedKinds": []string{"Deployment", "ConfigMap"}}}, Options{Renderer: inProcess{}})
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, "does not allow changed Secret/codeai-staging") {
		t.Errorf("message: %s", res.Message)
	}
	if f.tip(t) != tip {
		t.Error("a change the policy refuses was pushed")
	}

	// failOnRenderError false: the broken release goes on, and says so.
	res = f.runAt(t, c, map[string]any{"render": map[string]any{"failOnRenderError": false}}, Options{Renderer: inProcess{}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	sum, _ := res.Output[OutputRenderSummary].(map[string]any)
	if e, _ := sum["renderError"].(string); !strings.Contains(e, "nosuchfunc") {
		t.Errorf("renderSummary.renderError = %q", e)
	}
}

// TestRenderedReviewFirstPromotion: a stage whose revision names nothing
// in the source repository yet shows every resource as added.
func TestRenderedReviewFirstPromotion(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	gittest.CommitFiles(t, f.git.Dir("source.git"), "main", chartAt("1", "one", ""), "chart")
	a := f.publishNext(t)
	sc := f.context("staging")
	sc.Freight.Items[whKey] = freightAt(f, a.freight)
	res := f.runner.Run(t.Context(), KindPromote, sc, f.config(t, nil), Options{DryRun: true, Render: true, Renderer: inProcess{}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	sum, _ := res.Output[OutputRenderSummary].(map[string]any)
	if sum["added"] != 4 || sum["from"] != "staging" || !strings.Contains(res.Review, "+ Secret/codeai-staging") {
		t.Errorf("summary %v\n%s", sum, res.Review)
	}
	if strings.Contains(res.Review, "default") && strings.Contains(res.Review, "password: default") {
		t.Error("the Secret's value shows")
	}
}

// baseAt is the Kustomize base at a release: a Deployment, a Service and a
// Secret generated from a literal, with the image name the deploy wrapper
// rewrites.
func baseAt(replicas, port string) map[string]string {
	return map[string]string{
		"k8s/kustomize/base/kustomization.yaml": "resources:\n  - deployment.yaml\n  - service.yaml\nsecretGenerator:\n  - name: creds\n    literals:\n      - password=" + chartPassword + "\n    options: {disableNameSuffixHash: true}\n",
		"k8s/kustomize/base/deployment.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: " + replicas + "\n  template:\n    spec:\n      containers:\n        - name: web\n          image: code-dot-org\n",
		"k8s/kustomize/base/service.yaml":       "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: " + port + "}]\n",
	}
}

// TestRenderedReviewKustomize: the deploy wrapper with its remote base at
// the stage's ref and at the release's, and the envType component from the
// GitOps repository.
func TestRenderedReviewKustomize(t *testing.T) {
	f := newFixture(t, fixtureOpt{kustomize: true})
	src := f.git.Dir("source.git")
	gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{
		"apps/codeai/envTypes/staging/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnamePrefix: staging-\n" +
			"patches:\n  - path: replicas.patch.yaml\n",
		"apps/codeai/envTypes/staging/replicas.patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    metadata:\n      labels: {tier: staging}\n",
	}, "envType")
	gittest.CommitFiles(t, src, "main", baseAt("1", "80"), "base v1")
	a := f.publishNextAs(t, warehouse.PackagingKustomize, "k8s/kustomize/base")
	gittest.CommitFiles(t, src, "main", baseAt("3", "8080"), "base v2")
	b := f.publishNextAs(t, warehouse.PackagingKustomize, "k8s/kustomize/base")
	targets := map[string]any{"targets": []any{map[string]any{"kustomization": map[string]any{}}}}
	run := func(r release, opts Options) Result {
		sc := f.context("staging")
		sc.Freight.Items[whKey] = freightAt(f, r.freight)
		res := f.runner.Run(t.Context(), KindPromote, sc, f.config(t, targets), opts)
		f.assertNoLeak(t, res)
		return res
	}
	wantStatus(t, run(a, Options{}), kargo.StatusSucceeded, false)
	res := run(b, Options{DryRun: true, Render: true, Renderer: inProcess{}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	rf := &renderFixture{fixture: f, a: a, b: b}
	got := rf.anonymize(res.Review)
	golden := filepath.Join("testdata", "render", "kustomize.golden")
	if os.Getenv("ARGO_REFS_UPDATE_GOLDEN") != "" {
		_ = os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the review differs from %s; got:\n%s", golden, got)
	}
	md, _ := res.Output[OutputReviewMarkdown].(string)
	for where, text := range map[string]string{"review": res.Review, "markdown": md, "logs": f.logs.String()} {
		if strings.Contains(text, chartPassword) {
			t.Errorf("the Secret's value shows in the %s", where)
		}
	}
}

// tgz packs files as helm package does: every path under one directory.
func tgz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRenderedReviewChartDependencies: a dependency in an OCI registry is
// pulled through the registry client (the registry's credentials), one
// from a Helm repository is named as missing.
func TestRenderedReviewChartDependencies(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	f.reg.PushChart(t, "charts/cache:2.1.0", tgz(t, map[string]string{
		"cache/Chart.yaml":                "apiVersion: v2\nname: cache\nversion: 2.1.0\n",
		"cache/templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-cache\n",
	}))
	chart := chartAt("1", "one", "")
	chart["k8s/helm/Chart.yaml"] = "apiVersion: v2\nname: codeai\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 1.0.0\n" +
		"  - name: cache\n    version: 2.1.0\n    repository: oci://" + f.reg.Host + "/charts\n"
	gittest.CommitFiles(t, f.git.Dir("source.git"), "main", chart, "chart with an OCI dependency")
	a := f.publishNext(t)
	sc := f.context("staging")
	sc.Freight.Items[whKey] = freightAt(f, a.freight)
	res := f.runner.Run(t.Context(), KindPromote, sc, f.config(t, nil), Options{DryRun: true, Render: true, Renderer: inProcess{}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if !strings.Contains(res.Review, "+ Deployment/staging-cache") {
		t.Errorf("the OCI dependency's Deployment is not rendered:\n%s", res.Review)
	}

	chart["k8s/helm/Chart.yaml"] += "  - name: postgres\n    version: 12.1.0\n    repository: https://charts.example.com\n"
	gittest.CommitFiles(t, f.git.Dir("source.git"), "main", chart, "chart with a Helm repository dependency")
	b := f.publishNext(t)
	sc.Freight.Items[whKey] = freightAt(f, b.freight)
	res = f.runner.Run(t.Context(), KindPromote, sc, f.config(t, nil), Options{DryRun: true, Render: true, Renderer: inProcess{}})
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, "postgres 12.1.0 from https://charts.example.com") || !strings.Contains(res.Message, "vendor") {
		t.Errorf("message: %s", res.Message)
	}
}
