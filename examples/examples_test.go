// Package examples_test checks that every manifest under examples/ parses,
// that every argo-refs step config in it is valid once Kargo has evaluated
// its expressions, and that the pieces fit together: Stages, Warehouse,
// ProjectConfig, ApplicationSet, GitOps files, the kargo-extended plugin and
// ConfigMap, the Akuity custom steps and the GitHub Actions workflow.
package examples_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/argo-refs/argo-refs/internal/manifests"
	"github.com/argo-refs/argo-refs/step"
)

// pluginImage is the image every example runs.
const pluginImage = "ghcr.io/argo-refs/argo-refs:v0.1.0"

// Plausible values Kargo (or GitHub Actions) would substitute. Each is
// distinct, so a test can tell from a value which expression produced it.
const (
	freightCommit = "5b1e0f7c3a9d4e2f8a6b0c1d2e3f4a5b6c7d8e9f" // the GitOps commit the Freight carries
	sourceCommit  = "9fceb02d0ae598e95dc970b74767f19372d61af8" // the release's source commit
	pushedCommit  = "c3ab8ff13720e8ad9047dd39466b3c8974e592c2" // what argo-refs-promote pushed
	mergeCommit   = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391" // the review PR's merge commit
	imageDigest   = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	promotionName = "production.01jexample.abc1234"
	prNumber      = 42
)

// kargoBuiltinKinds are the step kinds Kargo v1.11 ships (and two it used to
// ship); a plugin step kind must not collide with any of them.
var kargoBuiltinKinds = []string{
	"argocd-update", "argocd-wait", "compose-output", "copy", "delete", "fail",
	"file-write", "git-clear", "git-clone", "git-commit", "git-merge-pr",
	"git-open-pr", "git-push", "git-tag", "git-wait-for-pr", "github-push",
	"helm-template", "helm-update-chart", "http", "http-download", "json-parse",
	"json-update", "kustomize-build", "kustomize-set-image", "oci-download",
	"oci-push", "set-freight-alias", "set-metadata", "toml-parse", "toml-update",
	"untar", "yaml-merge", "yaml-parse", "yaml-update",
	"helm-update-image", "git-overwrite",
}

// replacedKinds are the built-ins one argo-refs step stands in for; a Stage
// using argo-refs must not still chain them.
var replacedKinds = []string{"git-clone", "yaml-parse", "yaml-update", "kustomize-set-image", "git-commit", "git-push"}

// ---------------------------------------------------------------------------
// Loading.

// doc is one YAML document of one example file.
type doc struct {
	path  string // slash-separated, relative to examples/
	index int    // position in a multi-document file
	obj   map[string]any
}

func (d doc) String() string {
	if d.index == 0 {
		return d.path
	}
	return fmt.Sprintf("%s (document %d)", d.path, d.index+1)
}

func (d doc) kind() string {
	av, _ := d.obj["apiVersion"].(string)
	k, _ := d.obj["kind"].(string)
	return av + " " + k
}

func (d doc) name() string { s, _ := dig(d.obj, "metadata", "name").(string); return s }

// variant is "helm" or "kustomize" for files of a layout, "" otherwise.
func (d doc) variant() string {
	first, _, _ := strings.Cut(d.path, "/")
	if first == "helm" || first == "kustomize" {
		return first
	}
	return ""
}

// parseDocs decodes every document of a YAML stream strictly: syntax errors,
// duplicate keys and empty documents are errors.
func parseDocs(name string, data []byte) ([]doc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []doc
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s document %d: %w", name, i+1, err)
		}
		if err := noDuplicateKeys(&n); err != nil {
			return nil, fmt.Errorf("parsing %s document %d: %w", name, i+1, err)
		}
		var obj map[string]any
		if err := n.Decode(&obj); err != nil {
			return nil, fmt.Errorf("decoding %s document %d as a mapping: %w", name, i+1, err)
		}
		if len(obj) == 0 {
			return nil, fmt.Errorf("%s document %d is empty", name, i+1)
		}
		docs = append(docs, doc{path: name, index: i, obj: obj})
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s holds no YAML document", name)
	}
	return docs, nil
}

// noDuplicateKeys walks n and fails on the first mapping that repeats a key.
func noDuplicateKeys(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if line, dup := seen[k.Value]; dup {
				return fmt.Errorf("line %d: key %q is already defined on line %d", k.Line, k.Value, line)
			}
			seen[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		if err := noDuplicateKeys(c); err != nil {
			return err
		}
	}
	return nil
}

// loadExamples parses every .yaml/.yml file under examples/.
func loadExamples(t *testing.T) []doc {
	t.Helper()
	var docs []doc
	err := filepath.WalkDir(".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		ds, err := parseDocs(filepath.ToSlash(p), data)
		if err != nil {
			t.Error(err)
			return nil
		}
		docs = append(docs, ds...)
		return nil
	})
	if err != nil {
		t.Fatalf("walking examples/: %v", err)
	}
	if len(docs) < 30 {
		t.Fatalf("found only %d YAML documents under examples/; is the test running in examples/?", len(docs))
	}
	return docs
}

