package repolint_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/repolint"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

const (
	sha  = "0cc4cd87f40ae606d1822d5652b552f8c50a4668"
	sha2 = "1dd5de98f51bf717e2933f6763c663f961e5b5779"
)

func record(t *testing.T, commit, kind, sourcePath string) string {
	t.Helper()
	r, err := warehouse.New(commit, "ghcr.io/code-dot-org/code-dot-org:git-"+commit, "sha256:"+strings.Repeat("a", 64), kind,
		"https://github.com/code-dot-org/code-dot-org.git", sourcePath, time.Date(2026, 3, 22, 12, 34, 56, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return string(r.Render())
}

const appSetKustomize = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
spec:
  template:
    spec:
      sources:
        - repoURL: https://github.com/code-dot-org/k8s-gitops.git
          targetRevision: main
          path: apps/codeai/deployments/{{path.basename}}/deploy
`

func wrapperFor(ns, envType string) string {
	return `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ` + ns + `
resources:
  - github.com/code-dot-org/code-dot-org//k8s/kustomize/base?ref=` + sha + `
components:
  - ../../../envTypes/` + envType + `
images:
  - name: code-dot-org
    newName: ghcr.io/code-dot-org/code-dot-org
    newTag: git-` + sha + `
`
}

// goodKustomize is a repository that follows the kustomize contract.
func goodKustomize(t *testing.T) map[string]string {
	rec := record(t, sha, "kustomize", "k8s/kustomize/base")
	return map[string]string{
		"warehouses/codeai/builds/current.yaml":                     rec,
		"warehouses/codeai/builds/git-" + sha + ".yaml":             rec,
		"apps/codeai/applicationset.yaml":                           appSetKustomize,
		"apps/codeai/deployments/staging/deployment.yaml":           "envType: staging\nnamespace: staging\n",
		"apps/codeai/deployments/staging/deploy/kustomization.yaml": wrapperFor("staging", "staging"),
		"apps/codeai/envTypes/staging/kustomization.yaml":           "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
	}
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func lint(t *testing.T, files map[string]string, layout string) []repolint.Violation {
	t.Helper()
	vs, err := repolint.Lint(context.Background(), repolint.DirTree{Root: writeTree(t, files)}, repolint.Options{App: "codeai", Layout: layout})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestGoodRepositoryPasses(t *testing.T) {
	if vs := lint(t, goodKustomize(t), "kustomize"); len(vs) != 0 {
		t.Fatalf("violations in a good repository: %v", vs)
	}
}

// TestEachViolationClass seeds one break per rule into a good repository
// and expects exactly that rule, at that file (and line where it has one).
func TestEachViolationClass(t *testing.T) {
	helmRec := record(t, sha, "helm", "k8s/helm")
	for _, tc := range []struct {
		name   string
		change func(map[string]string)
		rule   string
		at     string // file:line or file
		says   string
	}{
		{"invalid record", func(f map[string]string) { f["warehouses/codeai/builds/git-"+sha2+".yaml"] = "schemaVersion: v1\n" },
			repolint.RuleRecord, "warehouses/codeai/builds/git-" + sha2 + ".yaml", "gitCommit"},
		{"twins differ", func(f map[string]string) {
			f["warehouses/codeai/builds/git-"+sha+".yaml"] = strings.Replace(f["warehouses/codeai/builds/git-"+sha+".yaml"], "12:34:56", "12:34:57", 1)
		}, repolint.RuleTwin, "warehouses/codeai/builds/current.yaml", "differ"},
		{"packaging of the other layout", func(f map[string]string) {
			f["warehouses/codeai/builds/current.yaml"], f["warehouses/codeai/builds/git-"+sha+".yaml"] = helmRec, helmRec
		}, repolint.RulePackaging, "warehouses/codeai/builds/current.yaml", "want kustomize at k8s/kustomize"}, // and its twin

		{"deployment without namespace", func(f map[string]string) { f["apps/codeai/deployments/staging/deployment.yaml"] = "envType: staging\n" },
			repolint.RuleDeployment, "apps/codeai/deployments/staging/deployment.yaml:1", "needs namespace"},
		{"applicationset on a pinned revision", func(f map[string]string) {
			f["apps/codeai/applicationset.yaml"] = strings.Replace(appSetKustomize, "targetRevision: main", "targetRevision: '{{targetRevision}}'", 1)
		}, repolint.RuleApplicationSet, "apps/codeai/applicationset.yaml:8", `want "main"`},
		{"envType not a Component", func(f map[string]string) {
			f["apps/codeai/envTypes/staging/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
		}, repolint.RuleEnvType, "apps/codeai/envTypes/staging/kustomization.yaml:2", "want Component"},
		{"envType missing", func(f map[string]string) { delete(f, "apps/codeai/envTypes/staging/kustomization.yaml") },
			repolint.RuleEnvType, "apps/codeai/deployments/staging/deployment.yaml", "missing"},
		{"wrapper missing", func(f map[string]string) { delete(f, "apps/codeai/deployments/staging/deploy/kustomization.yaml") },
			repolint.RuleWrapperMissing, "apps/codeai/deployments/staging/deploy/kustomization.yaml", "seed it"},
		{"wrapper namespace", func(f map[string]string) {
			f["apps/codeai/deployments/staging/deploy/kustomization.yaml"] = wrapperFor("prod", "staging")
		}, repolint.RuleWrapper, "apps/codeai/deployments/staging/deploy/kustomization.yaml:3", `namespace "prod"`},
		{"wrapper with two resources", func(f map[string]string) {
			f["apps/codeai/deployments/staging/deploy/kustomization.yaml"] = strings.Replace(wrapperFor("staging", "staging"), "components:", "  - ../extra\ncomponents:", 1)
		}, repolint.RuleWrapper, "apps/codeai/deployments/staging/deploy/kustomization.yaml:5", "resources has 2 entries"},
		{"wrapper image tag", func(f map[string]string) {
			f["apps/codeai/deployments/staging/deploy/kustomization.yaml"] = strings.Replace(wrapperFor("staging", "staging"), "newTag: git-"+sha, "newTag: latest", 1)
		}, repolint.RuleWrapper, "apps/codeai/deployments/staging/deploy/kustomization.yaml:9", `newTag "latest"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := goodKustomize(t)
			tc.change(files)
			vs := lint(t, files, "kustomize")
			want := 1
			if tc.rule == repolint.RulePackaging {
				want = 2 // current.yaml and its twin
			}
			if len(vs) != want {
				t.Fatalf("%d violations, want %d: %v", len(vs), want, vs)
			}
			v := vs[0]
			if v.Rule != tc.rule || !strings.HasPrefix(v.String(), tc.at+":") || !strings.Contains(v.Problem, tc.says) {
				t.Fatalf("violation %s; want rule %s at %s saying %q", v, tc.rule, tc.at, tc.says)
			}
		})
	}
}

