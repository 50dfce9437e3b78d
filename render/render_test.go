package render

import (
	"context"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/render/spec"
)

// chart is a small chart with what real ones use: values, a helper, a
// vendored subchart (a dependency), a Secret, a hook and a CRD.
func testChart() map[string][]byte {
	return map[string][]byte{
		"Chart.yaml":             []byte("apiVersion: v2\nname: codeai\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 1.0.0\n"),
		"values.yaml":            []byte("replicas: 1\nimage: ghcr.io/o/app:latest\nsecret: s3cr3t\nredis:\n  enabled: true\n"),
		"templates/_helpers.tpl": []byte(`{{- define "codeai.name" -}}{{ .Release.Name }}-web{{- end -}}` + "\n"),
		"templates/deployment.yaml": []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"codeai.name\" . }}\n  namespace: {{ .Release.Namespace }}\n" +
			"spec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n      containers:\n        - name: web\n          image: {{ .Values.image }}\n"),
		"templates/secret.yaml":           []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-creds\nstringData:\n  password: {{ .Values.secret }}\n"),
		"templates/hook.yaml":             []byte("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: {{ .Values.image }}}]\n"),
		"crds/widget.yaml":                []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n"),
		"charts/redis/Chart.yaml":         []byte("apiVersion: v2\nname: redis\nversion: 1.0.0\n"),
		"charts/redis/templates/svc.yaml": []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-redis\n"),
	}
}

func TestHelmRendersAsHelmTemplate(t *testing.T) {
	res, err := Render(context.Background(), spec.Request{Version: spec.Version, Renders: []spec.Render{{Name: "staging", Helm: &spec.Helm{
		Chart:       testChart(),
		ValueFiles:  [][]byte{[]byte("replicas: 2\n"), []byte("image: ghcr.io/o/app:git-1\n")},
		Values:      "secret: other\n",
		Parameters:  []spec.Parameter{{Name: "replicas", Value: "3"}},
		ReleaseName: "staging", Namespace: "staging-ns",
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	o := res.Outputs[0]
	if o.Error != "" {
		t.Fatalf("render error: %s", o.Error)
	}
	for _, want := range []string{"name: staging-web", "namespace: staging-ns", "replicas: 3", "image: ghcr.io/o/app:git-1", "password: other",
		"name: staging-redis", "kind: CustomResourceDefinition", "# Source: codeai/templates/hook.yaml", "helm.sh/hook: pre-install"} {
		if !strings.Contains(o.Manifests, want) {
			t.Errorf("manifests lack %q:\n%s", want, o.Manifests)
		}
	}
}

func TestHelmErrors(t *testing.T) {
	broken := testChart()
	broken["templates/deployment.yaml"] = []byte("{{ .Values.replicas | nosuchfunc }}")
	undeclared := testChart()
	delete(undeclared, "charts/redis/Chart.yaml")
	delete(undeclared, "charts/redis/templates/svc.yaml")
	undeclared["Chart.yaml"] = []byte("apiVersion: v2\nname: codeai\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 1.0.0\n    repository: https://charts.example.com\n")
	for _, tc := range []struct {
		name    string
		chart   map[string][]byte
		want    string
		missing []string
	}{
		{"a template error", broken, `function "nosuchfunc" not defined`, nil},
		{"a dependency not vendored", undeclared, "neither vendored", []string{"redis 1.0.0 from https://charts.example.com"}},
		{"no Chart.yaml", map[string][]byte{"values.yaml": nil}, "no Chart.yaml", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Render(context.Background(), spec.Request{Version: spec.Version, Renders: []spec.Render{{Helm: &spec.Helm{Chart: tc.chart, ReleaseName: "r"}}}})
			if err != nil {
				t.Fatal(err)
			}
			o := res.Outputs[0]
			if !strings.Contains(o.Error, tc.want) || strings.Join(o.Missing, ";") != strings.Join(tc.missing, ";") {
				t.Errorf("error %q missing %v; want %q and %v", o.Error, o.Missing, tc.want, tc.missing)
			}
		})
	}
}

func TestKustomizeWithAComponent(t *testing.T) {
	files := map[string][]byte{
		"deploy/kustomization.yaml":           []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: staging\nresources:\n  - ../base\ncomponents:\n  - ../envTypes/staging\nimages:\n  - name: app\n    newName: ghcr.io/o/app\n    newTag: git-1\n"),
		"base/kustomization.yaml":             []byte("resources:\n  - deployment.yaml\n"),
		"base/deployment.yaml":                []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: web\n          image: app\n"),
		"envTypes/staging/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - patch: |-\n      - op: replace\n        path: /spec/replicas\n        value: 2\n    target:\n      kind: Deployment\n"),
	}
	res, err := Render(context.Background(), spec.Request{Version: spec.Version, Renders: []spec.Render{{Kustomize: &spec.Kustomize{Files: files, Dir: "deploy"}}}})
	if err != nil {
		t.Fatal(err)
	}
	o := res.Outputs[0]
	for _, want := range []string{"namespace: staging", "replicas: 2", "image: ghcr.io/o/app:git-1"} {
		if !strings.Contains(o.Manifests, want) {
			t.Errorf("manifests lack %q (error %q):\n%s", want, o.Error, o.Manifests)
		}
	}
	delete(files, "base/deployment.yaml")
	res, _ = Render(context.Background(), spec.Request{Version: spec.Version, Renders: []spec.Render{{Kustomize: &spec.Kustomize{Files: files, Dir: "deploy"}}}})
	if !strings.Contains(res.Outputs[0].Error, "deployment.yaml") {
		t.Errorf("a missing file: error %q", res.Outputs[0].Error)
	}
}