func byKind(docs []doc, kind string) []doc {
	var out []doc
	for _, d := range docs {
		if d.kind() == kind {
			out = append(out, d)
		}
	}
	return out
}

// dig walks v through map keys (string) and list indices (int); nil when
// anything is missing.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := dig(v, path...).(string); return s }

func list(v any, path ...any) []any { l, _ := dig(v, path...).([]any); return l }

// ---------------------------------------------------------------------------
// Expressions, evaluated the way Kargo does it.

// evaluator resolves the ${{ ... }} expressions one context allows.
type evaluator func(expr string) (any, error)

var exprRE = regexp.MustCompile(`\$\{\{(.*?)\}\}`)

// evalTemplate substitutes every ${{ expr }} in s. Like Kargo, a template
// with an expression whose result reads as a number, a bool or JSON becomes
// that value; a result wrapped in double quotes (quote()) stays a string.
func evalTemplate(s string, eval evaluator) (any, error) {
	if !strings.Contains(s, "${{") {
		return s, nil
	}
	if strings.Count(s, "${{") != len(exprRE.FindAllString(s, -1)) {
		return nil, fmt.Errorf("unclosed expression in %q", s)
	}
	var firstErr error
	out := exprRE.ReplaceAllStringFunc(s, func(m string) string {
		expr := strings.TrimSpace(m[3 : len(m)-2])
		v, err := eval(expr)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("expression %q: %w", expr, err)
			}
			return ""
		}
		if sv, ok := v.(string); ok {
			return sv
		}
		b, _ := json.Marshal(v)
		return string(b)
	})
	if firstErr != nil {
		return nil, firstErr
	}
	trimmed, hadNewline := strings.CutSuffix(out, "\n")
	if len(trimmed) > 1 && strings.HasPrefix(trimmed, `"`) && strings.HasSuffix(trimmed, `"`) {
		trimmed = trimmed[1 : len(trimmed)-1]
		if hadNewline {
			trimmed += "\n"
		}
		return trimmed, nil
	}
	if f, err := strconv.ParseFloat(trimmed, 64); err == nil {
		return f, nil
	}
	if b, err := strconv.ParseBool(trimmed); err == nil {
		return b, nil
	}
	var j any
	if err := json.Unmarshal([]byte(trimmed), &j); err == nil {
		return j, nil
	}
	return out, nil
}

// evalTree returns a copy of v with every string template evaluated.
func evalTree(v any, eval evaluator) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := evalTree(e, eval)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := evalTree(e, eval)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = r
		}
		return out, nil
	case string:
		return evalTemplate(x, eval)
	}
	return v, nil
}

// secretValues is what secret('argo-refs-credentials') holds in the examples'
// instructions.
var secretValues = map[string]string{
	"gitUsername":      "x-access-token",
	"gitPassword":      "github_pat_example",
	"registryUsername": "x-access-token",
	"registryPassword": "ghp_example",
}

// stageEnv is what a Stage's expressions can see while one of its steps runs.
type stageEnv struct {
	stage     string
	project   string
	warehouse string            // the Warehouse the Stage requests Freight from
	vars      map[string]string // promotionTemplate.spec.vars
	// earlier maps each earlier step's alias to its kind and evaluated config.
	earlier map[string]stepRef
}

type stepRef struct {
	kind   string
	config map[string]any
}

var (
	varsRE       = regexp.MustCompile(`^vars\.(\w+)$`)
	commitFromRE = regexp.MustCompile(`^commitFrom\(vars\.(\w+), warehouse\('([a-z0-9-]+)'\)\)\.ID$`)
	secretRE     = regexp.MustCompile(`^secret\('([a-z0-9-]+)'\)\.(\w+)$`)
	outputsRE    = regexp.MustCompile(`^outputs(?:\.([A-Za-z_]\w*)|\['([A-Za-z0-9_-]+)'\])\.([\w.]+)$`)
)