// TestHelmLayout: targetRevision is required and the ApplicationSet's
// chart source must follow it.
func TestHelmLayout(t *testing.T) {
	rec := record(t, sha, "helm", "k8s/helm")
	files := map[string]string{
		"warehouses/codeai/builds/current.yaml":           rec,
		"warehouses/codeai/builds/git-" + sha + ".yaml":   rec,
		"apps/codeai/applicationset.yaml":                 "spec:\n  template:\n    spec:\n      sources:\n        - path: k8s/helm\n          targetRevision: main\n",
		"apps/codeai/deployments/staging/deployment.yaml": "envType: staging\nnamespace: staging\n",
		"apps/codeai/envTypes/staging.values.yaml":        "x: 1\n",
	}
	var got []string
	for _, v := range lint(t, files, "helm") {
		got = append(got, v.Rule)
	}
	if strings.Join(got, " ") != "applicationset deployment" {
		t.Fatalf("rules %v, want applicationset and deployment", got)
	}
}

// TestRemoteTree: the same checks over a branch of a Git server, reading
// the trees once and the files in few requests.
func TestRemoteTree(t *testing.T) {
	srv := gittest.New(t)
	url := srv.CreateRepo(t, "gitops.git")
	files := goodKustomize(t)
	files["apps/codeai/deployments/staging/deployment.yaml"] = "envType: staging\n"
	gittest.CommitFiles(t, srv.Dir("gitops.git"), "main", files, "layout")
	remote, err := gitrepo.Open(context.Background(), url, gitrepo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tip, err := remote.Tip(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	vs, err := repolint.Lint(context.Background(), repolint.RemoteTree{Remote: remote, Commit: tip}, repolint.Options{App: "codeai", Layout: "kustomize"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Rule != repolint.RuleDeployment {
		t.Fatalf("violations %v, want the deployment without namespace", vs)
	}
	if n := srv.Stats().Requests; n > 6 {
		t.Fatalf("%d requests to lint the branch, want at most 6", n)
	}
}
