package step

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/step/kargo"
)

const (
	testRepo   = "https://github.com/code-dot-org/k8s-gitops.git"
	testCommit = "4f1c2b9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
)

// testContext is the step context of a promotion to "staging" whose Freight
// carries one commit of testRepo.
func testContext() Context {
	return Context{
		Project:   "kargo-project-codeai",
		Stage:     "staging",
		Promotion: "staging.01jq8z4k2m3n4p5q6r7s8t9v0w.4f1c2b9",
		Freight: kargo.FreightCollection{Items: map[string]kargo.FreightReference{
			"Warehouse/codeai-builds": {
				Name:    "9d5c3c1f0e7b2a4d6f8e0a1b3c5d7e9f1a2b3c4d",
				Origin:  kargo.FreightOrigin{Kind: "Warehouse", Name: "codeai-builds"},
				Commits: []kargo.GitCommit{{RepoURL: testRepo, ID: testCommit, Branch: "main"}},
			},
		}},
	}
}

func noEnv(string) string { return "" }

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const topLevelKeys = "allowTargetsOutsideStage, app, author, branch, buildLockDir, checks, commit, credentials, gates, generateTargetBranch, healthCheck, imagePolicy, imageRepository, insecureHTTPHosts, insecureSkipTLSVerifyHosts, message, packaging, render, repoURL, requireAlreadyApplied, skipCI, targetBranch, targets, timeout, treeFetch, warehouse"

