package examples_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/repolint"
	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/trust/spec"
)

// Stages.

// evaluatedStep is one step of a Stage after Kargo would have evaluated it.
type evaluatedStep struct {
	uses, as string
	config   map[string]any
}

// evaluateStage evaluates every step's config of a Stage in order, the way
// Kargo does during a Promotion, with plausible outputs of earlier steps.
func evaluateStage(d doc) ([]evaluatedStep, error) {
	stage := d.name()
	env := &stageEnv{
		stage:     stage,
		project:   str(d.obj, "metadata", "namespace"),
		warehouse: str(d.obj, "spec", "requestedFreight", 0, "origin", "name"),
		vars:      map[string]string{},
		earlier:   map[string]stepRef{},
	}
	if k := str(d.obj, "spec", "requestedFreight", 0, "origin", "kind"); k != "Warehouse" {
		return nil, fmt.Errorf("requestedFreight[0].origin.kind is %q, want Warehouse", k)
	}
	for i, v := range list(d.obj, "spec", "promotionTemplate", "spec", "vars") {
		name, value := str(v, "name"), str(v, "value")
		if name == "" || strings.Contains(value, "${{") {
			return nil, fmt.Errorf("vars[%d]: want a name and a literal value", i)
		}
		env.vars[name] = value
	}
	steps := list(d.obj, "spec", "promotionTemplate", "spec", "steps")
	if len(steps) == 0 {
		return nil, errors.New("the Stage has no promotion steps")
	}
	var out []evaluatedStep
	for i, s := range steps {
		uses, as := str(s, "uses"), str(s, "as")
		if uses == "" {
			return nil, fmt.Errorf("steps[%d] has no uses", i)
		}
		for k := range s.(map[string]any) {
			if k != "uses" && k != "as" && k != "config" {
				return nil, fmt.Errorf("steps[%d] (%s): unexpected key %q", i, uses, k)
			}
		}
		if _, ok := dig(s, "config").(map[string]any); !ok {
			return nil, fmt.Errorf("steps[%d] (%s) has no config mapping", i, uses)
		}
		m, err := env.evalConfig(dig(s, "config"))
		if err != nil {
			return nil, fmt.Errorf("steps[%d] (%s) config: %w", i, uses, err)
		}
		if as != "" {
			if _, dup := env.earlier[as]; dup {
				return nil, fmt.Errorf("steps[%d]: alias %q is used twice", i, as)
			}
			env.earlier[as] = stepRef{kind: uses, config: m}
		}
		out = append(out, evaluatedStep{uses: uses, as: as, config: m})
	}
	return out, nil
}

// parseStepConfig validates an evaluated argo-refs config as the runtimes do.
func parseStepConfig(cfg map[string]any) (*step.Config, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return step.ParseConfig(raw)
}

func isArgoRefsKind(k string) bool {
	return k == string(step.KindPromote) || k == string(step.KindVerify)
}

// TestExampleStagesConfigsAreValid evaluates every Stage that uses an argo-refs step
// and validates that step's config with step.ParseConfig.
func TestExampleStagesConfigsAreValid(t *testing.T) {
	docs := loadExamples(t)
	stages := byKind(docs, "kargo.akuity.io/v1alpha1 Stage")
	checked := 0
	for _, d := range stages {
		t.Run(d.path, func(t *testing.T) {
			steps, err := evaluateStage(d)
			if err != nil {
				t.Fatalf("%s: %v", d, err)
			}
			var ours []evaluatedStep
			for _, s := range steps {
				if isArgoRefsKind(s.uses) {
					ours = append(ours, s)
					continue
				}
				if !slices.Contains(kargoBuiltinKinds, s.uses) {
					t.Errorf("%s: step uses %q, neither an argo-refs kind nor a Kargo built-in", d, s.uses)
				}
				if slices.Contains(replacedKinds, s.uses) {
					t.Errorf("%s: step %q is one the argo-refs step replaces", d, s.uses)
				}
			}
			if len(ours) != 1 {
				t.Fatalf("%s: %d argo-refs steps, want exactly one", d, len(ours))
			}
			if _, err := parseStepConfig(ours[0].config); err != nil {
				t.Errorf("%s: the %s config is invalid after evaluation: %v", d, ours[0].uses, err)
			}
			checked++
		})
	}
	if checked != 11 {
		t.Errorf("validated %d Stage configs, want the 5 helm, 5 kustomize and 1 custom-step Stages", checked)
	}
}

// layout is one GitOps layout's manifests.
type layout struct {
	name           string
	stages         []doc
	warehouses     []doc
	projectConfigs []doc
	appSets        []doc
	docs           []doc // every document of the layout
}