// eval resolves one expression of a Stage; anything it does not know is an
// error, so an example cannot use an expression the test has not vetted.
func (e *stageEnv) eval(expr string) (any, error) {
	if m := varsRE.FindStringSubmatch(expr); m != nil {
		v, ok := e.vars[m[1]]
		if !ok {
			return nil, fmt.Errorf("the Stage has no var %q", m[1])
		}
		return v, nil
	}
	if m := commitFromRE.FindStringSubmatch(expr); m != nil {
		if _, ok := e.vars[m[1]]; !ok {
			return nil, fmt.Errorf("the Stage has no var %q", m[1])
		}
		if m[2] != e.warehouse {
			return nil, fmt.Errorf("warehouse(%q) is not the Warehouse %q the Stage requests Freight from", m[2], e.warehouse)
		}
		return freightCommit, nil
	}
	if m := secretRE.FindStringSubmatch(expr); m != nil {
		v, ok := secretValues[m[2]]
		if m[1] != "argo-refs-credentials" || !ok {
			return nil, fmt.Errorf("unknown secret key %s.%s (README documents argo-refs-credentials with %v)", m[1], m[2], sortedKeys(secretValues))
		}
		return v, nil
	}
	if m := outputsRE.FindStringSubmatch(expr); m != nil {
		alias := m[1] + m[2]
		ref, ok := e.earlier[alias]
		if !ok {
			return nil, fmt.Errorf("no earlier step has alias %q", alias)
		}
		return stepOutput(ref, m[3])
	}
	switch expr {
	case "ctx.stage":
		return e.stage, nil
	case "ctx.project":
		return e.project, nil
	case "ctx.promotion":
		return promotionName, nil
	}
	return nil, errors.New("unknown expression")
}

// stepOutput is a plausible value of output key of an earlier step.
func stepOutput(ref stepRef, key string) (any, error) {
	switch ref.kind {
	case string(step.KindPromote), string(step.KindVerify):
		branch := "main"
		if b := str(ref.config, "branch"); b != "" {
			branch = b
		}
		if b := str(ref.config, "targetBranch"); b != "" {
			branch = b
		}
		if g, _ := ref.config["generateTargetBranch"].(bool); g {
			branch = "kargo/promotion/" + promotionName
		}
		imageRef := "ghcr.io/code-dot-org/code-dot-org:git-" + sourceCommit
		// Every output both argo-refs step kinds set, by its documented key.
		outputs := map[string]any{
			"releaseId":     "git-" + sourceCommit,
			"gitCommit":     sourceCommit,
			"imageRef":      imageRef,
			"imageDigest":   imageDigest,
			"image":         imageRef,
			"sourceRepo":    str(ref.config, "packaging", "sourceRepo"),
			"sourcePath":    str(ref.config, "packaging", "sourcePath"),
			"freightCommit": freightCommit,
			"gitopsCommit":  pushedCommit,
			"branch":        branch,
			"changed":       true,
			"targets":       []any{},
			"attempts":      1,
		}
		v, ok := outputs[key]
		if !ok {
			return nil, fmt.Errorf("%s has no output %q", ref.kind, key)
		}
		return v, nil
	case "git-open-pr":
		switch key {
		case "pr.id":
			return prNumber, nil
		case "pr.url":
			return "https://github.com/code-dot-org/k8s-gitops/pull/42", nil
		}
	case "git-wait-for-pr":
		switch key {
		case "commit":
			return mergeCommit, nil
		case "pr.id":
			return prNumber, nil
		case "pr.url":
			return "https://github.com/code-dot-org/k8s-gitops/pull/42", nil
		}
	}
	return nil, fmt.Errorf("step kind %s has no output %q", ref.kind, key)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---------------------------------------------------------------------------
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
		cfg, err := evalTree(dig(s, "config"), env.eval)
		if err != nil {
			return nil, fmt.Errorf("steps[%d] (%s) config: %w", i, uses, err)
		}
		m, _ := cfg.(map[string]any)
		if m == nil {
			return nil, fmt.Errorf("steps[%d] (%s) has no config mapping", i, uses)
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
	if checked != 7 {
		t.Errorf("validated %d Stage configs, want the 3 helm, 3 kustomize and 1 custom-step Stages", checked)
	}
}

// layout is one GitOps layout's manifests.
type layout struct {
	name           string
	stages         []doc
	warehouses     []doc
	projectConfigs []doc
	appSets        []doc
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
			if want := []string{"production", "staging", "test"}; !slices.Equal(stageNames, want) {
				t.Errorf("Stages = %v, want %v", stageNames, want)
			}
			checkProjectConfig(t, l)
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

	// The targets exist in this layout's GitOps tree, under the directory the
	// ApplicationSet names this Stage's Application after.
	targets := list(cfg, "targets")
	if len(targets) == 0 {
		t.Errorf("%s: argo-refs-promote has no targets", d)
	}
	stageDir := path.Join("apps", app, "deployments", stage)
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
	if stage == "production" != pushesElsewhere {
		t.Errorf("%s: production (and only production) must push to a review branch; pushes elsewhere = %v", d, pushesElsewhere)
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
		want = []string{"git-open-pr", "git-wait-for-pr", "argocd-update"}
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
	if n != 9 {
		t.Errorf("checked %d deployment and values files, want 6 deployment.yaml and 3 values.yaml", n)
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
	}
	for _, d := range loadExamples(t) {
		switch {
		case known[d.kind()]:
		case d.kind() == " " && strings.HasPrefix(d.path, ".github/workflows/"):
		case d.kind() == " " && strings.HasPrefix(d.path, "docker-run/"):
		case d.kind() == " " && regexp.MustCompile(`^(helm|kustomize)/apps/codeai/deployments/[a-z0-9-]+/(deployment|values)\.yaml$`).MatchString(d.path):
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
	for _, k := range []string{"repoURL", "branch", "warehouse", "buildLockDir", "app", "packaging", "targets", "message"} {
		if !reflect.DeepEqual(cfgDoc.obj[k], stageCfg[k]) {
			t.Errorf("%s: %s = %v, but the staging Stage has %v", cfgDoc, k, cfgDoc.obj[k], stageCfg[k])
		}
	}
}

// ---------------------------------------------------------------------------
// The kargo-extended plugin.

// pluginDoc mirrors kargo-extended's StepPlugin format, independently of the
// generator, so that a field name the generator gets wrong fails here.
type pluginDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Sidecar struct {
			AutomountServiceAccountToken bool             `json:"automountServiceAccountToken"`
			Container                    corev1.Container `json:"container"`
		} `json:"sidecar"`
		Steps []pluginStep `json:"steps"`
	} `json:"spec"`
}

type pluginStep struct {
	Kind                  string `json:"kind"`
	DefaultTimeout        string `json:"defaultTimeout,omitempty"`
	DefaultErrorThreshold uint32 `json:"defaultErrorThreshold,omitempty"`
}

type configMapDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
}

func readStrict(t *testing.T, p string, v any) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(p))
	if err != nil {
		t.Fatal(err)
	}
	if err := sigsyaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s does not decode strictly: %v", p, err)
	}
	return data
}

