package step

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/argo-refs/argo-refs/images"
	"github.com/argo-refs/argo-refs/internal/gitopstest"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/internal/logbuf"
	"github.com/argo-refs/argo-refs/internal/regtest"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

const (
	lockDir   = "warehouses/codeai/builds"
	secret    = leaktest.Secret
	gitUser   = "kargo"
	regUser   = "puller"
	whKey     = "Warehouse/codeai-builds"
	imageRepo = "code-dot-org/code-dot-org"
)

// fixture is a GitOps repository, a source repository and a registry, all
// real and on 127.0.0.1, holding one published release.
type fixture struct {
	git       *gittest.Server
	reg       *regtest.Registry
	gitopsURL string
	gitopsDir string
	sourceURL string
	srcCommit string
	imageRef  string
	digest    string
	freight   string // the GitOps commit that published the record
	logs      *logbuf.Buffer
	// runner is the fixture's process: its runs share what a Runner
	// keeps (records, registry clients), as serve's calls do.
	runner *Runner
}

func kustomizeFiles(sourceURL string) map[string]string {
	return map[string]string{
		"apps/codeai/deployments/staging/deployment.yaml": "envType: staging\nnamespace: staging\n",
		"apps/codeai/deployments/staging/deploy/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\n" +
			"kind: Kustomization\nnamespace: staging\nresources:\n" +
			"  - " + sourceURL + "//k8s/kustomize/base?ref=0000000000000000000000000000000000000000&timeout=120s # the release\n" +
			"components:\n  - ../../../envTypes/staging\nimages:\n" +
			"  - name: code-dot-org\n    newName: IMAGE_REPO\n    newTag: git-0000000000000000000000000000000000000000\n",
		"apps/codeai/argocd/staging-app.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: codeai-staging\n" +
			"spec:\n  project: default\n  sources:\n" +
			"    - repoURL: " + sourceURL + "\n      targetRevision: \"main\" # the source commit\n      path: k8s/helm\n" +
			"    - repoURL: https://example.com/k8s-gitops.git\n      targetRevision: main\n      ref: values\n" +
			"  destination:\n    server: https://kubernetes.default.svc\n    namespace: staging\n",
	}
}

type fixtureOpt struct {
	kustomize    bool
	gitMW        func(http.Handler) http.Handler
	regMW        func(http.Handler) http.Handler
	recordSource string // overrides the record's gitCommit (e.g. a missing commit)
	recordPath   string // overrides the record's sourcePath
	sourceName   string // the source repository's name on the server; default source.git
	noGitAuth    bool   // the Git server takes no basic auth of its own (a middleware decides)
	regOpts      []regtest.Option
}

