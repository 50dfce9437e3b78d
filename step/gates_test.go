package step

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/warehouse"
)

const legacyDir = "warehouses/codeai/legacy-gitflow"

// commitLegacyMerge commits the merge record argo-refs legacy-merge writes.
func (f *fixture) commitLegacyMerge(t *testing.T, env, revision string) {
	t.Helper()
	m, err := warehouse.NewLegacyMerge(revision, time.Date(2026, 3, 22, 12, 34, 56, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{
		warehouse.LegacyMergedPath(legacyDir, env, revision): string(m.Render()),
		warehouse.LegacyCurrentPath(legacyDir, env):          string(m.Render()),
	}, "legacy merge into "+env)
}

// TestLegacyGitflowGate, on both layouts: without the merge record at the
// branch tip the promotion fails and changes nothing; a legacy merge
// committed after the Freight unblocks the same Freight; the outputs carry
// what the gate read.
func TestLegacyGitflowGate(t *testing.T) {
	for _, layout := range []struct {
		name    string
		opt     fixtureOpt
		targets []any
		edited  string
	}{
		{"helm", fixtureOpt{}, []any{map[string]any{"deploymentFile": map[string]any{}}}, "apps/codeai/deployments/production/deployment.yaml"},
		{"kustomize", fixtureOpt{kustomize: true}, []any{map[string]any{"kustomization": map[string]any{"path": "apps/codeai/deployments/staging/deploy/kustomization.yaml"}}}, "apps/codeai/deployments/staging/deploy/kustomization.yaml"},
	} {
		t.Run(layout.name, func(t *testing.T) {
			f := newFixture(t, layout.opt)
			stage := "production"
			cfg := map[string]any{
				"targets":                  layout.targets,
				"gates":                    map[string]any{"legacyGitflow": map[string]any{"env": "production"}},
				"allowTargetsOutsideStage": true,
			}
			want := legacyDir + "/production/merged/git-" + f.srcCommit + ".yaml"

			// Merged into test only: production's gate is closed.
			f.commitLegacyMerge(t, "test", f.srcCommit)
			tip := f.tip(t)
			res := f.run(t, KindPromote, stage, cfg)
			wantStatus(t, res, kargo.StatusFailed, true)
			for _, s := range []string{"legacy gitflow gate", want, "argo-refs legacy-merge --env production", "same Freight"} {
				if !strings.Contains(res.Message, s) {
					t.Fatalf("message %q lacks %q", res.Message, s)
				}
			}
			if f.tip(t) != tip {
				t.Fatal("a closed gate let the promotion push")
			}

			// The legacy merge lands after the Freight: the same Freight
			// now passes, and the outputs say what the gate read.
			f.commitLegacyMerge(t, "production", f.srcCommit)
			res = f.run(t, KindPromote, stage, cfg)
			wantStatus(t, res, kargo.StatusSucceeded, false)
			got, _ := res.Output[OutputLegacyGitflow].(map[string]any)
			if got["revision"] != f.srcCommit || got["tag"] != "git-"+f.srcCommit || got["mergedAt"] != "2026-03-22T12:34:56Z" || got["env"] != "production" || got["path"] != want {
				t.Fatalf("output %s = %v", OutputLegacyGitflow, res.Output[OutputLegacyGitflow])
			}
			if !strings.Contains(f.show(t, "main", layout.edited), f.srcCommit) {
				t.Fatalf("%s not promoted", layout.edited)
			}
		})
	}
}

// TestLegacyGitflowGateRefusesAMismatchedRecord: a merge record under the
// release's name that names another revision is a failure, not a pass.
func TestLegacyGitflowGateRefusesAMismatchedRecord(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	other := strings.Repeat("a", 40)
	m, err := warehouse.NewLegacyMerge(other, time.Date(2026, 3, 22, 12, 34, 56, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{
		warehouse.LegacyMergedPath(legacyDir, "test", f.srcCommit): string(m.Render()),
	}, "a hand-made record")
	tip := f.tip(t)
	res := f.run(t, KindPromote, "staging", map[string]any{"gates": map[string]any{"legacyGitflow": map[string]any{"env": "test"}}})
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, "records revision "+other) || f.tip(t) != tip {
		t.Fatalf("message %q", res.Message)
	}
}

// TestLegacyGitflowGateCostsNoRequest: with the gate, one promotion is
// still four requests to the GitOps server (see TestPromotionRequestBudget):
// the merge record comes with the targets.
func TestLegacyGitflowGateCostsNoRequest(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	f.commitLegacyMerge(t, "test", f.srcCommit)
	f.git.ResetStats()
	res := f.run(t, KindPromote, "staging", map[string]any{
		"checks": map[string]any{"sourceCommit": false},
		"gates":  map[string]any{"legacyGitflow": map[string]any{"env": "test"}},
	})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	st := f.git.Stats()
	got := fmt.Sprintf("info-refs %d, upload-pack %d, receive-pack %d", st.Service(gittest.ServiceInfoRefs).Requests,
		st.Service(gittest.ServiceUploadPack).Requests, st.Service(gittest.ServiceReceivePack).Requests)
	if got != "info-refs 1, upload-pack 2, receive-pack 1" || st.Requests != 4 {
		t.Fatalf("requests with the gate: %s (%d in all), want 1, 2, 1", got, st.Requests)
	}
}

func TestLegacyGitflowGateConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind Kind
		cfg  string
		want string
	}{
		{"unknown env", KindPromote, `{"env": "main"}`, `/gates/legacyGitflow/env: got "main", want one of "staging", "test", "levelbuilder", "production"`},
		{"no env", KindPromote, `{}`, "/gates/legacyGitflow/env: required key is missing"},
		{"misspelt key", KindPromote, `{"env": "test", "directory": "x"}`, `/gates/legacyGitflow/directory: unknown key; allowed: dir, env`},
		{"verify takes no legacy gate", KindVerify, `{"env": "test"}`, "/gates/legacyGitflow: argo-refs-verify does not check it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := `{"repoURL": "https://github.com/o/k8s-gitops.git", "buildLockDir": "warehouses/codeai/builds", "targets": [{"deploymentFile": {}}], "gates": {"legacyGitflow": ` + tc.cfg + `}}`
			res := Run(t.Context(), tc.kind, testContext(), []byte(raw), Options{})
			if res.Status != kargo.StatusFailed || !strings.Contains(res.Err.Error(), tc.want) {
				t.Fatalf("status %s, error %v; want Failed with %q", res.Status, res.Err, tc.want)
			}
		})
	}
	cfg := mustParse(t, `{"repoURL": "`+testRepo+`", "buildLockDir": "warehouses/codeai/builds", "targets": [{"deploymentFile": {}}], "gates": {"legacyGitflow": {"env": "test"}}}`)
	plan, err := cfg.Resolve(KindPromote, testContext(), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if plan.LegacyGate == nil || plan.LegacyGate.Dir != legacyDir || plan.LegacyGate.Env != "test" {
		t.Fatalf("plan gate %+v, %v; want test in %s", plan.LegacyGate, err, legacyDir)
	}
}