func TestConfigProblems(t *testing.T) {
	noStage := testContext()
	noStage.Stage = ""
	noPromotion := testContext()
	noPromotion.Promotion = ""
	tests := []struct {
		name   string
		config string
		kind   Kind     // when set, Resolve runs too
		ctx    *Context // default testContext()
		env    map[string]string
		want   []string
	}{
		{
			name:   "missing repoURL and buildLockDir",
			config: `{}`,
			want: []string{
				"/buildLockDir: required key is missing",
				"/repoURL: required key is missing",
			},
		},
		{
			name:   "not an object",
			config: `null`,
			want:   []string{"(root): wrong type: got null, want object"},
		},
		{
			name:   "not JSON",
			config: `{"repoURL": `,
			want:   []string{"(root): not valid JSON: unexpected EOF"},
		},
		{
			name:   "unknown key at top level",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "bogus": true}`,
			want:   []string{"/bogus: unknown key; allowed: " + topLevelKeys},
		},
		{
			name:   "misspelled key suggests the right one",
			config: `{"repoUrl": "https://h/r", "buildLockDir": "b"}`,
			want: []string{
				"/repoURL: required key is missing",
				`/repoUrl: unknown key; did you mean "repoURL"?`,
			},
		},
		{
			name:   "unknown keys inside a target",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "targets": [{"deploymentFile": {"kee": "x", "foo": 1}}]}`,
			want: []string{
				"/targets/0/deploymentFile/foo: unknown key; allowed: imageKey, key, path, pinDigest, setImage, valuesFile",
				`/targets/0/deploymentFile/kee: unknown key; did you mean "key"?`,
			},
		},
		{
			name:   "wrong types",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "targets": {}, "skipCI": "yes", "timeout": 300, "checks": {"imageDigest": 1}}`,
			want: []string{
				"/checks/imageDigest: wrong type: got number, want boolean",
				"/skipCI: wrong type: got string, want boolean",
				"/targets: wrong type: got object, want array",
				"/timeout: wrong type: got number, want string",
			},
		},
		{
			name:   "a target with two kinds",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "targets": [{"kustomization": {}, "application": {"path": "a.yaml"}}]}`,
			want:   []string{"/targets/0: several target kinds (application, kustomization); set exactly one of deploymentFile, application, kustomization"},
		},
		{
			name:   "a target with no kind",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "targets": [{}]}`,
			want:   []string{"/targets/0: no target kind; set exactly one of deploymentFile, application, kustomization"},
		},
		{
			name:   "bad commit pattern",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "commit": "4F1C2B9E8D7A6B5C4D3E2F1A0B9C8D7E6F5A4B3C"}`,
			want:   []string{`/commit: "4F1C2B9E8D7A6B5C4D3E2F1A0B9C8D7E6F5A4B3C" is not a full commit SHA (40 lowercase hex digits)`},
		},
		{
			name:   "bad timeout syntax",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "timeout": "5 minutes"}`,
			want:   []string{`/timeout: "5 minutes" is not a Go duration such as "90s" or "5m"`},
		},
		{
			name:   "zero timeout",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "timeout": "0s"}`,
			want:   []string{`/timeout: "0s" is not a positive duration`},
		},
		{
			name:   "paths with ..",
			config: `{"repoURL": "https://h/r", "buildLockDir": "warehouses/../secrets", "targets": [{"deploymentFile": {"path": "apps/../../etc/passwd"}}]}`,
			want: []string{
				`/buildLockDir: "warehouses/../secrets" is not a clean relative path (no leading '/', no empty, '.' or '..' segments, no backslash)`,
				`/targets/0/deploymentFile/path: "apps/../../etc/passwd" is not a clean relative path (no leading '/', no empty, '.' or '..' segments, no backslash)`,
			},
		},
		{
			name:   "absolute and unclean paths",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b/", "targets": [{"application": {"path": "/etc/passwd"}}, {"kustomization": {"path": "./k.yaml"}}]}`,
			want: []string{
				`/buildLockDir: "b/" is not a clean relative path (no leading '/', no empty, '.' or '..' segments, no backslash)`,
				`/targets/0/application/path: "/etc/passwd" is not a clean relative path (no leading '/', no empty, '.' or '..' segments, no backslash)`,
				`/targets/1/kustomization/path: "./k.yaml" is not a clean relative path (no leading '/', no empty, '.' or '..' segments, no backslash)`,
			},
		},
		{
			name:   "application without path",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "targets": [{"application": {}}]}`,
			want:   []string{"/targets/0/application/path: required key is missing"},
		},
		{
			name:   "packaging kind outside the enum",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "packaging": {"kind": "docker"}}`,
			want:   []string{`/packaging/kind: got "docker", want one of "helm", "kustomize"`},
		},
		{
			name:   "repoURL over plain http to a remote host",
			config: `{"repoURL": "http://git.example.com/r.git", "buildLockDir": "b"}`,
			want:   []string{`/repoURL: plain http to "git.example.com" is not allowed; use https or list the host in insecureHTTPHosts`},
		},
		{
			name:   "repoURL with credentials is rejected without echoing them",
			config: `{"repoURL": "https://user:hunter2@github.com/o/r.git", "buildLockDir": "b"}`,
			want:   []string{`/repoURL: "https://REDACTED@github.com/o/r.git" is not an http(s) URL without user information, query or fragment`},
		},
		{
			name:   "credentials incomplete or empty",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "credentials": {"git": {"username": "u"}, "registry": {"username": "u", "password": ""}}}`,
			want: []string{
				"/credentials/git/password: required key is missing",
				"/credentials/registry/password: must not be empty",
			},
		},
		{
			name:   "unknown keys under credentials are counted, not named",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "credentials": {"git": {"username": "u", "password": "p", "hunter2": 1}}}`,
			want:   []string{"/credentials/git: 1 unknown key(s); allowed: githubAppClientID, githubAppID, githubAppInstallationID, githubAppPrivateKey, password, repoURL, repoURLIsRegex, username"},
		},
		{
			name:   "targetBranch and generateTargetBranch together",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "targetBranch": "review/x", "generateTargetBranch": true}`,
			want:   []string{"/generateTargetBranch: cannot be combined with targetBranch; set one of them"},
		},
		{
			name:   "bad branch names",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "branch": "a..b", "targetBranch": "x.lock"}`,
			want: []string{
				`/branch: "a..b" is not a valid Git branch name`,
				`/targetBranch: "x.lock" is not a valid Git branch name`,
			},
		},
		{
			name:   "image settings with setImage false",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "targets": [{"deploymentFile": {"setImage": false, "imageKey": "img", "pinDigest": true}}]}`,
			want: []string{
				"/targets/0/deploymentFile/imageKey: has no effect with setImage false; drop one of them",
				"/targets/0/deploymentFile/pinDigest: has no effect with setImage false; drop one of them",
			},
		},
		{
			name:   "message template with an unknown field",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "message": "Promote {{.Nope}}"}`,
			want:   []string{`/message: does not render: message:1:10: executing "message" at <.Nope>: can't evaluate field Nope in type step.MessageVars`},
		},
		{
			name:   "message template that loops",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "message": "{{range 1000000000}}{{end}}"}`,
			want:   []string{"/message: may use only {{.Field}}, {{if}}/{{else if}}/{{else}} and the functions and, or, not, eq, ne, len, slice, print; not {{range 1000000000}}{{end}}"},
		},
		{
			name:   "message template that allocates",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "message": "{{printf \"%0999999999d\" 1}}"}`,
			want:   []string{"/message: may use only {{.Field}}, {{if}}/{{else if}}/{{else}} and the functions and, or, not, eq, ne, len, slice, print; not printf"},
		},
		{
			name: "several problems in one config are all reported",
			config: `{"repoURL": "ftp://h/r", "commit": "abc", "timeout": "soon", "extra": 1,
				"targets": [{"deploymentFile": {"path": "../x"}, "kustomization": {}}, {"application": {"path": "/a"}}]}`,
			want: []string{
				"/buildLockDir: required key is missing",
				`/commit: "abc" is not a full commit SHA (40 lowercase hex digits)`,
				"/extra: unknown key; allowed: " + topLevelKeys,
				`/repoURL: "ftp://h/r" is not an http(s) URL without user information, query or fragment`,
				`/targets/0/deploymentFile/path: "../x" is not a clean relative path (no leading '/', no empty, '.' or '..' segments, no backslash)`,
				"/targets/0: several target kinds (deploymentFile, kustomization); set exactly one of deploymentFile, application, kustomization",
				`/targets/1/application/path: "/a" is not a clean relative path (no leading '/', no empty, '.' or '..' segments, no backslash)`,
				`/timeout: "soon" is not a Go duration such as "90s" or "5m"`,
			},
		},
		{
			name:   "promote without targets",
			config: `{"repoURL": "https://h/r", "buildLockDir": "warehouses/codeai/builds"}`,
			kind:   KindPromote,
			want:   []string{"/targets: argo-refs-promote needs at least one target"},
		},
		{
			name:   "promote needs app to default paths",
			config: `{"repoURL": "https://h/r", "buildLockDir": "records", "targets": [{"deploymentFile": {}}, {"kustomization": {"path": "k/kustomization.yaml"}}]}`,
			kind:   KindPromote,
			want: []string{
				`/targets/0/deploymentFile/path: has no default: set it, or set app (buildLockDir "records" is not warehouses/<app>/builds)`,
				`/targets/0/deploymentFile/valuesFile: has no default: set it, or set app (buildLockDir "records" is not warehouses/<app>/builds)`,
			},
		},
		{
			name:   "promote needs a stage to default paths",
			config: `{"repoURL": "https://h/r", "buildLockDir": "warehouses/codeai/builds", "targets": [{"kustomization": {}}]}`,
			kind:   KindPromote,
			ctx:    &noStage,
			want:   []string{"/targets/0/kustomization/path: has no default without a stage name in the step context; set it"},
		},
		{
			name:   "generated branch needs a promotion name",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "generateTargetBranch": true, "targets": [{"application": {"path": "a.yaml"}}]}`,
			kind:   KindPromote,
			ctx:    &noPromotion,
			want:   []string{"/generateTargetBranch: needs the promotion name, which the step context does not give"},
		},
		{
			name:   "target branch equal to branch",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "targetBranch": "main", "targets": [{"application": {"path": "a.yaml"}}]}`,
			kind:   KindPromote,
			want:   []string{`/targetBranch: is the same as branch "main"; a new branch must differ`},
		},
		{
			name:   "the same edit twice",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b", "targets": [{"application": {"path": "a.yaml"}}, {"application": {"path": "a.yaml"}}]}`,
			kind:   KindPromote,
			want:   []string{"/targets/1/application/path: a.yaml is already edited the same way by /targets/0"},
		},
		{
			name:   "unknown kind",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b"}`,
			kind:   "argo-refs-frobnicate",
			want:   []string{`(root): unknown step kind "argo-refs-frobnicate"; want argo-refs-verify or argo-refs-promote`},
		},
		{
			name:   "partial registry credentials in the environment",
			config: `{"repoURL": "https://h/r", "buildLockDir": "b"}`,
			kind:   KindVerify,
			env:    map[string]string{EnvRegistryPassword: "s3cret-registry"},
			want:   []string{"/credentials/registry: environment has ARGO_REFS_REGISTRY_PASSWORD but no ARGO_REFS_REGISTRY_USERNAME"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tt.config))
			if tt.kind != "" {
				if err != nil {
					t.Fatalf("ParseConfig: %v", err)
				}
				sc := testContext()
				if tt.ctx != nil {
					sc = *tt.ctx
				}
				_, err = cfg.Resolve(tt.kind, sc, envOf(tt.env))
			} else if cfg != nil {
				t.Errorf("ParseConfig returned a config with its error")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v (%T), want *ConfigError", err, err)
			}
			if !slices.Equal(ce.Problems, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(ce.Problems, "\n"), strings.Join(tt.want, "\n"))
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
			if !IsTerminal(err) {
				t.Errorf("IsTerminal = false for a config error")
			}
			for _, secret := range []string{"hunter2", "s3cret-registry"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks %q: %v", secret, err)
				}
			}
		})
	}
}

func TestParseConfigExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.json")
	if err != nil || len(files) < 4 {
		t.Fatalf("example configs: %v, %d files", err, len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := ParseConfig(raw)
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			kinds := Kinds
			if len(cfg.Targets) == 0 {
				kinds = []Kind{KindVerify}
			}
			sc := testContext()
			if strings.Contains(string(raw), "/deployments/production/") {
				sc.Stage = "production" // a production Stage's config
			}
			for _, kind := range kinds {
				if _, err := cfg.Resolve(kind, sc, noEnv); err != nil {
					t.Errorf("Resolve(%s): %v", kind, err)
				}
			}
		})
	}
}

func mustParse(t *testing.T, raw string) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(raw))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

func mustReadConfig(t *testing.T, name string) *Config {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata/config", name))
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(raw))
}

func TestResolveDefaults(t *testing.T) {
	cfg := mustReadConfig(t, "helm-staging.json")
	plan, err := cfg.Resolve(KindPromote, testContext(), noEnv)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := []ResolvedTarget{{
		Kind:       TargetDeploymentFile,
		Path:       "apps/codeai/deployments/staging/deployment.yaml",
		Key:        "targetRevision",
		ValuesFile: "apps/codeai/deployments/staging/values.yaml",
		ImageKey:   "image",
		SetImage:   true,
	}}
	if !reflect.DeepEqual(plan.Targets, want) {
		t.Errorf("targets = %+v\nwant %+v", plan.Targets, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"App", plan.App, "codeai"},
		{"Branch", plan.Branch, "main"},
		{"PushBranch", plan.PushBranch, "main"},
		{"NewBranch", plan.NewBranch, false},
		{"FreightCommit", plan.FreightCommit, testCommit},
		{"Timeout", plan.Timeout, 5 * time.Minute},
		{"Checks", plan.Checks, EnabledChecks{ImageDigest: true, SourceCommit: true}},
		{"Author", plan.Author, Author{Name: "argo-refs", Email: "argo-refs@users.noreply.github.com"}},
		{"SkipCI", plan.SkipCI, false},
		{"Packaging", plan.Packaging, PackagingExpect{Kind: "helm", SourceRepo: "https://github.com/code-dot-org/code-dot-org.git", SourcePath: "k8s/helm"}},
		{"GitAuth", plan.GitAuth, (*UserPass)(nil)},
		{"RegistryAuth", plan.RegistryAuth, (*RegistryCredentials)(nil)},
		{"Stage", plan.Stage, "staging"},
		{"Project", plan.Project, "kargo-project-codeai"},
		{"BuildLockDir", plan.BuildLockDir, "warehouses/codeai/builds"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestResolveKustomizeAndOverrides(t *testing.T) {
	cfg := mustReadConfig(t, "kustomize-staging.json")
	sc := testContext()
	sc.Stage = "production"
	sc.Freight = kargo.FreightCollection{} // the explicit commit needs no Freight
	plan, err := cfg.Resolve(KindPromote, sc, noEnv)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := []ResolvedTarget{{
		Kind:      TargetKustomization,
		Path:      "apps/codeai/deployments/production/deploy/kustomization.yaml",
		ImageName: "code-dot-org",
		PinDigest: true,
		// The wrapper contract is on by default and reads the deployment's
		// metadata next to deploy/.
		Contract: true,
		MetaPath: "apps/codeai/deployments/production/deployment.yaml",
	}}
	if !reflect.DeepEqual(plan.Targets, want) {
		t.Errorf("targets = %+v\nwant %+v", plan.Targets, want)
	}
	if plan.Timeout != 90*time.Second {
		t.Errorf("Timeout = %v, want 90s", plan.Timeout)
	}
	if want := (EnabledChecks{ImageDigest: true, SourceCommit: true, ImageRevisionLabel: true}); plan.Checks != want {
		t.Errorf("Checks = %+v, want %+v", plan.Checks, want)
	}
	if plan.FreightCommit != testCommit {
		t.Errorf("FreightCommit = %q, want the explicit %q", plan.FreightCommit, testCommit)
	}
}

func TestResolveVerifyIgnoresTargets(t *testing.T) {
	cfg := mustParse(t, `{"repoURL": "https://h/r", "buildLockDir": "records", "targets": [{"deploymentFile": {}}], "generateTargetBranch": true}`)
	sc := testContext()
	sc.Stage, sc.Promotion = "", ""
	sc.Freight.Items["Warehouse/codeai-builds"].Commits[0].RepoURL = "https://h/r"
	plan, err := cfg.Resolve(KindVerify, sc, noEnv)
	if err != nil {
		t.Fatalf("Resolve(verify): %v", err)
	}
	if plan.Targets != nil || plan.NewBranch || plan.PushBranch != "main" {
		t.Errorf("verify plan has targets %v, NewBranch %v, PushBranch %q", plan.Targets, plan.NewBranch, plan.PushBranch)
	}
	if _, err := cfg.Resolve(KindPromote, sc, noEnv); err == nil {
		t.Errorf("Resolve(promote) without stage, app and promotion succeeded")
	}
}

func TestResolvePushBranch(t *testing.T) {
	tests := []struct {
		name, extra, wantBranch string
		wantNew                 bool
	}{
		{"default", ``, "main", false},
		{"branch", `"branch": "release"`, "release", false},
		{"target branch", `"targetBranch": "review/staging"`, "review/staging", true},
		{"generated", `"generateTargetBranch": true`, "kargo/promotion/staging.01jq8z4k2m3n4p5q6r7s8t9v0w.4f1c2b9", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := ""
			if tt.extra != "" {
				extra = ", " + tt.extra
			}
			cfg := mustParse(t, `{"repoURL": "`+testRepo+`", "buildLockDir": "warehouses/codeai/builds", "targets": [{"kustomization": {}}]`+extra+`}`)
			plan, err := cfg.Resolve(KindPromote, testContext(), noEnv)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if plan.PushBranch != tt.wantBranch || plan.NewBranch != tt.wantNew {
				t.Errorf("PushBranch, NewBranch = %q, %v; want %q, %v", plan.PushBranch, plan.NewBranch, tt.wantBranch, tt.wantNew)
			}
		})
	}
}

func TestResolveInsecureHTTPHosts(t *testing.T) {
	for _, tt := range []struct {
		config string
		ok     bool
	}{
		{`{"repoURL": "http://127.0.0.1:8080/r.git", "buildLockDir": "b", "commit": "` + testCommit + `"}`, true},
		{`{"repoURL": "http://localhost/r.git", "buildLockDir": "b", "commit": "` + testCommit + `"}`, true},
		{`{"repoURL": "http://git.internal:3000/r.git", "buildLockDir": "b", "commit": "` + testCommit + `", "insecureHTTPHosts": ["git.internal:3000"]}`, true},
		{`{"repoURL": "http://git.internal:3000/r.git", "buildLockDir": "b", "commit": "` + testCommit + `", "insecureHTTPHosts": ["git.internal"]}`, true},
		{`{"repoURL": "http://git.internal:3000/r.git", "buildLockDir": "b", "commit": "` + testCommit + `", "insecureHTTPHosts": ["other"]}`, false},
	} {
		_, err := ParseConfig([]byte(tt.config))
		if (err == nil) != tt.ok {
			t.Errorf("ParseConfig(%s) error = %v, want ok=%v", tt.config, err, tt.ok)
		}
	}
	cfg := mustParse(t, `{"repoURL": "https://h/r", "buildLockDir": "b", "commit": "`+testCommit+`", "insecureHTTPHosts": ["git.internal"]}`)
	plan, err := cfg.Resolve(KindVerify, testContext(), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.CheckURL("http://git.internal/src.git"); err != nil {
		t.Errorf("CheckURL(listed host) = %v", err)
	}
	err = plan.CheckURL("http://tok:hunter2@elsewhere/src.git")
	if err == nil || !IsTerminal(err) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("CheckURL(userinfo) = %v; want a terminal error without the password", err)
	}
	if err := plan.CheckURL("http://elsewhere/src.git"); err == nil {
		t.Errorf("CheckURL(unlisted plain http host) succeeded")
	}
}

func TestCredentials(t *testing.T) {
	const (
		envToken    = "ghs_envTokenSecret123"
		envGitPass  = "gitPassSecret456"
		regPass     = "registryPassSecret789"
		configToken = "ghp_reviewTokenNeverPrinted" // in testdata/config/review-pr.json
	)
	base := `{"repoURL": "` + testRepo + `", "buildLockDir": "warehouses/codeai/builds"}`
	tests := []struct {
		name         string
		config       string
		env          map[string]string
		wantGit      *UserPass
		wantRegistry *RegistryCredentials
	}{
		{"none", base, nil, nil, nil},
		{"GITHUB_TOKEN", base, map[string]string{EnvGitHubToken: envToken}, &UserPass{Username: "x-access-token", Password: envToken}, nil},
		{"GIT_USERNAME and GIT_PASSWORD win over GITHUB_TOKEN", base,
			map[string]string{EnvGitUsername: "bot", EnvGitPassword: envGitPass, EnvGitHubToken: envToken},
			&UserPass{Username: "bot", Password: envGitPass}, nil},
		{"GIT_PASSWORD alone is a token", base, map[string]string{EnvGitPassword: envGitPass}, &UserPass{Username: "x-access-token", Password: envGitPass}, nil},
		{"registry from env", base, map[string]string{EnvRegistryUsername: "robot", EnvRegistryPassword: regPass, EnvRegistryHost: "ghcr.io"}, nil, &RegistryCredentials{UserPass: UserPass{Username: "robot", Password: regPass}, Registry: "ghcr.io"}},
		{"config wins over env", string(mustRead(t, "testdata/config/review-pr.json")), map[string]string{EnvGitHubToken: envToken},
			&UserPass{Username: "x-access-token", Password: configToken}, nil},
		{"ambient from the config, for imageRepository's registry",
			`{"repoURL": "` + testRepo + `", "buildLockDir": "warehouses/codeai/builds", "imageRepository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app", "credentials": {"registry": {"ambient": true}}}`,
			nil, nil, &RegistryCredentials{Ambient: true, Registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com"}},
		{"ambient from the environment", base,
			map[string]string{netpolicy.EnvRegistryAmbient: "true", EnvRegistryHost: "europe-docker.pkg.dev"},
			nil, &RegistryCredentials{Ambient: true, Registry: "europe-docker.pkg.dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tt.config)
			plan, err := cfg.Resolve(KindVerify, testContext(), envOf(tt.env))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if !reflect.DeepEqual(plan.GitAuth, tt.wantGit) {
				t.Errorf("GitAuth = %v, want %v", plan.GitAuth, tt.wantGit)
			}
			if !reflect.DeepEqual(plan.RegistryAuth, tt.wantRegistry) {
				t.Errorf("RegistryAuth = %v, want %v", plan.RegistryAuth, tt.wantRegistry)
			}
			assertNoSecret(t, []string{envToken, envGitPass, regPass, configToken}, cfg, plan)
		})
	}
	for _, tc := range []struct {
		name, config string
		env          map[string]string
		want         []string
	}{
		{"ambient for a registry no cloud serves",
			`{"repoURL": "` + testRepo + `", "buildLockDir": "warehouses/codeai/builds", "credentials": {"registry": {"ambient": true, "registry": "ghcr.io"}}}`, nil,
			[]string{"/credentials/registry/ambient: no ambient credential provider for this registry: ghcr.io is not an Amazon ECR, Google Artifact Registry or Container Registry, or Azure Container Registry host"}},
		{"ambient and a password",
			`{"repoURL": "` + testRepo + `", "buildLockDir": "warehouses/codeai/builds", "credentials": {"registry": {"ambient": true, "registry": "myacr.azurecr.io", "username": "u", "password": "` + regPass + `"}}}`, nil,
			[]string{"/credentials/registry/ambient: takes no username or password; give one kind of credentials"}},
		{"neither a password nor ambient",
			`{"repoURL": "` + testRepo + `", "buildLockDir": "warehouses/codeai/builds", "credentials": {"registry": {"registry": "ghcr.io"}}}`, nil,
			[]string{"/credentials/registry/password: required key is missing (or ambient: true)", "/credentials/registry/username: required key is missing (or ambient: true)"}},
		{"ambient from the environment without a host", base,
			map[string]string{netpolicy.EnvRegistryAmbient: "true"},
			[]string{"/credentials/registry: ARGO_REFS_REGISTRY_AMBIENT=true names no registry: set ARGO_REFS_REGISTRY_HOST (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com), the only host the cloud's credentials are sent to, or pin imageRepository"}},
		{"ambient from the environment for a registry no cloud serves", base,
			map[string]string{netpolicy.EnvRegistryAmbient: "true", EnvRegistryHost: "registry.example.com"},
			[]string{"/credentials/registry: ambient: no ambient credential provider for this registry: registry.example.com is not an Amazon ECR, Google Artifact Registry or Container Registry, or Azure Container Registry host"}},
		{"ambient and a password in the environment", base,
			map[string]string{netpolicy.EnvRegistryAmbient: "true", EnvRegistryUsername: "u", EnvRegistryPassword: regPass, EnvRegistryHost: "myacr.azurecr.io"},
			[]string{"/credentials/registry: environment has ARGO_REFS_REGISTRY_AMBIENT=true and ARGO_REFS_REGISTRY_USERNAME or ARGO_REFS_REGISTRY_PASSWORD; give one kind of credentials"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.config))
			if err == nil {
				_, err = cfg.Resolve(KindVerify, testContext(), envOf(tc.env))
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want a ConfigError", err)
			}
			got := slices.Sorted(slices.Values(ce.Problems))
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems =\n%q\nwant\n%q", got, tc.want)
			}
			if strings.Contains(err.Error(), regPass) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	t.Run("GIT_USERNAME without GIT_PASSWORD", func(t *testing.T) {
		_, err := mustParse(t, base).Resolve(KindVerify, testContext(), envOf(map[string]string{EnvGitUsername: "bot", EnvGitHubToken: envToken}))
		var ce *ConfigError
		if !errors.As(err, &ce) || !slices.Equal(ce.Problems, []string{"/credentials/git: environment has GIT_USERNAME but no GIT_PASSWORD"}) {
			t.Errorf("error = %v", err)
		}
	})
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertNoSecret renders cfg and plan every way a program might (fmt verbs,
// JSON, slog) and fails if a secret shows.
func assertNoSecret(t *testing.T, secrets []string, cfg *Config, plan *Plan) {
	t.Helper()
	var renders []string
	values := []any{cfg, *cfg, plan, *plan}
	if plan.GitAuth != nil {
		values = append(values, plan.GitAuth, *plan.GitAuth, struct{ Auth UserPass }{*plan.GitAuth})
	}
	if plan.RegistryAuth != nil {
		values = append(values, plan.RegistryAuth, *plan.RegistryAuth, []RegistryCredentials{*plan.RegistryAuth})
	}
	if cfg.Credentials != nil {
		values = append(values, *cfg.Credentials)
		if cfg.Credentials.Git != nil {
			values = append(values, *cfg.Credentials.Git)
		}
	}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			renders = append(renders, fmt.Sprintf(verb, v))
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		renders = append(renders, buf.String())
	}
	for _, v := range []any{cfg, plan.GitAuth, plan.RegistryAuth} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		renders = append(renders, string(b))
	}
	for _, r := range renders {
		for _, s := range secrets {
			if strings.Contains(r, s) {
				t.Errorf("secret %q shows in %s", s, r)
			}
		}
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "ghp_0123456789abcdefSECRET"
	configs := []string{
		// A valid credential next to other problems.
		`{"repoURL": "https://h/r", "buildLockDir": "/abs", "credentials": {"git": {"username": "u", "password": "` + secret + `"}}, "commit": "x"}`,
		// The secret where a different type belongs.
		`{"repoURL": "https://h/r", "buildLockDir": "b", "credentials": {"git": {"username": "u", "password": ["` + secret + `"]}}}`,
		`{"repoURL": "https://h/r", "buildLockDir": "b", "credentials": {"git": "` + secret + `"}}`,
		`{"repoURL": "https://h/r", "buildLockDir": "b", "credentials": {"git": {"username": "u", "password": "p", "token": "` + secret + `"}}}`,
		`{"repoURL": "https://h/r", "buildLockDir": "b", "credentials": {"registry": {"username": "u", "password": "p", "` + secret + `": true}}}`,
		// The secret in a URL.
		`{"repoURL": "https://x-access-token:` + secret + `@github.com/o/r.git", "buildLockDir": "b"}`,
		`{"repoURL": "https://h/r", "buildLockDir": "b", "packaging": {"sourceRepo": "https://u:` + secret + `@github.com/o/s"}}`,
	}
	for _, c := range configs {
		_, err := ParseConfig([]byte(c))
		if err == nil {
			t.Errorf("ParseConfig(%s) succeeded", c)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%#v", err), secret) {
			t.Errorf("error leaks the secret: %v", err)
		}
	}
	_, err := SelectFreightCommit("https://h/r", "", "", kargo.FreightCollection{Items: map[string]kargo.FreightReference{
		"Warehouse/w": {Commits: []kargo.GitCommit{{RepoURL: "https://u:" + secret + "@other/r", ID: testCommit}}},
	}})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("SelectFreightCommit error = %v; want one without the secret", err)
	}
}

func TestResolveChecksConfigsBuiltInGo(t *testing.T) {
	cfg := &Config{
		RepoURL:      testRepo,
		BuildLockDir: "warehouses/codeai/builds",
		Author:       &Author{Name: "a\ncommitter evil", Email: "x@y"},
		Targets:      []Target{{Application: &ApplicationTarget{Path: "../escape.yaml"}}},
	}
	_, err := cfg.Resolve(KindPromote, testContext(), noEnv)
	var ce *ConfigError
	want := []string{
		// The message a JSON config gets: Resolve applies the schema too.
		`/author/name: "a\ncommitter evil" must not contain '<', '>' or control characters`,
		`/targets/0/application/path: "../escape.yaml" leaves the repository through ".."`,
	}
	if !errors.As(err, &ce) || !slices.Equal(ce.Problems, want) {
		t.Errorf("Resolve error = %v\nwant %q", err, want)
	}
}

func TestUserPassRedaction(t *testing.T) {
	up := UserPass{Username: "bot", Password: "pa55word"}
	if got, want := up.String(), "{Username:bot Password:redacted}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := fmt.Sprintf("%#v", up), `netpolicy.UserPass{Username:"bot", Password:"redacted"}`; got != want {
		t.Errorf("%%#v = %q, want %q", got, want)
	}
	b, _ := json.Marshal(up)
	if got, want := string(b), `{"username":"bot","password":"redacted"}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	if up.Password != "pa55word" {
		t.Errorf("redaction changed the value itself")
	}
	if got := (UserPass{Username: "bot"}).String(); got != "{Username:bot Password:}" {
		t.Errorf("empty password renders as %q", got)
	}
}

func TestCommitMessage(t *testing.T) {
	vars := MessageVars{
		ReleaseID:   "git-d072d04a9f3e5b8c7a6d5e4f3a2b1c0d9e8f7a6b",
		GitCommit:   "d072d04a9f3e5b8c7a6d5e4f3a2b1c0d9e8f7a6b",
		ImageRef:    "ghcr.io/code-dot-org/code-dot-org:git-d072d04a9f3e5b8c7a6d5e4f3a2b1c0d9e8f7a6b",
		ImageDigest: "sha256:57d9e1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0",
	}
	tests := []struct {
		name, extra, want string
	}{
		// No marker by default: a [skip ci] head commit leaves a review
		// PR's required checks pending, and git-wait-for-pr waits for ever.
		{"default", ``, "Promote staging to git-d072d04a9f3e5b8c7a6d5e4f3a2b1c0d9e8f7a6b"},
		{"skip ci on", `"skipCI": true`, "Promote staging to git-d072d04a9f3e5b8c7a6d5e4f3a2b1c0d9e8f7a6b [skip ci]"},
		{"skip ci off", `"skipCI": false`, "Promote staging to git-d072d04a9f3e5b8c7a6d5e4f3a2b1c0d9e8f7a6b"},
		{"custom", `"skipCI": true, "message": "{{.Project}}: {{.Stage}} -> {{slice .GitCommit 0 7}} ({{.ImageDigest}})"`,
			"kargo-project-codeai: staging -> d072d04 (sha256:57d9e1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0) [skip ci]"},
		{"marker on the subject line", `"skipCI": true, "message": "Promote {{.Stage}}\n\nImage {{.ImageRef}}\n"`,
			"Promote staging [skip ci]\n\nImage ghcr.io/code-dot-org/code-dot-org:git-d072d04a9f3e5b8c7a6d5e4f3a2b1c0d9e8f7a6b"},
		{"marker not doubled", `"skipCI": true, "message": "Promote {{.Stage}} [skip ci]"`, "Promote staging [skip ci]"},
		{"if else", `"message": "{{if eq .Stage \"production\"}}Release{{else}}Promote{{end}} {{.ReleaseID}}", "skipCI": false`,
			"Promote git-d072d04a9f3e5b8c7a6d5e4f3a2b1c0d9e8f7a6b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := ""
			if tt.extra != "" {
				extra = ", " + tt.extra
			}
			cfg := mustParse(t, `{"repoURL": "`+testRepo+`", "buildLockDir": "warehouses/codeai/builds"`+extra+`}`)
			plan, err := cfg.Resolve(KindVerify, testContext(), noEnv)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			got, err := plan.CommitMessage(vars)
			if err != nil {
				t.Fatalf("CommitMessage: %v", err)
			}
			if got != tt.want {
				t.Errorf("message = %q\nwant      %q", got, tt.want)
			}
		})
	}
	t.Run("empty result is terminal", func(t *testing.T) {
		cfg := mustParse(t, `{"repoURL": "`+testRepo+`", "buildLockDir": "b", "message": "{{if eq .Stage \"x\"}}only x{{end}}"}`)
		plan, err := cfg.Resolve(KindVerify, testContext(), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := plan.CommitMessage(vars); err == nil || !IsTerminal(err) {
			t.Errorf("CommitMessage = %v, want a terminal error", err)
		}
	})
}

// TestSchemaDocumentsEveryProperty keeps the schema usable as reference
// documentation and strict: every property has a description and every
// object rejects unknown keys.
func TestSchemaDocumentsEveryProperty(t *testing.T) {
	var doc any
	if err := json.Unmarshal(ConfigSchema, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(ptr string, v any)
	count := 0
	walk = func(ptr string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				if v["additionalProperties"] != false {
					t.Errorf("%s: additionalProperties is not false", ptr)
				}
				for name, p := range props {
					count++
					pm, _ := p.(map[string]any)
					if d, _ := pm["description"].(string); len(d) < 10 {
						t.Errorf("%s/properties/%s: no description", ptr, name)
					}
				}
			}
			if v["type"] == "object" && v["properties"] == nil {
				t.Errorf("%s: object without properties", ptr)
			}
			for k, c := range v {
				walk(ptr+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s/%d", ptr, i), c)
			}
		}
	}
	walk("#", doc)
	if count < 35 {
		t.Errorf("walked only %d properties", count)
	}
}

// TestSchemaMatchesTypes guards against drift between the schema and the
// Go types: the same keys, object by object.
func TestSchemaMatchesTypes(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(ConfigSchema, &doc); err != nil {
		t.Fatal(err)
	}
	deref := func(s map[string]any) map[string]any {
		if ref, ok := s["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/$defs/")
			return doc["$defs"].(map[string]any)[name].(map[string]any)
		}
		return s
	}
	var compare func(path string, typ reflect.Type, s map[string]any)
	compare = func(path string, typ reflect.Type, s map[string]any) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
			if it, ok := s["items"].(map[string]any); ok {
				s = it
			}
		}
		s = deref(s)
		if typ.Kind() != reflect.Struct {
			return
		}
		props, _ := s["properties"].(map[string]any)
		var goKeys, schemaKeys []string
		// The JSON view: an embedded struct's fields are its own.
		for _, f := range reflect.VisibleFields(typ) {
			if f.Anonymous || len(f.Index) > 1 && f.Tag.Get("json") == "" {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			goKeys = append(goKeys, name)
			sub, ok := props[name].(map[string]any)
			if ok {
				compare(path+"/"+name, f.Type, sub)
			}
		}
		for k := range props {
			schemaKeys = append(schemaKeys, k)
		}
		sort.Strings(goKeys)
		sort.Strings(schemaKeys)
		if !slices.Equal(goKeys, schemaKeys) {
			t.Errorf("%s: Go keys %v, schema keys %v", path, goKeys, schemaKeys)
		}
	}
	compare("", reflect.TypeFor[Config](), doc)
}

func TestSchemaPatternsHaveHints(t *testing.T) {
	found := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if p, ok := v["pattern"].(string); ok {
				found++
				if _, ok := patternHints[p]; !ok {
					t.Errorf("pattern %q has no hint", p)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	var doc any
	if err := json.Unmarshal(ConfigSchema, &doc); err != nil {
		t.Fatal(err)
	}
	walk(doc)
	if found < 8 {
		t.Errorf("found only %d patterns", found)
	}
}

func TestRelPathRules(t *testing.T) {
	for _, tt := range []struct {
		path string
		ok   bool
	}{
		{"apps/codeai/deployments/staging/deployment.yaml", true},
		{".github/x", true},
		{"a/...b/c", true},
		{"a/..b", true},
		{"..", false},
		{"../a", false},
		{"a/..", false},
		{"a/../b", false},
		{"/a", false},
		{"a//b", false},
		{"a/./b", false},
		{"./a", false},
		{"a/", false},
		{`a\b`, false},
		{"", false},
	} {
		raw := fmt.Sprintf(`{"repoURL": "https://h/r", "buildLockDir": %q}`, tt.path)
		_, schemaErr := ParseConfig([]byte(raw))
		goErr := checkRelPath(tt.path)
		if (schemaErr == nil) != tt.ok || (goErr == nil) != tt.ok {
			t.Errorf("path %q: schema error %v, Go error %v; want ok=%v", tt.path, schemaErr, goErr, tt.ok)
		}
	}
}