func layouts(docs []doc) map[string]*layout {
	out := map[string]*layout{}
	for _, d := range docs {
		v := d.variant()
		if v == "" {
			continue
		}
		l := out[v]
		if l == nil {
			l = &layout{name: v}
			out[v] = l
		}
		l.docs = append(l.docs, d)
		switch d.kind() {
		case "kargo.akuity.io/v1alpha1 Stage":
			l.stages = append(l.stages, d)
		case "kargo.akuity.io/v1alpha1 Warehouse":
			l.warehouses = append(l.warehouses, d)
		case "kargo.akuity.io/v1alpha1 ProjectConfig":
			l.projectConfigs = append(l.projectConfigs, d)
		case "argoproj.io/v1alpha1 ApplicationSet":
			l.appSets = append(l.appSets, d)
		}
	}
	return out
}

// readLayoutFile parses a file of a layout's GitOps tree.
func readLayoutFile(layout, rel string) (map[string]any, error) {
	p := path.Join(layout, rel)
	data, err := os.ReadFile(filepath.FromSlash(p))
	if err != nil {
		return nil, fmt.Errorf("reading the target %s: %w", p, err)
	}
	docs, err := parseDocs(p, data)
	if err != nil {
		return nil, err
	}
	return docs[0].obj, nil
}

func hasKey(obj map[string]any, dotted string) bool {
	var v any = obj
	for _, k := range strings.Split(dotted, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[k]; !ok {
			return false
		}
	}
	return true
}

// TestExampleLayoutsFitTogether checks, for the helm and kustomize layouts,
// that each Stage's argo-refs config points at files that exist with the
// keys it edits, at the Warehouse it requests Freight from, and that its
// Argo CD steps name the ApplicationSet's Application and source exactly.
func TestExampleLayoutsFitTogether(t *testing.T) {
	ls := layouts(loadExamples(t))
	for _, name := range []string{"helm", "kustomize"} {
		t.Run(name, func(t *testing.T) {
			l := ls[name]
			if l == nil {
				t.Fatalf("examples/%s/ holds no manifests", name)
			}
			if len(l.warehouses) != 1 || len(l.projectConfigs) != 1 || len(l.appSets) != 1 {
				t.Fatalf("want one Warehouse, ProjectConfig and ApplicationSet; have %d, %d, %d", len(l.warehouses), len(l.projectConfigs), len(l.appSets))
			}
			var stageNames []string
			for _, d := range l.stages {
				stageNames = append(stageNames, d.name())
			}
			sort.Strings(stageNames)
			// The plan's ladder.
			if want := []string{"levelbuilder", "production", "review-infra-changes", "staging", "test"}; !slices.Equal(stageNames, want) {
				t.Errorf("Stages = %v, want %v", stageNames, want)
			}
			checkProjectConfig(t, l)
			checkLadder(t, l)
			appSet := l.appSets[0]
			checkApplicationSet(t, name, appSet)
			for _, d := range l.stages {
				checkLayoutStage(t, l, d, appSet)
			}
		})
	}
}

func checkProjectConfig(t *testing.T, l *layout) {
	pc := l.projectConfigs[0]
	policies := map[string]bool{}
	for _, p := range list(pc.obj, "spec", "promotionPolicies") {
		auto, _ := dig(p, "autoPromotionEnabled").(bool)
		policies[str(p, "stage")] = auto
	}
	for _, d := range l.stages {
		auto, ok := policies[d.name()]
		if !ok {
			t.Errorf("%s: no promotion policy for Stage %q", pc, d.name())
		}
		if want := d.name() == "staging"; auto != want {
			t.Errorf("%s: Stage %q autoPromotionEnabled = %v, want %v", pc, d.name(), auto, want)
		}
		if ns := str(d.obj, "metadata", "namespace"); ns != pc.name() || ns != str(pc.obj, "metadata", "namespace") {
			t.Errorf("%s: namespace %q is not the Project %q", d, ns, pc.name())
		}
	}
}