// TestKustomizeWrapperContract: the step reads envType and namespace from
// the deployment's deployment.yaml at the tip and applies the whole wrapper
// contract in the same commit; contract false edits the ref and the tag
// only; strict refuses a wrapper with a field outside the contract.
func TestKustomizeWrapperContract(t *testing.T) {
	f := newFixture(t, fixtureOpt{kustomize: true})
	wrapper := "apps/codeai/deployments/staging/deploy/kustomization.yaml"
	gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{
		"apps/codeai/deployments/staging/deployment.yaml": "envType: levelbuilder\nnamespace: staging-2\n",
	}, "staging now runs the levelbuilder envType")

	res := f.run(t, KindPromote, "staging", map[string]any{"targets": []any{map[string]any{"kustomization": map[string]any{"contract": false}}}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if k := f.show(t, "main", wrapper); !strings.Contains(k, "namespace: staging\n") || !strings.Contains(k, "envTypes/staging\n") || !strings.Contains(k, "?ref="+f.srcCommit) {
		t.Fatalf("contract false changed more than the ref and tag:\n%s", k)
	}

	res = f.run(t, KindPromote, "staging", map[string]any{"targets": []any{map[string]any{"kustomization": map[string]any{}}}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	k := f.show(t, "main", wrapper)
	for _, want := range []string{"namespace: staging-2\n", "components:\n  - ../../../envTypes/levelbuilder\n", "    newName: " + f.reg.Ref(imageRepo) + "\n    newTag: git-" + f.srcCommit + "\n"} {
		if !strings.Contains(k, want) {
			t.Fatalf("wrapper lacks %q:\n%s", want, k)
		}
	}
	if got := gittest.Git(t, f.gitopsDir, "diff", "--name-only", "main^", "main"); got != wrapper {
		t.Fatalf("the commit changed %q, want only the wrapper (deployment.yaml is read, not written)", got)
	}

	gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{wrapper: k + "namePrefix: x-\n"}, "a hand edit")
	tip := f.tip(t)
	res = f.run(t, KindPromote, "staging", map[string]any{"targets": []any{map[string]any{"kustomization": map[string]any{"strict": true}}}})
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, `top-level field "namePrefix"`) || f.tip(t) != tip {
		t.Fatalf("strict: %q", res.Message)
	}
}

// TestRequireAlreadyApplied: the production Stage of a review flow pushes
// nothing: it fails while the branch does not hold the release, and
// succeeds (changed=false) once the review pull request is merged.
func TestRequireAlreadyApplied(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	cfg := map[string]any{"requireAlreadyApplied": true}
	tip := f.tip(t)
	res := f.run(t, KindPromote, "staging", cfg)
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, "apps/codeai/deployments/staging/deployment.yaml, apps/codeai/deployments/staging/values.yaml on main") || !strings.Contains(res.Message, "merge the review pull request") || f.tip(t) != tip {
		t.Fatalf("message %q", res.Message)
	}
	// The review pull request lands (here: the same edit, pushed by a
	// promotion that may push).
	wantStatus(t, f.run(t, KindPromote, "staging", nil), kargo.StatusSucceeded, false)
	merged := f.tip(t)
	res = f.run(t, KindPromote, "staging", cfg)
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if res.Output[OutputChanged] != false || f.tip(t) != merged {
		t.Fatalf("changed = %v, tip moved %v", res.Output[OutputChanged], f.tip(t) != merged)
	}
	bad := Run(t.Context(), KindPromote, testContext(), []byte(`{"repoURL": "`+testRepo+`", "buildLockDir": "warehouses/codeai/builds", "targets": [{"deploymentFile": {}}], "requireAlreadyApplied": true, "generateTargetBranch": true}`), Options{})
	if bad.Status != kargo.StatusFailed || !strings.Contains(bad.Err.Error(), "/requireAlreadyApplied: pushes nothing") {
		t.Fatalf("with generateTargetBranch: %v", bad.Err)
	}
}