func newFixture(t *testing.T, o fixtureOpt) *fixture {
	t.Helper()
	f := &fixture{logs: &logbuf.Buffer{}, runner: NewRunner()}
	var gopts []gittest.Option
	if !o.noGitAuth {
		gopts = append(gopts, gittest.WithBasicAuth(gitUser, secret))
	}
	if o.gitMW != nil {
		gopts = append(gopts, gittest.WithMiddleware(o.gitMW))
	}
	f.git = gittest.New(t, gopts...)
	ropts := []regtest.Option{regtest.WithCredentials(regUser, secret)}
	if o.regMW != nil {
		ropts = append(ropts, regtest.WithMiddleware(o.regMW))
	}
	ropts = append(ropts, o.regOpts...)
	f.reg = regtest.New(t, ropts...)

	sourceName := cmp.Or(o.sourceName, "source.git")
	f.sourceURL = f.git.CreateRepo(t, sourceName)
	f.srcCommit = gittest.CommitFiles(t, f.git.Dir(sourceName), "main", map[string]string{
		"k8s/helm/Chart.yaml":                   "apiVersion: v2\nname: codeai\nversion: 0.1.0\n",
		"k8s/kustomize/base/kustomization.yaml": "resources: []\n",
	}, "chart")
	recCommit := f.srcCommit
	if o.recordSource != "" {
		recCommit = o.recordSource
	}
	f.imageRef = f.reg.Ref(imageRepo + ":git-" + recCommit)
	f.digest = f.reg.PushImage(t, imageRepo+":git-"+recCommit, map[string]string{"org.opencontainers.image.revision": recCommit})

	f.gitopsURL = f.git.CreateRepo(t, "gitops.git")
	f.gitopsDir = f.git.Dir("gitops.git")
	files := gitopstest.HelmStages("staging", "production")
	if o.kustomize {
		files = kustomizeFiles(f.sourceURL)
		k := "apps/codeai/deployments/staging/deploy/kustomization.yaml"
		files[k] = strings.Replace(files[k], "IMAGE_REPO", f.reg.Ref(imageRepo), 1)
	}
	gittest.CommitFiles(t, f.gitopsDir, "main", files, "layout")
	kind, srcPath := warehouse.PackagingHelm, "k8s/helm"
	if o.kustomize {
		kind, srcPath = warehouse.PackagingKustomize, "k8s/kustomize/base"
	}
	if o.recordPath != "" {
		srcPath = o.recordPath
	}
	rec, err := warehouse.New(recCommit, f.imageRef, f.digest, kind, f.sourceURL, srcPath,
		time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	f.freight = gitopstest.PublishRecord(t, f.gitopsDir, "main", lockDir, rec)
	return f
}

func (f *fixture) context(stage string) Context {
	return Context{
		Project: "kargo-project-codeai", Stage: stage, Promotion: stage + "-1", Alias: "promote",
		Freight: kargo.FreightCollection{ID: "f1", Items: map[string]kargo.FreightReference{
			whKey: {Name: "f1", Origin: kargo.FreightOrigin{Kind: "Warehouse", Name: "codeai-builds"},
				Commits: []kargo.GitCommit{{RepoURL: f.gitopsURL, ID: f.freight, Branch: "main"}}},
		}},
	}
}

func (f *fixture) config(t *testing.T, extra map[string]any) []byte {
	t.Helper()
	cfg := map[string]any{
		"repoURL":      f.gitopsURL,
		"buildLockDir": lockDir,
		"targets":      []any{map[string]any{"deploymentFile": map[string]any{}}},
		"credentials": map[string]any{
			"git":      map[string]any{"username": gitUser, "password": secret},
			"registry": map[string]any{"username": regUser, "password": secret, "registry": f.registryHost()},
		},
		"timeout": "30s",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// registryHost is the registry of the fixture's image, which its registry
// credentials are for.
func (f *fixture) registryHost() string {
	host, _, _ := strings.Cut(f.imageRef, "/")
	return host
}

func (f *fixture) run(t *testing.T, kind Kind, stage string, extra map[string]any) Result {
	t.Helper()
	res := f.runner.Run(context.Background(), kind, f.context(stage), f.config(t, extra), Options{
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
	})
	f.assertNoLeak(t, res)
	return res
}

// assertNoLeak fails the test if the credential shows anywhere a person or a
// later step could read it.
func (f *fixture) assertNoLeak(t *testing.T, res Result) {
	t.Helper()
	out, _ := json.Marshal(res.Output)
	places := map[string]string{"message": res.Message, "outputs": string(out), "logs": f.logs.String(), "diff": res.Diff}
	if res.Err != nil {
		places["error"] = res.Err.Error()
	}
	places["commit messages"] = gittest.Git(t, f.gitopsDir, "log", "--format=%B", "main")
	for where, text := range places {
		if form := leaktest.Find(text, gitUser, secret); form != "" {
			t.Fatalf("the credential leaked into the %s (as %q): %s", where, form, text)
		}
	}
}

func (f *fixture) tip(t *testing.T) string {
	return gittest.Git(t, f.gitopsDir, "rev-parse", "main")
}

func (f *fixture) show(t *testing.T, rev, path string) string {
	return gittest.Git(t, f.gitopsDir, "show", rev+":"+path) + "\n"
}

func wantStatus(t *testing.T, res Result, status kargo.StepStatus, terminal bool) {
	t.Helper()
	if res.Status != status || res.Terminal != terminal {
		t.Fatalf("status %s terminal=%v, want %s terminal=%v; message: %s", res.Status, res.Terminal, status, terminal, res.Message)
	}
}

func TestPromoteStagingThenProduction(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	start := f.tip(t)

	res := f.run(t, KindPromote, "staging", nil)
	wantStatus(t, res, kargo.StatusSucceeded, false)
	staged := f.tip(t)
	if got := gittest.Git(t, f.gitopsDir, "rev-parse", staged+"^"); got != start {
		t.Fatalf("the promotion commit's parent is %s, want the previous tip %s", got, start)
	}
	changed := gittest.Git(t, f.gitopsDir, "diff", "--name-only", start, staged)
	if changed != "apps/codeai/deployments/staging/deployment.yaml\napps/codeai/deployments/staging/values.yaml" {
		t.Fatalf("the commit changed:\n%s", changed)
	}
	wantDeploy := "# Read by the codeai ApplicationSet.\nenvType: staging\nnamespace: staging\n" +
		"targetRevision: '" + f.srcCommit + "' # moved by Kargo\n"
	if got := f.show(t, "main", "apps/codeai/deployments/staging/deployment.yaml"); got != wantDeploy {
		t.Fatalf("deployment.yaml:\n%s\nwant:\n%s", got, wantDeploy)
	}
	wantValues := "image: " + f.imageRef + "  # set at promotion\nautoscaling:\n  maxReplicas: 1\n"
	if got := f.show(t, "main", "apps/codeai/deployments/staging/values.yaml"); got != wantValues {
		t.Fatalf("values.yaml:\n%s\nwant:\n%s", got, wantValues)
	}
	msg := gittest.Git(t, f.gitopsDir, "log", "-1", "--format=%s", "main")
	if msg != "Promote staging to git-"+f.srcCommit { // no [skip ci] by default
		t.Fatalf("commit message %q", msg)
	}
	for key, want := range map[string]any{
		OutputReleaseID: "git-" + f.srcCommit, OutputGitCommit: f.srcCommit, OutputImageRef: f.imageRef,
		OutputImageDigest: f.digest, OutputSourceRepo: f.sourceURL, OutputSourcePath: "k8s/helm",
		OutputGitopsCommit: staged, OutputBranch: "main", OutputChanged: true, OutputFreightCommit: f.freight,
	} {
		if res.Output[key] != want {
			t.Errorf("output %s = %v, want %v", key, res.Output[key], want)
		}
	}
	targets, _ := json.Marshal(res.Output[OutputTargets])
	var moved []TargetChange
	if err := json.Unmarshal(targets, &moved); err != nil {
		t.Fatal(err)
	}
	wantMoved := []TargetChange{
		{Path: "apps/codeai/deployments/staging/deployment.yaml", Key: "targetRevision", Old: "staging", New: f.srcCommit},
		{Path: "apps/codeai/deployments/staging/values.yaml", Key: "image", Old: "ghcr.io/code-dot-org/code-dot-org:staging", New: f.imageRef},
	}
	if fmt.Sprint(moved) != fmt.Sprint(wantMoved) {
		t.Errorf("targets output %v, want %v", moved, wantMoved)
	}
	wantMsg := fmt.Sprintf("staging → git-%s (%s@sha256:%s…); commit %s on main", f.srcCommit[:7], f.reg.Ref(imageRepo), f.digest[7:11], staged[:7])
	if res.Message != wantMsg {
		t.Errorf("message %q, want %q", res.Message, wantMsg)
	}

	res = f.run(t, KindPromote, "production", nil)
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if got := gittest.Git(t, f.gitopsDir, "rev-list", "--count", start+"..main"); got != "2" {
		t.Fatalf("%s commits after two promotions, want 2", got)
	}
	if got := f.show(t, "main", "apps/codeai/deployments/production/deployment.yaml"); !strings.Contains(got, "targetRevision: '"+f.srcCommit+"' # moved by Kargo") {
		t.Fatalf("production deployment.yaml:\n%s", got)
	}
	gittest.Git(t, f.gitopsDir, "fsck", "--strict")
}

func TestRerunMakesNoCommit(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	wantStatus(t, f.run(t, KindPromote, "staging", nil), kargo.StatusSucceeded, false)
	tip := f.tip(t)
	res := f.run(t, KindPromote, "staging", nil)
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if f.tip(t) != tip {
		t.Fatal("the re-run made a commit")
	}
	if res.Output[OutputChanged] != false || res.Output[OutputGitopsCommit] != tip || res.Output[OutputReleaseID] != "git-"+f.srcCommit {
		t.Fatalf("outputs of the re-run: %v", res.Output)
	}
	if !strings.Contains(res.Message, "already at git-"+f.srcCommit[:7]) {
		t.Fatalf("message %q", res.Message)
	}
}

func TestMovedTagIsRefusedAndNothingPushed(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	moved := f.reg.PushImage(t, imageRepo+":git-"+f.srcCommit, map[string]string{"rebuilt": "yes"})
	tip := f.tip(t)
	for _, kind := range []Kind{KindVerify, KindPromote} {
		res := f.run(t, kind, "staging", nil)
		wantStatus(t, res, kargo.StatusFailed, true)
		if !errors.Is(res.Err, images.ErrTagMoved) || !strings.Contains(res.Message, f.digest) || !strings.Contains(res.Message, moved) {
			t.Fatalf("%s: error %v; message must name both digests: %s", kind, res.Err, res.Message)
		}
	}
	if f.tip(t) != tip {
		t.Fatal("a refused promotion pushed")
	}
}

func TestMissingSourceCommitIsTerminal(t *testing.T) {
	missing := strings.Repeat("ab", 20)
	f := newFixture(t, fixtureOpt{recordSource: missing})
	tip := f.tip(t)
	res := f.run(t, KindPromote, "staging", nil)
	wantStatus(t, res, kargo.StatusFailed, true)
	if !errors.Is(res.Err, gitrepo.ErrCommitNotFound) || !strings.Contains(res.Message, "abababa") {
		t.Fatalf("error %v, message %q", res.Err, res.Message)
	}
	if f.tip(t) != tip {
		t.Fatal("pushed despite a missing source commit")
	}
}

func TestMissingSourcePathIsTerminal(t *testing.T) {
	f := newFixture(t, fixtureOpt{recordPath: "k8s/chart-that-never-was"})
	res := f.run(t, KindVerify, "staging", nil)
	wantStatus(t, res, kargo.StatusFailed, true)
	if !errors.Is(res.Err, gitrepo.ErrPathNotFound) || !strings.Contains(res.Message, "k8s/chart-that-never-was") {
		t.Fatalf("error %v, message %q", res.Err, res.Message)
	}
}

func TestCurrentDifferingFromItsTwinIsTerminal(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	cur := f.show(t, f.freight, lockDir+"/current.yaml")
	f.freight = gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{
		lockDir + "/current.yaml": strings.Replace(cur, "k8s/helm", "k8s/helm2", 1),
	}, "tamper")
	tip := f.tip(t)
	res := f.run(t, KindPromote, "staging", nil)
	wantStatus(t, res, kargo.StatusFailed, true)
	if !errors.Is(res.Err, warehouse.ErrInvalidRecord) || !strings.Contains(res.Message, lockDir) {
		t.Fatalf("error %v, message %q", res.Err, res.Message)
	}
	if f.tip(t) != tip {
		t.Fatal("pushed despite a broken record set")
	}
}

func TestConcurrentPushBetweenFetchAndPushIsRetried(t *testing.T) {
	var f *fixture
	var raced atomic.Bool
	f = newFixture(t, fixtureOpt{gitMW: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/gitops.git/git-receive-pack") && raced.CompareAndSwap(false, true) {
				// Someone else lands a commit after we fetched the tip.
				gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{"README.md": "racing commit\n"}, "race")
			}
			next.ServeHTTP(w, r)
		})
	}})
	start := f.tip(t)
	res := f.run(t, KindPromote, "staging", nil)
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if !raced.Load() || res.Output[OutputAttempts] != 2 {
		t.Fatalf("raced=%v attempts=%v, want a race and 2 attempts", raced.Load(), res.Output[OutputAttempts])
	}
	log := gittest.Git(t, f.gitopsDir, "log", "--format=%s", start+"..main")
	if log != "Promote staging to git-"+f.srcCommit+"\nrace" {
		t.Fatalf("history after the race:\n%s", log)
	}
	if merges := gittest.Git(t, f.gitopsDir, "rev-list", "--merges", "--count", "main"); merges != "0" {
		t.Fatalf("%s merge commits; history must stay linear", merges)
	}
}