// kargoExtendedRules returns every way p breaks kargo-extended's rules for a
// StepPlugin, plus the hardening the examples promise.
func kargoExtendedRules(p *pluginDoc) []string {
	var bad []string
	c := p.Spec.Sidecar.Container
	if p.APIVersion != "kargo-extended.code.org/v1alpha1" || p.Kind != "StepPlugin" {
		bad = append(bad, fmt.Sprintf("apiVersion/kind = %s %s", p.APIVersion, p.Kind))
	}
	if p.Metadata.Name == "" {
		bad = append(bad, "no metadata.name")
	}
	if len(c.Ports) == 0 {
		bad = append(bad, "no port")
	}
	if len(c.Resources.Requests) == 0 {
		bad = append(bad, "no resource requests")
	}
	if len(c.Resources.Limits) == 0 {
		bad = append(bad, "no resource limits")
	}
	sc := c.SecurityContext
	if sc == nil {
		bad = append(bad, "no securityContext")
		sc = &corev1.SecurityContext{}
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		bad = append(bad, "runAsNonRoot is not true")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.RunAsGroup == nil || *sc.RunAsGroup != 65532 {
		bad = append(bad, "does not run as 65532:65532")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		bad = append(bad, "root file system is writable")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		bad = append(bad, "privilege escalation allowed")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		bad = append(bad, "capabilities not dropped")
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		bad = append(bad, "no RuntimeDefault seccomp profile")
	}
	if p.Spec.Sidecar.AutomountServiceAccountToken {
		bad = append(bad, "mounts a service account token it does not need")
	}
	if len(p.Spec.Steps) == 0 {
		bad = append(bad, "no steps")
	}
	seen := map[string]bool{}
	for _, s := range p.Spec.Steps {
		if s.Kind == "" || seen[s.Kind] {
			bad = append(bad, fmt.Sprintf("step kind %q empty or duplicated", s.Kind))
		}
		seen[s.Kind] = true
		if slices.Contains(kargoBuiltinKinds, s.Kind) {
			bad = append(bad, fmt.Sprintf("step kind %q collides with a Kargo built-in", s.Kind))
		}
	}
	return bad
}

func TestExamplePluginFollowsKargoExtendedRules(t *testing.T) {
	var p pluginDoc
	readStrict(t, "plugin/plugin.yaml", &p)
	if bad := kargoExtendedRules(&p); len(bad) > 0 {
		t.Errorf("plugin/plugin.yaml breaks kargo-extended's rules: %s", strings.Join(bad, "; "))
	}
	c := p.Spec.Sidecar.Container
	if c.Image != pluginImage || !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("sidecar runs %s %v, want %s [serve]", c.Image, c.Args, pluginImage)
	}
	if c.Ports[0].ContainerPort != manifests.DefaultPort {
		t.Errorf("first port = %d, want %d, where serve listens (kargo-extended calls the first port)", c.Ports[0].ContainerPort, manifests.DefaultPort)
	}
	var kinds []string
	for _, s := range p.Spec.Steps {
		kinds = append(kinds, s.Kind)
	}
	var want []string
	for _, k := range step.Kinds {
		want = append(want, string(k))
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("steps = %v, want %v", kinds, want)
	}

	// The rules must reject what kargo-extended rejects.
	for name, mutate := range map[string]func(p *pluginDoc){
		"no port":             func(p *pluginDoc) { p.Spec.Sidecar.Container.Ports = nil },
		"no limits":           func(p *pluginDoc) { p.Spec.Sidecar.Container.Resources.Limits = nil },
		"no requests":         func(p *pluginDoc) { p.Spec.Sidecar.Container.Resources.Requests = nil },
		"no securityContext":  func(p *pluginDoc) { p.Spec.Sidecar.Container.SecurityContext = nil },
		"built-in kind":       func(p *pluginDoc) { p.Spec.Steps[0].Kind = "git-push" },
		"root":                func(p *pluginDoc) { p.Spec.Sidecar.Container.SecurityContext.RunAsNonRoot = new(false) },
		"duplicate step kind": func(p *pluginDoc) { p.Spec.Steps[1].Kind = p.Spec.Steps[0].Kind },
	} {
		var q pluginDoc
		readStrict(t, "plugin/plugin.yaml", &q)
		mutate(&q)
		if len(kargoExtendedRules(&q)) == 0 {
			t.Errorf("the rules accept a plugin with %s", name)
		}
	}
}