// TestKargoSpellingOfTLSSkip: Kargo's insecureSkipTLSVerify: true gets a
// message saying what to write instead.
func TestKargoSpellingOfTLSSkip(t *testing.T) {
	_, err := ParseConfig([]byte(`{"repoURL": "https://h/r", "buildLockDir": "b", "insecureSkipTLSVerify": true}`))
	if err == nil || !strings.Contains(err.Error(), "/insecureSkipTLSVerify: is Kargo's spelling") || !strings.Contains(err.Error(), "insecureSkipTLSVerifyHosts: [<host>") {
		t.Fatalf("err = %v", err)
	}
}

// TestOutputKeysPerStep pins which outputs each step sets, as the README
// lists them: verify sets no branch, attempts or targets.
func TestOutputKeysPerStep(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	common := []string{OutputChanged, OutputFreightCommit, OutputGitCommit, OutputGitopsCommit, OutputImage, OutputImageDigest, OutputImageRef, OutputReleaseID, OutputSourcePath, OutputSourceRepo}
	for _, tc := range []struct {
		kind Kind
		want []string
	}{
		{KindVerify, common},
		{KindPromote, append(slices.Clone(common), OutputAttempts, OutputBranch, OutputTargets)},
	} {
		res := f.run(t, tc.kind, "staging", nil)
		wantStatus(t, res, kargo.StatusSucceeded, false)
		got := slices.Sorted(maps.Keys(res.Output))
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("%s outputs %v, want %v", tc.kind, got, want)
		}
	}
}