func TestTwoStagesAtOnceBothLand(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	start := f.tip(t)
	var wg sync.WaitGroup
	results := make([]Result, 2)
	for i, stage := range []string{"staging", "production"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = f.runner.Run(context.Background(), KindPromote, f.context(stage), f.config(t, nil), Options{})
		}()
	}
	wg.Wait()
	for _, res := range results {
		wantStatus(t, res, kargo.StatusSucceeded, false)
	}
	if got := gittest.Git(t, f.gitopsDir, "rev-list", "--count", start+"..main"); got != "2" {
		t.Fatalf("%s commits, want one per stage", got)
	}
	for _, stage := range []string{"staging", "production"} {
		if got := f.show(t, "main", "apps/codeai/deployments/"+stage+"/deployment.yaml"); !strings.Contains(got, f.srcCommit) {
			t.Fatalf("%s was lost:\n%s", stage, got)
		}
	}
}

// TestSamePromotionTwiceAtOnceMakesOneCommit: kargo-extended's client
// retries a call that outlives its 30 s timeout, so one promotion can run
// twice at once. Both calls succeed and the branch gets one commit.
func TestSamePromotionTwiceAtOnceMakesOneCommit(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	start := f.tip(t)
	var wg sync.WaitGroup
	results := make([]Result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = f.runner.Run(context.Background(), KindPromote, f.context("staging"), f.config(t, nil), Options{})
		}()
	}
	wg.Wait()
	changed := 0
	for _, res := range results {
		wantStatus(t, res, kargo.StatusSucceeded, false)
		if res.Output["changed"] == true {
			changed++
		}
	}
	if got := gittest.Git(t, f.gitopsDir, "rev-list", "--count", start+"..main"); got != "1" || changed != 1 {
		t.Fatalf("%s commits, %d calls reporting changed=true; want 1 and 1", got, changed)
	}
	if got := f.show(t, "main", "apps/codeai/deployments/staging/deployment.yaml"); !strings.Contains(got, f.srcCommit) {
		t.Fatalf("staging not promoted:\n%s", got)
	}
}