func checkApplicationSet(t *testing.T, layoutName string, as doc) {
	if got := str(as.obj, "spec", "generators", 0, "git", "files", 0, "path"); got != "apps/codeai/deployments/*/deployment.yaml" {
		t.Errorf("%s: generator files path = %q, want apps/codeai/deployments/*/deployment.yaml", as, got)
	}
	if got := str(as.obj, "spec", "template", "metadata", "name"); got != "codeai-{{path.basename}}" {
		t.Errorf("%s: template name = %q, want codeai-{{path.basename}}", as, got)
	}
	if got := str(as.obj, "spec", "template", "metadata", "annotations", "kargo.akuity.io/authorized-stage"); got != "kargo-project-codeai:{{path.basename}}" {
		t.Errorf("%s: authorized-stage annotation = %q, want kargo-project-codeai:{{path.basename}} so that each Stage may run argocd-update", as, got)
	}
	first := dig(as.obj, "spec", "template", "spec", "sources", 0)
	switch layoutName {
	case "helm":
		// The contract the old Ruby verifier enforced.
		if got := str(first, "targetRevision"); got != "{{targetRevision}}" {
			t.Errorf("%s: first source targetRevision = %q, want '{{targetRevision}}'", as, got)
		}
		if got := str(first, "path"); got != "k8s/helm" {
			t.Errorf("%s: first source path = %q, want k8s/helm", as, got)
		}
	case "kustomize":
		if got := str(first, "path"); got != "apps/codeai/deployments/{{path.basename}}/deploy" {
			t.Errorf("%s: first source path = %q, want apps/codeai/deployments/{{path.basename}}/deploy", as, got)
		}
	}
}