// TestKargoGitCredentialSecretPassedWhole: Kargo's Git credential Secret,
// as secret() hands it over (every value a string, repoURLIsRegex
// "true"), works as credentials.git; its repoURL decides where the
// credentials go: a mismatch with repoURL is refused before any request,
// and a pattern that leaves the source repository out keeps them from it.
func TestKargoGitCredentialSecretPassedWhole(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	creds := func(git map[string]any) map[string]any {
		return map[string]any{"credentials": map[string]any{
			"git":      git,
			"registry": map[string]any{"username": regUser, "password": secret, "registry": f.registryHost()},
		}}
	}
	host := strings.TrimPrefix(strings.TrimSuffix(f.gitopsURL, "/gitops.git"), "http://")
	// Credentials for gitops.git only: the GitOps repository gets them,
	// the source repository (on the same host, and closed) does not.
	whole := map[string]any{"repoURL": f.gitopsURL, "repoURLIsRegex": "false", "username": gitUser, "password": secret}
	res := f.run(t, KindVerify, "staging", creds(whole))
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, "checking source") || !strings.Contains(res.Message, "source.git") {
		t.Fatalf("credentials for gitops.git only: %q", res.Message)
	}
	// A pattern covering both repositories on the host: both get them.
	res = f.run(t, KindVerify, "staging", creds(map[string]any{"repoURL": `^http://` + regexpQuote(host) + `/(gitops|source)(\.git)?$`, "repoURLIsRegex": "true", "username": gitUser, "password": secret}))
	wantStatus(t, res, kargo.StatusSucceeded, false)

	// Credentials for another repository: refused, and nothing is asked.
	f.git.ResetStats()
	res = f.run(t, KindVerify, "staging", creds(map[string]any{"repoURL": "https://github.com/other/repo.git", "username": gitUser, "password": secret}))
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, "/credentials/git/repoURL: the credentials are for https://github.com/other/repo.git, not for repoURL") || f.git.Stats().Requests != 0 {
		t.Fatalf("mismatch: %q, %d requests", res.Message, f.git.Stats().Requests)
	}
	res = f.run(t, KindVerify, "staging", creds(map[string]any{"repoURL": f.gitopsURL, "githubAppID": "123", "githubAppInstallationID": "456", "githubAppPrivateKey": "-----BEGIN RSA PRIVATE KEY-----\nnot a key"}))
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, "the private key is not an RSA key in PEM") || strings.Contains(res.Message, "not a key") {
		t.Fatalf("GitHub App secret with a broken key: %q", res.Message)
	}
}

func regexpQuote(s string) string { return strings.NewReplacer(".", `\.`).Replace(s) }

// TestHealthCheckPinsThePromotion: with healthCheck, the Result asks Kargo
// for argocd-update's health check, each Application source pinned to what
// the promotion made it reach, in the shape of Kargo's ArgoCDHealthInput.
func TestHealthCheckPinsThePromotion(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	res := f.run(t, KindPromote, "staging", map[string]any{"healthCheck": map[string]any{"apps": []any{
		map[string]any{"name": "codeai-staging", "namespace": "argocd", "desiredRevisions": []any{"gitCommit", ""}},
		map[string]any{"name": "codeai-staging-gitops", "desiredRevisions": []any{"gitopsCommit"}},
	}}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	want := &kargo.HealthCheck{Kind: "argocd-update", Input: map[string]any{"apps": []any{
		map[string]any{"name": "codeai-staging", "namespace": "argocd", "desiredRevisions": []any{f.srcCommit, ""}},
		map[string]any{"name": "codeai-staging-gitops", "desiredRevisions": []any{f.tip(t)}},
	}}}
	if !reflect.DeepEqual(res.HealthCheck, want) {
		t.Fatalf("health check %#v\nwant %#v", res.HealthCheck, want)
	}
	// Without the config there is none; verify refuses it.
	if res := f.run(t, KindPromote, "staging", nil); res.HealthCheck != nil {
		t.Fatalf("a health check without the config: %#v", res.HealthCheck)
	}
	bad := f.run(t, KindVerify, "staging", map[string]any{"healthCheck": map[string]any{"apps": []any{map[string]any{"name": "a", "desiredRevisions": []any{"gitCommit"}}}}})
	if bad.Status != kargo.StatusFailed || !strings.Contains(bad.Message, "/healthCheck: argo-refs-verify deploys nothing") {
		t.Fatalf("verify with healthCheck: %q", bad.Message)
	}
}