func TestExamplePluginConfigMapMatchesPlugin(t *testing.T) {
	var p pluginDoc
	readStrict(t, "plugin/plugin.yaml", &p)
	var cm configMapDoc
	readStrict(t, "plugin/argo-refs-step-plugin-configmap.yaml", &cm)
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" {
		t.Errorf("ConfigMap is %s %s", cm.APIVersion, cm.Kind)
	}
	if cm.Metadata.Name != p.Metadata.Name+"-step-plugin" || cm.Metadata.Namespace != p.Metadata.Namespace {
		t.Errorf("ConfigMap is %s/%s, want %s/%s-step-plugin", cm.Metadata.Namespace, cm.Metadata.Name, p.Metadata.Namespace, p.Metadata.Name)
	}
	if cm.Metadata.Labels["kargo-extended.code.org/configmap-type"] != "StepPlugin" {
		t.Errorf("ConfigMap labels = %v, want kargo-extended.code.org/configmap-type: StepPlugin", cm.Metadata.Labels)
	}
	if len(cm.Data) != 3 || cm.Data["sidecar.automountServiceAccountToken"] != "false" {
		t.Errorf("ConfigMap data keys = %v, automount = %q; want 3 keys and \"false\"", sortedKeys(cm.Data), cm.Data["sidecar.automountServiceAccountToken"])
	}
	var c corev1.Container
	if err := sigsyaml.UnmarshalStrict([]byte(cm.Data["sidecar.container"]), &c); err != nil {
		t.Fatalf("data[sidecar.container]: %v", err)
	}
	if !reflect.DeepEqual(c, p.Spec.Sidecar.Container) {
		t.Errorf("data[sidecar.container] differs from plugin.yaml's container:\n%+v\n%+v", c, p.Spec.Sidecar.Container)
	}
	var steps []pluginStep
	if err := sigsyaml.UnmarshalStrict([]byte(cm.Data["steps.yaml"]), &steps); err != nil {
		t.Fatalf("data[steps.yaml]: %v", err)
	}
	if !reflect.DeepEqual(steps, p.Spec.Steps) {
		t.Errorf("data[steps.yaml] = %v, want plugin.yaml's %v", steps, p.Spec.Steps)
	}
}

// TestExamplePluginFilesAreGenerated regenerates plugin.yaml and its
// ConfigMap and compares them byte for byte with the committed files.
func TestExamplePluginFilesAreGenerated(t *testing.T) {
	p, err := manifests.NewStepPlugin(manifests.Options{Image: pluginImage, Steps: manifests.ArgoRefsSteps()})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := p.ConfigMap()
	if err != nil {
		t.Fatal(err)
	}
	for file, v := range map[string]any{"plugin.yaml": p, "argo-refs-step-plugin-configmap.yaml": cm} {
		want, err := manifests.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("plugin", file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			output := map[string]string{"plugin.yaml": "plugin", "argo-refs-step-plugin-configmap.yaml": "configmap"}[file]
			t.Errorf("examples/plugin/%s is out of date; regenerate it with\n  go run ./cmd/argo-refs plugin-manifest --image %s --output %s > examples/plugin/%s\n--- committed\n%s--- generated\n%s",
				file, pluginImage, output, file, got, want)
		}
	}
}

// ---------------------------------------------------------------------------
// The Akuity Platform custom steps.