func TestKustomizationAndApplicationTargets(t *testing.T) {
	f := newFixture(t, fixtureOpt{kustomize: true})
	res := f.run(t, KindPromote, "staging", map[string]any{"targets": []any{
		map[string]any{"kustomization": map[string]any{}},
		map[string]any{"application": map[string]any{"path": "apps/codeai/argocd/staging-app.yaml"}},
	}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	k := f.show(t, "main", "apps/codeai/deployments/staging/deploy/kustomization.yaml")
	for _, want := range []string{
		"  - " + f.sourceURL + "//k8s/kustomize/base?ref=" + f.srcCommit + "&timeout=120s # the release\n",
		"    newName: " + f.reg.Ref(imageRepo) + "\n    newTag: git-" + f.srcCommit + "\n",
		"components:\n  - ../../../envTypes/staging\n",
	} {
		if !strings.Contains(k, want) {
			t.Fatalf("kustomization.yaml lacks %q:\n%s", want, k)
		}
	}
	app := f.show(t, "main", "apps/codeai/argocd/staging-app.yaml")
	if !strings.Contains(app, "targetRevision: \""+f.srcCommit+"\" # the source commit") || !strings.Contains(app, "targetRevision: main\n      ref: values") {
		t.Fatalf("Application:\n%s", app)
	}
}

func TestVerifyChangesNothing(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	tip := f.tip(t)
	res := f.run(t, KindVerify, "staging", map[string]any{"checks": map[string]any{"imageRevisionLabel": true}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if f.tip(t) != tip || res.Output[OutputGitopsCommit] != f.freight {
		t.Fatalf("verify moved the branch or reported %v", res.Output[OutputGitopsCommit])
	}
}

func TestDryRunPrintsTheDiffAndPushesNothing(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	tip := f.tip(t)
	res := f.runner.Run(context.Background(), KindPromote, f.context("staging"), f.config(t, nil), Options{DryRun: true})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if f.tip(t) != tip {
		t.Fatal("a dry run pushed")
	}
	for _, want := range []string{
		"--- a/apps/codeai/deployments/staging/deployment.yaml",
		"-targetRevision: 'staging' # moved by Kargo",
		"+targetRevision: '" + f.srcCommit + "' # moved by Kargo",
		"+image: " + f.imageRef + "  # set at promotion",
	} {
		if !strings.Contains(res.Diff, want) {
			t.Fatalf("diff lacks %q:\n%s", want, res.Diff)
		}
	}
}

func TestWrongGitCredentialsAreTerminalAndNotEchoed(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	res := f.run(t, KindPromote, "staging", map[string]any{"credentials": map[string]any{
		"git":      map[string]any{"username": gitUser, "password": secret + "-wrong"},
		"registry": map[string]any{"username": regUser, "password": secret, "registry": f.registryHost()},
	}})
	wantStatus(t, res, kargo.StatusFailed, true)
	if !errors.Is(res.Err, gitrepo.ErrAuth) || strings.Contains(res.Message, "-wrong") {
		t.Fatalf("error %v, message %q", res.Err, res.Message)
	}
}

func TestRegistryDownIsRetryable(t *testing.T) {
	f := newFixture(t, fixtureOpt{regMW: regtest.FailManifests(1000, http.StatusServiceUnavailable, "")})
	res := f.run(t, KindVerify, "staging", map[string]any{"timeout": "3s"})
	wantStatus(t, res, kargo.StatusErrored, false)
	if !errors.Is(res.Err, images.ErrUnavailable) {
		t.Fatalf("error %v, want ErrUnavailable", res.Err)
	}
}

func TestBadConfigAndUnknownKindAreTerminal(t *testing.T) {
	res := Run(context.Background(), KindPromote, Context{Stage: "staging"}, []byte(`{"repoURL": 3}`), Options{})
	wantStatus(t, res, kargo.StatusFailed, true)
	var ce *ConfigError
	if !errors.As(res.Err, &ce) {
		t.Fatalf("error %T %v, want a *ConfigError", res.Err, res.Err)
	}
	res = Run(context.Background(), Kind("argo-refs-nope"), Context{}, nil, Options{})
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, "argo-refs-promote") {
		t.Fatalf("message %q does not name the known kinds", res.Message)
	}
}

func TestReviewBranchIsCreatedThenReused(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	mainTip := f.tip(t)
	for i := 0; i < 2; i++ {
		res := f.run(t, KindPromote, "production", map[string]any{"generateTargetBranch": true})
		wantStatus(t, res, kargo.StatusSucceeded, false)
		branch, _ := res.Output[OutputBranch].(string)
		if branch == "" || branch == "main" {
			t.Fatalf("run %d: branch output %q", i, branch)
		}
		if want := i == 0; res.Output[OutputChanged] != want {
			t.Fatalf("run %d: changed=%v, want %v", i, res.Output[OutputChanged], want)
		}
		got := gittest.Git(t, f.gitopsDir, "show", branch+":apps/codeai/deployments/production/deployment.yaml")
		if !strings.Contains(got, f.srcCommit) {
			t.Fatalf("run %d: review branch lacks the release:\n%s", i, got)
		}
		if n := gittest.Git(t, f.gitopsDir, "rev-list", "--count", "main.."+branch); n != "1" {
			t.Fatalf("run %d: review branch has %s commits over main, want 1", i, n)
		}
	}
	if f.tip(t) != mainTip {
		t.Fatal("a review-branch promotion moved main")
	}
}

// TestWarmRegistryTokenIsReusedAcrossCalls: a long-running serve keeps its
// registry token, so a verification after the first costs one round trip.
func TestWarmRegistryTokenIsReusedAcrossCalls(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	noSource := map[string]any{"checks": map[string]any{"sourceCommit": false}}
	wantStatus(t, f.run(t, KindVerify, "staging", noSource), kargo.StatusSucceeded, false)
	f.reg.ResetCounters()
	wantStatus(t, f.run(t, KindVerify, "staging", noSource), kargo.StatusSucceeded, false)
	if got, tokens := f.reg.Requests(), f.reg.TokenRequests(); got != 1 || tokens != 0 {
		t.Fatalf("a warm verification made %d registry requests (%d token requests), want 1 and 0", got, tokens)
	}
}

func TestUIMessageIsBounded(t *testing.T) {
	long := oneLine("bad " + strings.Repeat("é", 4000) + "\n tail")
	if len(long) > maxMessage+len("…") || !strings.HasSuffix(long, "…") || !utf8.ValidString(long) {
		t.Fatalf("message of %d bytes, valid UTF-8 %v", len(long), utf8.ValidString(long))
	}
	if got := oneLine("a\n  b\tc"); got != "a b c" {
		t.Fatalf("oneLine folded to %q", got)
	}
}

// TestPromotionRequestBudget: one promotion costs the GitOps server four
// requests: the advertisement, one fetch of the Freight commit and the tip,
// one request for the record and target blobs, and the push.
func TestPromotionRequestBudget(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	f.git.ResetStats()
	res := f.run(t, KindPromote, "staging", map[string]any{"checks": map[string]any{"sourceCommit": false}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	st := f.git.Stats()
	got := fmt.Sprintf("info-refs %d, upload-pack %d, receive-pack %d", st.Service(gittest.ServiceInfoRefs).Requests,
		st.Service(gittest.ServiceUploadPack).Requests, st.Service(gittest.ServiceReceivePack).Requests)
	if got != "info-refs 1, upload-pack 2, receive-pack 1" || st.Requests != 4 {
		t.Fatalf("requests: %s (%d in all), want 1, 2, 1", got, st.Requests)
	}
}

// TestPromotionRequestBudgetByPath: with treeFetch: paths, the commits
// come with the root's entries (tree:2), then the trees on the record's
// directory (listed to start the source check early) and on the targets'
// paths, together, one request per level (codeai; deployments and builds;
// staging), then the blobs: five GitOps upload-pack requests instead of
// two, whatever the size of the rest of the tree, plus the source check's
// one (the source repository is on the same server here).
func TestPromotionRequestBudgetByPath(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	f.git.ResetStats()
	res := f.run(t, KindPromote, "staging", map[string]any{"treeFetch": "paths"})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	st := f.git.Stats()
	got := fmt.Sprintf("info-refs %d, upload-pack %d, receive-pack %d", st.Service(gittest.ServiceInfoRefs).Requests,
		st.Service(gittest.ServiceUploadPack).Requests, st.Service(gittest.ServiceReceivePack).Requests)
	if got != "info-refs 1, upload-pack 6, receive-pack 1" {
		t.Fatalf("requests: %s", got)
	}
	if !strings.Contains(f.show(t, "main", "apps/codeai/deployments/staging/deployment.yaml"), f.srcCommit) {
		t.Fatal("the promotion did not land")
	}
}

// TestSkippedChecksAreSaid: a check the config turns off is named in the
// message and the outputs every time; "verified" alone would read as more
// than was done.
func TestSkippedChecksAreSaid(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	res := f.run(t, KindVerify, "staging", map[string]any{"checks": map[string]any{"imageDigest": false}})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if !strings.Contains(res.Message, "NOT checked: imageDigest") {
		t.Errorf("message %q does not say the image was not checked", res.Message)
	}
	if got, ok := res.Output[OutputSkippedChecks].([]string); !ok || len(got) != 1 || got[0] != "imageDigest" {
		t.Errorf("outputs %s = %#v, want [imageDigest]", OutputSkippedChecks, res.Output[OutputSkippedChecks])
	}
	res = f.run(t, KindVerify, "staging", nil)
	if strings.Contains(res.Message, "NOT checked") || res.Output[OutputSkippedChecks] != nil {
		t.Errorf("all checks on: message %q, outputs %v", res.Message, res.Output[OutputSkippedChecks])
	}
}

// TestConflictingTargetsAreRefused: two targets that give one scalar two
// values fail the step, naming both, and push nothing; the last one won
// without a word before.
func TestConflictingTargetsAreRefused(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	dir := "apps/codeai/deployments/staging/"
	for name, targets := range map[string][]any{
		"one values file, one target pinning the digest": {
			map[string]any{"deploymentFile": map[string]any{}},
			map[string]any{"deploymentFile": map[string]any{"path": dir + "deployment.yaml", "key": "envType", "valuesFile": dir + "values.yaml", "pinDigest": true}},
		},
		"the values key is the deployment file's own key": {
			map[string]any{"deploymentFile": map[string]any{"valuesFile": dir + "deployment.yaml", "imageKey": "targetRevision"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			tip := f.tip(t)
			res := f.run(t, KindPromote, "staging", map[string]any{"targets": targets})
			wantStatus(t, res, kargo.StatusFailed, true)
			if !errors.Is(res.Err, ErrConflictingTargets) || !strings.Contains(res.Message, "targets[0]") {
				t.Fatalf("error %v; want ErrConflictingTargets naming the targets", res.Err)
			}
			if f.tip(t) != tip {
				t.Fatal("a conflicting promotion pushed")
			}
		})
	}
}

// TestTargetsOfAnotherStageAreRefused: explicit target paths none of which
// names the stage (another stage's files, or a typo in --stage) fail the
// config, instead of the step reporting the stage "already at" a release
// after looking at other files; allowTargetsOutsideStage accepts them.
func TestTargetsOfAnotherStageAreRefused(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	dir := "apps/codeai/deployments/staging/"
	staging := []any{map[string]any{"deploymentFile": map[string]any{"path": dir + "deployment.yaml", "valuesFile": dir + "values.yaml"}}}
	for _, stage := range []string{"production", "stagin"} {
		res := f.run(t, KindPromote, stage, map[string]any{"targets": staging})
		wantStatus(t, res, kargo.StatusFailed, true)
		if !strings.Contains(res.Message, "no target path names stage "+strconv.Quote(stage)) {
			t.Errorf("stage %s: message %q", stage, res.Message)
		}
	}
	res := f.run(t, KindPromote, "production", map[string]any{"targets": staging, "allowTargetsOutsideStage": true})
	wantStatus(t, res, kargo.StatusSucceeded, false)
}