// checkLayoutStage cross-checks one Stage of a layout.
func checkLayoutStage(t *testing.T, l *layout, d doc, appSet doc) {
	stage := d.name()
	steps, err := evaluateStage(d)
	if err != nil {
		t.Errorf("%s: %v", d, err)
		return
	}
	promoteIdx := slices.IndexFunc(steps, func(s evaluatedStep) bool { return s.uses == string(step.KindPromote) })
	if promoteIdx != 0 {
		t.Errorf("%s: the first step must be argo-refs-promote", d)
		return
	}
	promote := steps[promoteIdx]
	cfg := promote.config
	if _, err := parseStepConfig(cfg); err != nil {
		t.Errorf("%s: %v", d, err)
		return
	}
	if promote.as == "" {
		t.Errorf("%s: argo-refs-promote needs an alias so later steps can read its outputs", d)
	}
	branch := str(cfg, "branch")
	if branch == "" {
		branch = step.DefaultBranch
	}
	app := str(cfg, "app")

	// The Warehouse the Stage promotes from watches the build-lock directory.
	wh := l.warehouses[0]
	if got := str(d.obj, "spec", "requestedFreight", 0, "origin", "name"); got != wh.name() || str(cfg, "warehouse") != wh.name() {
		t.Errorf("%s: requests Freight from %q with config warehouse %q, want the Warehouse %q", d, got, str(cfg, "warehouse"), wh.name())
	}
	sub := dig(wh.obj, "spec", "subscriptions", 0, "git")
	if str(sub, "repoURL") != str(cfg, "repoURL") || str(sub, "branch") != branch {
		t.Errorf("%s: config repoURL %s branch %s, but the Warehouse watches %s branch %s", d, str(cfg, "repoURL"), branch, str(sub, "repoURL"), str(sub, "branch"))
	}
	if includes := list(sub, "includePaths"); len(includes) != 1 || includes[0] != str(cfg, "buildLockDir") {
		t.Errorf("%s: Warehouse includePaths = %v, want exactly the buildLockDir %q", wh, includes, str(cfg, "buildLockDir"))
	}
	if got := str(cfg, "packaging", "kind"); got != l.name {
		t.Errorf("%s: packaging.kind = %q, want %q for this layout", d, got, l.name)
	}
	checkLegacyGate(t, d, cfg, sub, app)

	// The targets exist in this layout's GitOps tree, under the directory the
	// ApplicationSet names this Stage's Application after.
	targets := list(cfg, "targets")
	if len(targets) == 0 {
		t.Errorf("%s: argo-refs-promote has no targets", d)
	}
	stageDir := path.Join("apps", app, "deployments", stageDeployment(stage))
	for i, tg := range targets {
		if df := dig(tg, "deploymentFile"); df != nil {
			p := cmpOr(str(df, "path"), path.Join(stageDir, "deployment.yaml"))
			checkTargetFile(t, d, l.name, i, stageDir, p, cmpOr(str(df, "key"), step.DefaultKey))
			if set, ok := dig(df, "setImage").(bool); !ok || set {
				checkTargetFile(t, d, l.name, i, stageDir, cmpOr(str(df, "valuesFile"), path.Join(stageDir, "values.yaml")), cmpOr(str(df, "imageKey"), step.DefaultImageKey))
			}
			if p := cmpOr(str(df, "path"), ""); p != "" && path.Base(p) != "deployment.yaml" {
				t.Errorf("%s: targets[%d] path %s is not a deployment.yaml the ApplicationSet reads", d, i, p)
			}
		}
		if k := dig(tg, "kustomization"); k != nil {
			p := cmpOr(str(k, "path"), path.Join(stageDir, "deploy", "kustomization.yaml"))
			obj := checkTargetFile(t, d, l.name, i, stageDir, p, "images")
			checkKustomization(t, d, i, obj, cfg, str(k, "imageName"))
		}
		if dig(tg, "application") != nil {
			t.Errorf("%s: targets[%d]: the layouts keep no Application manifests in Git", d, i)
		}
	}

	pushesElsewhere := str(cfg, "targetBranch") != ""
	if g, _ := cfg["generateTargetBranch"].(bool); g {
		pushesElsewhere = true
	}
	if stage == "review-infra-changes" != pushesElsewhere {
		t.Errorf("%s: review-infra-changes (and only it) must push to a review branch; pushes elsewhere = %v", d, pushesElsewhere)
	}
	// The plan's review stage carries the rendered review into the
	// production pull request.
	if _, renders := cfg["render"]; renders != (stage == "review-infra-changes") {
		t.Errorf("%s: review-infra-changes (and only it) renders the manifests for the review pull request; render set = %v", d, renders)
	}
	if stage == "review-infra-changes" {
		found := false
		for _, s := range steps {
			// Evaluated: the output's value stands where the expression was.
			if s.uses == "git-open-pr" && strings.Contains(str(s.config, "description"), "### Rendered changes: production") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: git-open-pr's description must carry outputs.%s.reviewMarkdown", d, promote.as)
		}
	}
	if applied, _ := cfg["requireAlreadyApplied"].(bool); applied != (stage == "production") {
		t.Errorf("%s: production (and only production) applies the reviewed update (requireAlreadyApplied); here %v", d, applied)
	}
	checkLaterSteps(t, d, steps, promote, branch, pushesElsewhere, appSet)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func checkTargetFile(t *testing.T, d doc, layoutName string, i int, stageDir, p, key string) map[string]any {
	if path.Dir(p) != stageDir && path.Dir(path.Dir(p)) != stageDir {
		t.Errorf("%s: targets[%d] %s is outside the Stage's directory %s", d, i, p, stageDir)
	}
	obj, err := readLayoutFile(layoutName, p)
	if err != nil {
		t.Errorf("%s: targets[%d]: %v", d, i, err)
		return nil
	}
	if !hasKey(obj, key) {
		t.Errorf("%s: targets[%d]: %s/%s has no key %q to edit", d, i, layoutName, p, key)
	}
	return obj
}

func checkKustomization(t *testing.T, d doc, i int, k map[string]any, cfg map[string]any, imageName string) {
	if k == nil {
		return
	}
	if imageName == "" {
		t.Errorf("%s: targets[%d]: the examples name the images: entry explicitly", d, i)
	}
	found := false
	for _, img := range list(k, "images") {
		if str(img, "name") == imageName {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: targets[%d]: no images: entry named %q", d, i, imageName)
	}
	repo := strings.TrimSuffix(strings.TrimPrefix(str(cfg, "packaging", "sourceRepo"), "https://"), ".git")
	wantBase := repo + "//" + str(cfg, "packaging", "sourcePath") + "?ref="
	found = false
	for _, r := range list(k, "resources") {
		if s, _ := r.(string); strings.HasPrefix(s, wantBase) {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: targets[%d]: no remote resource starting %q to pin", d, i, wantBase)
	}
}

// checkLaterSteps checks the built-in steps after argo-refs-promote: the PR
// flow reads the branch the promote step pushed, and argocd-update names the
// ApplicationSet's Application and source exactly, with the desiredRevision
// that source will observably sync to.
func checkLaterSteps(t *testing.T, d doc, steps []evaluatedStep, promote evaluatedStep, branch string, pushesElsewhere bool, appSet doc) {
	stage := d.name()
	cfg := promote.config
	var kinds []string
	for _, s := range steps[1:] {
		kinds = append(kinds, s.uses)
	}
	want := []string{"argocd-update"}
	if pushesElsewhere {
		// Nothing deploys before production applies the reviewed update.
		want = []string{"git-open-pr", "git-wait-for-pr"}
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("%s: steps after argo-refs-promote = %v, want %v", d, kinds, want)
		return
	}
	for _, s := range steps[1:] {
		switch s.uses {
		case "git-open-pr":
			if got := str(s.config, "sourceBranch"); got != "kargo/promotion/"+promotionName {
				t.Errorf("%s: git-open-pr sourceBranch evaluates to %q, want the branch argo-refs-promote pushed (outputs.%s.branch)", d, got, promote.as)
			}
			if str(s.config, "targetBranch") != branch || str(s.config, "repoURL") != str(cfg, "repoURL") {
				t.Errorf("%s: git-open-pr must target %s of %s", d, branch, str(cfg, "repoURL"))
			}
		case "git-wait-for-pr":
			if got, _ := s.config["prNumber"].(float64); got != prNumber {
				t.Errorf("%s: git-wait-for-pr prNumber = %v, want the number git-open-pr returned", d, s.config["prNumber"])
			}
			if str(s.config, "repoURL") != str(cfg, "repoURL") {
				t.Errorf("%s: git-wait-for-pr repoURL must be %s", d, str(cfg, "repoURL"))
			}
		case "argocd-update":
			checkArgoCDUpdate(t, d, s, stage, branch, pushesElsewhere, appSet)
		}
	}
}

func checkArgoCDUpdate(t *testing.T, d doc, s evaluatedStep, stage, branch string, pushesElsewhere bool, appSet doc) {
	apps := list(s.config, "apps")
	if len(apps) != 1 {
		t.Errorf("%s: argocd-update names %d apps, want 1", d, len(apps))
		return
	}
	a := apps[0]
	if got, want := str(a, "name"), strings.ReplaceAll(str(appSet.obj, "spec", "template", "metadata", "name"), "{{path.basename}}", stage); got != want {
		t.Errorf("%s: argocd-update app name = %q, want %q (the ApplicationSet's name for this Stage)", d, got, want)
	}
	if got := str(a, "namespace"); got != str(appSet.obj, "metadata", "namespace") {
		t.Errorf("%s: argocd-update namespace = %q, want the ApplicationSet's %q", d, got, str(appSet.obj, "metadata", "namespace"))
	}
	sources := list(a, "sources")
	if len(sources) == 0 {
		t.Errorf("%s: argocd-update has no sources with a desiredRevision", d)
	}
	appSources := list(appSet.obj, "spec", "template", "spec", "sources")
	for j, src := range sources {
		repoURL := str(src, "repoURL")
		// Kargo matches desiredRevision to an Application source by exact
		// repoURL string, so a near-miss silently checks nothing.
		idx := slices.IndexFunc(appSources, func(as any) bool { return str(as, "repoURL") == repoURL })
		if idx < 0 {
			t.Errorf("%s: argocd-update sources[%d].repoURL %q is not, byte for byte, a repoURL of the ApplicationSet's sources", d, j, repoURL)
			continue
		}
		appSrc := appSources[idx]
		got := str(src, "desiredRevision")
		var want, why string
		switch {
		case str(appSrc, "targetRevision") == "{{targetRevision}}":
			want, why = sourceCommit, "the source follows deployment.yaml's targetRevision, which argo-refs sets to outputs.gitCommit"
		case str(appSrc, "targetRevision") != branch:
			t.Errorf("%s: argocd-update sources[%d] tracks %q, not the branch %q the Stage promotes into", d, j, str(appSrc, "targetRevision"), branch)
			continue
		case pushesElsewhere:
			want, why = mergeCommit, "the source follows the branch the review PR merges into; argo-refs' own commit stays on the review branch"
		default:
			want, why = pushedCommit, "the source follows the branch argo-refs pushed to (outputs.gitopsCommit)"
		}
		if got != want {
			t.Errorf("%s: argocd-update sources[%d].desiredRevision evaluates to %q, want %q: %s", d, j, got, want, why)
		}
		if u, _ := dig(src, "updateTargetRevision").(bool); u {
			t.Errorf("%s: argocd-update must not set updateTargetRevision: the ApplicationSet owns the Application's spec", d)
		}
	}
}

// TestExampleGitOpsFiles applies the GitOps-side checks of the old Ruby
// verifier to the example trees.
func TestExampleGitOpsFiles(t *testing.T) {
	docs := loadExamples(t)
	deploymentRE := regexp.MustCompile(`^(helm|kustomize)/apps/codeai/deployments/[a-z0-9-]+/deployment\.yaml$`)
	valuesRE := regexp.MustCompile(`^helm/apps/codeai/deployments/[a-z0-9-]+/values\.yaml$`)
	n := 0
	for _, d := range docs {
		switch {
		case deploymentRE.MatchString(d.path):
			n++
			want := []string{"envType", "namespace"}
			if d.variant() == "helm" {
				want = append(want, "targetRevision")
			}
			for _, k := range want {
				if str(d.obj, k) == "" {
					t.Errorf("%s: missing %s", d, k)
				}
			}
			if ns := path.Base(path.Dir(d.path)); str(d.obj, "namespace") != ns {
				t.Errorf("%s: namespace %q, want the directory name %q", d, str(d.obj, "namespace"), ns)
			}
		case valuesRE.MatchString(d.path):
			n++
			if str(d.obj, "image") == "" {
				t.Errorf("%s: missing image", d)
			}
		}
	}
	if n != 12 {
		t.Errorf("checked %d deployment and values files, want 8 deployment.yaml and 4 values.yaml", n)
	}
}

// TestExampleEveryDocumentIsKnown makes sure no example file slips past the
// other tests: every document is of a kind something here checks.
func TestExampleEveryDocumentIsKnown(t *testing.T) {
	known := map[string]bool{
		"kargo.akuity.io/v1alpha1 Stage":              true,
		"kargo.akuity.io/v1alpha1 Warehouse":          true,
		"kargo.akuity.io/v1alpha1 Project":            true,
		"kargo.akuity.io/v1alpha1 ProjectConfig":      true,
		"argoproj.io/v1alpha1 ApplicationSet":         true,
		"argoproj.io/v1alpha1 Application":            true,
		"kargo-extended.code.org/v1alpha1 StepPlugin": true,
		"v1 ConfigMap": true,
		"ee.kargo.akuity.io/v1alpha1 CustomPromotionStep": true,
		"kustomize.config.k8s.io/v1beta1 Kustomization":   true,
		// envTypes, checked by TestExampleLayoutsPassLint.
		"kustomize.config.k8s.io/v1alpha1 Component": true,
		// test's verification, checked by checkLadder.
		"argoproj.io/v1alpha1 AnalysisTemplate": true,
	}
	for _, d := range loadExamples(t) {
		switch {
		case known[d.kind()]:
		case d.kind() == " " && strings.HasPrefix(d.path, ".github/workflows/"):
		case d.kind() == " " && strings.HasPrefix(d.path, "docker-run/"):
		case d.kind() == " " && regexp.MustCompile(`^(helm|kustomize)/apps/codeai/deployments/[a-z0-9-]+/(deployment|values)\.yaml$`).MatchString(d.path):
		case d.kind() == " " && regexp.MustCompile(`^helm/apps/codeai/envTypes/[a-z0-9-]+\.values\.yaml$`).MatchString(d.path):
		default:
			t.Errorf("%s: unexpected document %q; teach examples_test.go to check it", d, d.kind())
		}
	}
}

// TestExampleDockerRunConfig validates the config for running the step by
// hand, and checks it matches the staging Stage it mirrors.
func TestExampleDockerRunConfig(t *testing.T) {
	docs := loadExamples(t)
	var cfgDoc, stageDoc *doc
	for i, d := range docs {
		switch d.path {
		case "docker-run/staging.yaml":
			cfgDoc = &docs[i]
		case "helm/apps/kargo-project-codeai/stages/staging.yaml":
			stageDoc = &docs[i]
		}
	}
	if cfgDoc == nil || stageDoc == nil {
		t.Fatal("missing docker-run/staging.yaml or the helm staging Stage")
	}
	if strings.Contains(fmt.Sprint(cfgDoc.obj), "${{") {
		t.Errorf("%s: a file for docker run cannot hold Kargo expressions", cfgDoc)
	}
	if _, err := parseStepConfig(cfgDoc.obj); err != nil {
		t.Errorf("%s: %v", cfgDoc, err)
	}
	steps, err := evaluateStage(*stageDoc)
	if err != nil {
		t.Fatal(err)
	}
	stageCfg := steps[0].config
	for _, k := range []string{"repoURL", "branch", "warehouse", "buildLockDir", "app", "packaging", "targets", "message", "imagePolicy"} {
		if !reflect.DeepEqual(cfgDoc.obj[k], stageCfg[k]) {
			t.Errorf("%s: %s = %v, but the staging Stage has %v", cfgDoc, k, cfgDoc.obj[k], stageCfg[k])
		}
	}
}

// legacyGateEnv is the legacy branch the plan's mapping requires a merge
// into before a release enters each Stage; a Stage absent here has no gate.
var legacyGateEnv = map[string]string{
	"test":         "test",         // staging → test
	"levelbuilder": "levelbuilder", // test → levelbuilder
	"production":   "production",   // review-infra-changes (or test) → production
}

// checkLegacyGate checks a Stage's legacy gitflow gate against the plan's
// mapping, and that the Warehouse never watches the merge records: a legacy
// merge is not a release, and the gate reads the records at the branch tip.
func checkLegacyGate(t *testing.T, d doc, cfg map[string]any, sub any, app string) {
	t.Helper()
	gate, _ := dig(cfg, "gates", "legacyGitflow").(map[string]any)
	want, gated := legacyGateEnv[d.name()]
	switch {
	case gated && gate == nil:
		t.Errorf("%s: the plan gates this Stage on the legacy %s branch; the config has no gates.legacyGitflow", d, want)
		return
	case !gated && gate != nil:
		t.Errorf("%s: has a legacy gitflow gate the plan does not put here", d)
		return
	case !gated:
		return
	}
	if got := str(gate, "env"); got != want {
		t.Errorf("%s: gates.legacyGitflow.env = %q, want %q", d, got, want)
	}
	dir := str(gate, "dir")
	if dir == "" {
		dir = "warehouses/" + app + "/legacy-gitflow"
	}
	if dir != legacyWorkflowDir {
		t.Errorf("%s: the gate reads %s, the workflow writes %s", d, dir, legacyWorkflowDir)
	}
	for _, p := range list(sub, "includePaths") {
		for _, f := range []string{dir + "/" + want + "/current.yaml", dir + "/" + want + "/merged/git-" + sourceCommit + ".yaml"} {
			if includePathMatches(fmt.Sprint(p), f) {
				t.Errorf("%s: the Warehouse's includePaths entry %q covers %s: every legacy merge would become Freight", d, p, f)
			}
		}
	}
}

// includePathMatches applies a Warehouse includePaths entry to a path the
// way Kargo does: "glob:" and "regex:" (or "regexp:") prefixes, else a path
// prefix.
func includePathMatches(entry, p string) bool {
	switch {
	case strings.HasPrefix(entry, "glob:"):
		ok, _ := path.Match(strings.TrimPrefix(entry, "glob:"), p)
		return ok
	case strings.HasPrefix(entry, "regex:"), strings.HasPrefix(entry, "regexp:"):
		_, expr, _ := strings.Cut(entry, ":")
		re, err := regexp.Compile(expr)
		return err == nil && re.MatchString(p)
	}
	return p == entry || strings.HasPrefix(p, strings.TrimSuffix(entry, "/")+"/")
}

// TestExampleLayoutsPassLint: both layouts follow the contract argo-refs
// lint checks, as the GitOps repository's CI would run it.
func TestExampleLayoutsPassLint(t *testing.T) {
	for _, layout := range []string{"helm", "kustomize"} {
		vs, err := repolint.Lint(t.Context(), repolint.DirTree{Root: layout}, repolint.Options{App: "codeai", Layout: layout})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			t.Errorf("%s: %s", layout, v)
		}
	}
}

// stageDeployment is the deployment directory a Stage edits: its own, but
// review-infra-changes prepares production's.
func stageDeployment(stage string) string {
	if stage == "review-infra-changes" {
		return "production"
	}
	return stage
}

// ladderSource is the Stage each Stage of the plan's ladder takes Freight
// from ("" for the Warehouse directly).
var ladderSource = map[string]string{
	"staging":              "",
	"test":                 "staging",
	"levelbuilder":         "test",
	"review-infra-changes": "test",
	"production":           "review-infra-changes",
}

// checkLadder checks the plan's five-stage ladder: each Stage's Freight
// source, the test Stage's verification (an AnalysisTemplate of the
// layout, in the Project's namespace) and the CI-result gate on every Stage
// downstream of test.
func checkLadder(t *testing.T, l *layout) {
	templates := map[string]bool{}
	for _, d := range l.docs {
		if d.kind() == "argoproj.io/v1alpha1 AnalysisTemplate" && str(d.obj, "metadata", "namespace") == "kargo-project-codeai" && len(list(d.obj, "spec", "metrics")) > 0 {
			templates[d.name()] = true
		}
	}
	for _, d := range l.stages {
		src := list(d.obj, "spec", "requestedFreight", 0, "sources", "stages")
		direct, _ := dig(d.obj, "spec", "requestedFreight", 0, "sources", "direct").(bool)
		want := ladderSource[d.name()]
		switch {
		case want == "" && !direct:
			t.Errorf("%s: takes Freight from %v, want the Warehouse directly", d, src)
		case want != "" && (len(src) != 1 || src[0] != want):
			t.Errorf("%s: takes Freight from %v, want [%s]", d, src, want)
		}
		verification := list(d.obj, "spec", "verification", "analysisTemplates")
		if (d.name() == "test") != (len(verification) > 0) {
			t.Errorf("%s: verification %v; the plan runs automated checks in test, and only there", d, verification)
		}
		for _, v := range verification {
			if !templates[str(v, "name")] {
				t.Errorf("%s: verification names AnalysisTemplate %q, which the layout does not define", d, str(v, "name"))
			}
		}
		steps, err := evaluateStage(d)
		if err != nil || len(steps) == 0 {
			continue // reported by checkLayoutStage
		}
		downstream := d.name() != "staging" && d.name() != "test"
		if gate := dig(steps[0].config, "gates", "sourceChecks"); (gate != nil) != downstream {
			t.Errorf("%s: the CI-result gate (gates.sourceChecks) belongs on every Stage downstream of test, and only there; here %v", d, gate != nil)
		}
	}
}

// TestExampleProjectSyncsInOrder: the Kargo project Application's first
// sync must not fail because Kargo has not created the Project's namespace
// yet: the Project syncs first (a lower sync wave than everything else in
// the directory) and the Application retries.
func TestExampleProjectSyncsInOrder(t *testing.T) {
	for _, layout := range []string{"helm", "kustomize"} {
		var projectWave string
		others := 0
		for _, d := range loadExamples(t) {
			if !strings.HasPrefix(d.path, layout+"/apps/kargo-project-codeai/") {
				continue
			}
			wave := str(d.obj, "metadata", "annotations", "argocd.argoproj.io/sync-wave")
			switch d.kind() {
			case "kargo.akuity.io/v1alpha1 Project":
				projectWave = wave
			case "argoproj.io/v1alpha1 Application":
				if n, _ := dig(d.obj, "spec", "syncPolicy", "retry", "limit").(int); n < 3 {
					t.Errorf("%s: syncPolicy.retry.limit = %v, want at least 3", d, dig(d.obj, "spec", "syncPolicy", "retry", "limit"))
				}
			default:
				others++
				if wave != "" && wave <= projectWave {
					t.Errorf("%s: sync wave %q is not after the Project's", d, wave)
				}
			}
		}
		if projectWave != "-1" || others == 0 {
			t.Errorf("%s: the Project's sync wave is %q (want \"-1\", before the %d other documents)", layout, projectWave, others)
		}
	}
}

// TestExampleImagePolicies: staging requires the signature of the publish
// workflow (any branch it runs on), production the signature and the
// provenance of the workflow on the release branch; a fork's workflow
// matches neither.
func TestExampleImagePolicies(t *testing.T) {
	wfRaw, err := os.ReadFile(filepath.FromSlash(".github/workflows/publish-build-lock.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wfDocs, err := parseDocs("publish-build-lock.yaml", wfRaw)
	if err != nil {
		t.Fatal(err)
	}
	branch := str(wfDocs[0].obj, "on", "push", "branches", 0)
	workflow := "https://github.com/code-dot-org/code-dot-org/.github/workflows/publish-build-lock.yaml"
	release, other := workflow+"@refs/heads/"+branch, workflow+"@refs/heads/feature-x"
	fork := "https://github.com/someone/code-dot-org/.github/workflows/publish-build-lock.yaml@refs/heads/" + branch
	matches := func(s *spec.Signer, san string) bool {
		if s.IdentityRegExp != "" {
			return regexp.MustCompile(s.IdentityRegExp).MatchString(san)
		}
		return s.Identity == san
	}
	for name, l := range layouts(loadExamples(t)) {
		for _, d := range l.stages {
			stage := d.name()
			if stage != "staging" && stage != "production" {
				continue
			}
			steps, err := evaluateStage(d)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := parseStepConfig(steps[0].config)
			if err != nil {
				t.Fatal(err)
			}
			p := cfg.ImagePolicy
			if p == nil || p.Signature == nil || p.Signature.Issuer != "https://token.actions.githubusercontent.com" {
				t.Fatalf("%s %s: want a keyless signature policy with GitHub's issuer, got %+v", name, stage, p)
			}
			if !matches(p.Signature, release) || matches(p.Signature, fork) {
				t.Errorf("%s %s: the identity must match %s and not a fork's", name, stage, release)
			}
			switch stage {
			case "staging":
				if p.Provenance != nil || !matches(p.Signature, other) {
					t.Errorf("%s staging: want the signature only, of the workflow on any branch", name)
				}
			case "production":
				if p.Provenance == nil || !slices.Equal(p.Provenance.Builders, []string{release}) || matches(p.Signature, other) {
					t.Errorf("%s production: want the provenance of %s, and its signature only", name, release)
				}
			}
		}
	}
}