func TestExampleCustomPromotionSteps(t *testing.T) {
	docs := loadExamples(t)
	cps := byKind(docs, "ee.kargo.akuity.io/v1alpha1 CustomPromotionStep")
	byName := map[string]doc{}
	for _, d := range cps {
		byName[d.name()] = d
		checkCustomStepSpec(t, d)
	}
	if got := sortedKeys(byName); !slices.Equal(got, []string{string(step.KindPromote), string(step.KindVerify)}) {
		t.Fatalf("CustomPromotionSteps = %v, want one per argo-refs step kind, named like it", got)
	}

	// Stages under custom-step/ run through them: evaluate the command and
	// env templates the way the executor does and validate what arrives.
	used := 0
	var customStaging map[string]any
	for _, d := range byKind(docs, "kargo.akuity.io/v1alpha1 Stage") {
		if !strings.HasPrefix(d.path, "custom-step/") {
			continue
		}
		steps, err := evaluateStage(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		for _, s := range steps {
			cp, ok := byName[s.uses]
			if !ok {
				continue
			}
			used++
			if d.name() == "staging" {
				customStaging = s.config
			}
			checkCustomStepRun(t, d, cp, s)
		}
	}
	if used == 0 {
		t.Fatal("no Stage under custom-step/ uses a CustomPromotionStep")
	}

	// The custom-step Stage is the helm staging Stage; the two must not drift.
	for _, d := range byKind(docs, "kargo.akuity.io/v1alpha1 Stage") {
		if d.path != "helm/apps/kargo-project-codeai/stages/staging.yaml" {
			continue
		}
		steps, err := evaluateStage(d)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(steps[0].config, customStaging) {
			t.Errorf("custom-step/stage-staging.yaml's argo-refs config differs from the helm staging Stage's")
		}
	}
}

func checkCustomStepSpec(t *testing.T, d doc) {
	spec := dig(d.obj, "spec")
	if got := str(spec, "image"); got != pluginImage {
		t.Errorf("%s: image = %q, want %q", d, got, pluginImage)
	}
	cmd := list(spec, "command")
	wantVerb := strings.TrimPrefix(d.name(), "argo-refs-")
	if len(cmd) < 2 || cmd[0] != "/argo-refs" || cmd[1] != wantVerb {
		t.Errorf("%s: command = %v, want /argo-refs %s ...", d, cmd, wantVerb)
	}
	// The custom step declares what plugin.yaml declares for the same kind.
	declared := step.DeclaredFor(step.Kind(d.name()))
	if got, err := time.ParseDuration(str(spec, "defaultTimeout")); err != nil || got != declared.Timeout {
		t.Errorf("%s: defaultTimeout = %q (%v), want %s", d, str(spec, "defaultTimeout"), err, declared.Timeout)
	}
	if n, _ := dig(spec, "defaultErrorThreshold").(int); n != int(declared.ErrorThreshold) {
		t.Errorf("%s: defaultErrorThreshold = %v, want %d", d, dig(spec, "defaultErrorThreshold"), declared.ErrorThreshold)
	}
	if dig(spec, "resources", "requests") == nil || dig(spec, "resources", "limits") == nil {
		t.Errorf("%s: resources needs requests and limits", d)
	}
	if str(spec, "output", "source", "type") != "Pipe" || str(spec, "output", "source", "format") != "KeyValue" {
		t.Errorf("%s: output must be the KARGO_OUTPUT file (Pipe) in KeyValue format, which argo-refs writes", d)
	}
	if caps := list(spec, "capabilities"); len(caps) != 0 {
		t.Errorf("%s: capabilities = %v; argo-refs needs no access to Kubernetes", d, caps)
	}
}

// checkCustomStepRun evaluates the CustomPromotionStep's templates for one
// Stage step and validates the config the command receives.
func checkCustomStepRun(t *testing.T, d doc, cp doc, s evaluatedStep) {
	cfgJSON, err := json.Marshal(s.config)
	if err != nil {
		t.Fatal(err)
	}
	ctxEval := func(expr string) (any, error) {
		switch expr {
		case "ctx.stage":
			return d.name(), nil
		case "ctx.project":
			return str(d.obj, "metadata", "namespace"), nil
		case "ctx.promotion":
			return promotionName, nil
		case "ctx.meta.step.alias":
			return s.as, nil
		case "config.commit":
			if c := str(s.config, "commit"); c != "" {
				return c, nil
			}
			return nil, errors.New("the Stage's config has no commit")
		case "quote(config)":
			return `"` + string(cfgJSON) + `"`, nil
		}
		return nil, errors.New("unknown expression")
	}
	var args []string
	for i, a := range list(cp.obj, "spec", "command") {
		v, err := evalTemplate(a.(string), ctxEval)
		if err != nil {
			t.Errorf("%s: command[%d]: %v", cp, i, err)
			continue
		}
		args = append(args, fmt.Sprint(v))
	}
	for _, want := range []string{"--stage=" + d.name(), "--project=" + str(d.obj, "metadata", "namespace"), "--gitops-commit=" + freightCommit} {
		if !slices.Contains(args, want) {
			t.Errorf("%s run by %s: command %v lacks %s", cp, d, args, want)
		}
	}
	var config string
	for i, e := range list(cp.obj, "spec", "env") {
		v, err := evalTemplate(str(e, "value"), ctxEval)
		if err != nil {
			t.Errorf("%s: env[%d]: %v", cp, i, err)
			continue
		}
		sv, ok := v.(string)
		if !ok {
			t.Errorf("%s: env %s evaluates to a %T, but environment values are strings", cp, str(e, "name"), v)
		}
		if str(e, "name") == "ARGO_REFS_CONFIG" {
			config = sv
		}
	}
	if config == "" {
		t.Fatalf("%s: no ARGO_REFS_CONFIG in env", cp)
	}
	if _, err := step.ParseConfig([]byte(config)); err != nil {
		t.Errorf("%s run by %s: ARGO_REFS_CONFIG is invalid: %v", cp, d, err)
	}
}

// ---------------------------------------------------------------------------
// The GitHub Actions workflow.

func TestExampleWorkflowPublishes(t *testing.T) {
	data, err := os.ReadFile(filepath.FromSlash(".github/workflows/publish-build-lock.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := parseDocs("publish-build-lock.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	wf := docs[0].obj
	const sha = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"
	const digest = "sha256:9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7"
	ghEval := func(expr string) (any, error) {
		switch expr {
		case "github.sha":
			return sha, nil
		case "github.repository":
			return "code-dot-org/code-dot-org", nil
		case "github.actor", "github.ref":
			return "x", nil
		case "steps.build.outputs.digest":
			return digest, nil
		case "secrets.GITHUB_TOKEN", "secrets.K8S_GITOPS_TOKEN":
			return "token", nil
		}
		if name, ok := strings.CutPrefix(expr, "env."); ok {
			if v := str(wf, "env", name); v != "" {
				return v, nil
			}
		}
		return nil, errors.New("unknown expression")
	}
	// Every expression in the workflow must be one of the above.
	if _, err := evalTree(wf, ghEval); err != nil {
		t.Fatalf("workflow: %v", err)
	}

	var publish, build map[string]any
	for _, j := range dig(wf, "jobs").(map[string]any) {
		for _, s := range list(j, "steps") {
			m := s.(map[string]any)
			if strings.HasPrefix(str(m, "uses"), "docker/build-push-action@") {
				build = m
			}
			if strings.HasPrefix(str(m, "uses"), "docker://ghcr.io/argo-refs/argo-refs:") {
				publish = m
			}
		}
	}
	if build == nil || publish == nil {
		t.Fatal("the workflow must build with docker/build-push-action and publish with the argo-refs image")
	}
	if str(build, "id") != "build" || dig(build, "with", "push") != true {
		t.Errorf("build step: id = %q, push = %v; want id build and push true", str(build, "id"), dig(build, "with", "push"))
	}
	if got := str(publish, "uses"); got != "docker://"+pluginImage {
		t.Errorf("publish runs %s, want docker://%s", got, pluginImage)
	}
	if str(publish, "with", "entrypoint") != "/argo-refs" {
		t.Errorf("publish entrypoint = %q, want /argo-refs", str(publish, "with", "entrypoint"))
	}
	for _, k := range []string{"GITHUB_TOKEN", "ARGO_REFS_REGISTRY_PASSWORD"} {
		if !strings.HasPrefix(str(publish, "env", k), "${{ secrets.") {
			t.Errorf("publish must get %s from a secret, has %q", k, str(publish, "env", k))
		}
	}
	if str(publish, "env", "ARGO_REFS_REGISTRY_USERNAME") == "" {
		t.Error("publish checks the tag in the registry and needs ARGO_REFS_REGISTRY_USERNAME")
	}
	argsV, err := evalTemplate(str(publish, "with", "args"), ghEval)
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Fields(fmt.Sprint(argsV))
	if len(args) == 0 || args[0] != "publish" {
		t.Fatalf("publish args = %v, want argo-refs publish ...", args)
	}
	flags := map[string]string{}
	for i := 1; i < len(args); i += 2 {
		if !strings.HasPrefix(args[i], "--") || i+1 >= len(args) {
			t.Fatalf("publish args %v: want --flag value pairs", args[1:])
		}
		flags[args[i]] = args[i+1]
	}
	imageRef := "ghcr.io/code-dot-org/code-dot-org:git-" + sha
	want := map[string]string{
		"--repo":           "https://github.com/code-dot-org/k8s-gitops.git",
		"--branch":         "main",
		"--dir":            "warehouses/codeai/builds",
		"--git-commit":     sha,
		"--image-ref":      imageRef,
		"--image-digest":   digest,
		"--packaging-kind": "helm",
		"--source-repo":    "https://github.com/code-dot-org/code-dot-org.git",
		"--source-path":    "k8s/helm",
	}
	if !reflect.DeepEqual(flags, want) {
		t.Errorf("argo-refs publish flags = %v\nwant %v", flags, want)
	}
	tags, err := evalTemplate(str(build, "with", "tags"), ghEval)
	if err != nil || tags != imageRef {
		t.Errorf("the image is pushed as %v, but published as %s", tags, imageRef)
	}
}

// ---------------------------------------------------------------------------
// The harness itself must be able to fail.

func TestExampleHarnessRejects(t *testing.T) {
	if _, err := parseDocs("dup.yaml", []byte("a: 1\nb:\n  c: 1\n  c: 2\n")); err == nil || !strings.Contains(err.Error(), `key "c" is already defined`) {
		t.Errorf("duplicate keys: err = %v", err)
	}
	if _, err := parseDocs("empty.yaml", []byte("# nothing\n")); err == nil {
		t.Error("a file with no document was accepted")
	}
	env := &stageEnv{vars: map[string]string{"gitopsRepo": "https://example.test/g.git"}, warehouse: "w", earlier: map[string]stepRef{}}
	for _, expr := range []string{
		"vars.nope",
		"commitFrom(vars.gitopsRepo, warehouse('other')).ID",
		"secret('argo-refs-credentials').token",
		"outputs.promote.gitCommit",
		"ctx.targetFreight.name",
		"freightMetadata(ctx.targetFreight.name)['x']",
	} {
		if _, err := evalTemplate("${{ "+expr+" }}", env.eval); err == nil {
			t.Errorf("expression %q was accepted", expr)
		}
	}
	env.earlier["promote"] = stepRef{kind: string(step.KindPromote), config: map[string]any{}}
	if _, err := evalTemplate("${{ outputs.promote.nope }}", env.eval); err == nil {
		t.Error("an output argo-refs does not set was accepted")
	}
	if v, err := evalTemplate("${{ outputs.promote.attempts }}", env.eval); err != nil || v != 1.0 {
		t.Errorf("a numeric output evaluates to %#v, %v; want the number 1 as Kargo makes it", v, err)
	}
	if _, err := evalTemplate("${{ vars.gitopsRepo", env.eval); err == nil {
		t.Error("an unclosed expression was accepted")
	}
	if _, err := parseStepConfig(map[string]any{"repoURL": "https://example.test/g.git", "buildLockDirs": "x"}); err == nil {
		t.Error("step.ParseConfig accepted a misspelt key")
	}
}

// ---------------------------------------------------------------------------
// Kargo's own schemas for the built-in steps the Stages chain after ours.

// kargoBuiltinSchemas compiles Kargo's built-in step config schemas from the
// github.com/akuity/kargo module this project already depends on.
func kargoBuiltinSchemas(t *testing.T) func(kind string) (*jsonschema.Schema, error) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/akuity/kargo").Output()
	if err != nil {
		t.Fatalf("locating the github.com/akuity/kargo module: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "pkg", "promotion", "runner", "builtin", "schemas")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading Kargo's step schemas: %v", err)
	}
	c := jsonschema.NewCompiler()
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("parsing Kargo schema %s: %v", e.Name(), err)
		}
		if err := c.AddResource("file:///schemas/"+e.Name(), doc); err != nil {
			t.Fatal(err)
		}
	}
	return func(kind string) (*jsonschema.Schema, error) {
		return c.Compile("file:///schemas/" + kind + "-config.json")
	}
}

func validateAgainst(s *jsonschema.Schema, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// TestExampleBuiltinStepConfigsMatchKargoSchemas validates every built-in
// step's config, once evaluated, against the schema Kargo checks it with.
func TestExampleBuiltinStepConfigsMatchKargoSchemas(t *testing.T) {
	schemaFor := kargoBuiltinSchemas(t)
	checked := 0
	for _, d := range byKind(loadExamples(t), "kargo.akuity.io/v1alpha1 Stage") {
		steps, err := evaluateStage(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		for i, s := range steps {
			if isArgoRefsKind(s.uses) {
				continue
			}
			sch, err := schemaFor(s.uses)
			if err != nil {
				t.Errorf("%s: steps[%d]: no Kargo schema for %q: %v", d, i, s.uses, err)
				continue
			}
			if err := validateAgainst(sch, s.config); err != nil {
				t.Errorf("%s: steps[%d] (%s) config is invalid for Kargo: %v", d, i, s.uses, err)
			}
			checked++
		}
	}
	if checked != 11 {
		t.Errorf("validated %d built-in step configs, want 11 (argocd-update in 7 Stages, git-open-pr and git-wait-for-pr in 2)", checked)
	}
	// The schemas are live: a source without its repoURL must fail.
	sch, err := schemaFor("argocd-update")
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]any{"apps": []any{map[string]any{"name": "a", "sources": []any{map[string]any{"desiredRevision": "x"}}}}}
	if validateAgainst(sch, bad) == nil {
		t.Error("Kargo's argocd-update schema accepted a source without repoURL")
	}
}
