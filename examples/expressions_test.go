package examples_test

// The Stages' ${{ }} expressions, evaluated by Kargo's own expression
// package, github.com/akuity/kargo/pkg/expressions (expr-lang underneath),
// in an environment shaped like the one Kargo's promotion engine builds:
// ctx, vars and outputs, and the functions the examples call (secret,
// commitFrom, warehouse) with plausible results. Kargo evaluates an unknown
// var, output or key to null; here that is an error, so that an example
// cannot use an expression the test has not vetted. GitHub Actions
// expressions (workflow_test.go) are GitHub's language and keep a small
// evaluator of their own.

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/akuity/kargo/pkg/expressions"
	"github.com/expr-lang/expr"

	"github.com/argo-refs/argo-refs/step"
)

// secretValues is what secret('argo-refs-credentials') holds in the examples'
// instructions.
var secretValues = map[string]string{
	"gitUsername":      "x-access-token",
	"gitPassword":      "github_pat_example",
	"registryUsername": "x-access-token",
	"registryPassword": "ghp_example",
	"githubToken":      "ghs_example",
}

// kargoGitSecret is Kargo's Git credential Secret for the GitOps
// repository (kargo.akuity.io/cred-type: git), as the README shows it: the
// one the Warehouse and git-open-pr use, passed whole to argo-refs.
var kargoGitSecret = map[string]string{
	"repoURL":  "https://github.com/code-dot-org/k8s-gitops.git",
	"username": "x-access-token",
	"password": "github_pat_example",
}

// stageEnv is what a Stage's expressions can see while one of its steps runs.
type stageEnv struct {
	stage     string
	project   string
	warehouse string            // the Warehouse the Stage requests Freight from
	vars      map[string]string // promotionTemplate.spec.vars
	// earlier maps each earlier step's alias to its kind and evaluated config.
	earlier map[string]stepRef
	// extra holds more of ctx, and more top-level names, for one evaluation
	// (a custom step's config).
	ctxExtra map[string]any
	extra    map[string]any
}

type stepRef struct {
	kind   string
	config map[string]any
}

// kargoEnv is the environment and the functions of one evaluation.
func (e *stageEnv) kargoEnv() (map[string]any, []expr.Option, error) {
	ctx := map[string]any{"stage": e.stage, "project": e.project, "promotion": promotionName}
	for k, v := range e.ctxExtra {
		ctx[k] = v
	}
	vars := map[string]any{}
	for k, v := range e.vars {
		vars[k] = v
	}
	outputs := map[string]any{}
	for alias, ref := range e.earlier {
		o, err := stepOutputs(ref)
		if err != nil {
			return nil, nil, err
		}
		outputs[alias] = o
	}
	env := map[string]any{"ctx": ctx, "vars": vars, "outputs": outputs}
	for k, v := range e.extra {
		env[k] = v
	}
	opts := []expr.Option{
		// Names the environment lacks fail when the expression compiles.
		expr.Env(env),
		expr.Function("secret", func(a ...any) (any, error) {
			values := secretValues
			switch name, _ := a[0].(string); name {
			case "argo-refs-credentials":
			case "k8s-gitops-repo":
				values = kargoGitSecret
			default:
				return nil, fmt.Errorf("unknown secret %v (README documents argo-refs-credentials with %v and Kargo's k8s-gitops-repo)", a[0], sortedKeys(secretValues))
			}
			// Kargo's secret() hands over every value as a string.
			m := map[string]any{}
			for k, v := range values {
				m[k] = v
			}
			return m, nil
		}, new(func(string) map[string]any)),
		expr.Function("warehouse", func(a ...any) (any, error) {
			if a[0] != e.warehouse {
				return nil, fmt.Errorf("warehouse(%q) is not the Warehouse %q the Stage requests Freight from", a[0], e.warehouse)
			}
			return map[string]any{"kind": "Warehouse", "name": a[0]}, nil
		}, new(func(string) map[string]any)),
		expr.Function("commitFrom", func(a ...any) (any, error) {
			repo, _ := a[0].(string)
			if repo == "" || !slicesContainsValue(e.vars, repo) {
				return nil, fmt.Errorf("commitFrom(%v): want the GitOps repository, as a var of the Stage", a[0])
			}
			return map[string]any{"ID": freightCommit, "RepoURL": repo}, nil
		}, new(func(string, map[string]any) map[string]any)),
	}
	return env, opts, nil
}

func slicesContainsValue(m map[string]string, v string) bool {
	for _, x := range m {
		if x == v {
			return true
		}
	}
	return false
}

// evalConfig evaluates every expression in a step config, as Kargo does
// before it runs the step.
func (e *stageEnv) evalConfig(cfg any) (map[string]any, error) {
	m, ok := cfg.(map[string]any)
	if !ok {
		return nil, errors.New("the config is not a mapping")
	}
	env, opts, err := e.kargoEnv()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	out, err := expressions.EvaluateJSONTemplate(raw, env, opts...)
	if err != nil {
		return nil, err
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		return nil, err
	}
	if err := noNulls("", m, got); err != nil {
		return nil, err
	}
	return got, nil
}

// evalString evaluates one template string, as Kargo does a custom step's
// command and env values.
func (e *stageEnv) evalString(s string) (any, error) {
	env, opts, err := e.kargoEnv()
	if err != nil {
		return nil, err
	}
	v, err := expressions.EvaluateTemplate(s, env, opts...)
	if err != nil {
		return nil, err
	}
	if err := noNulls("", s, v); err != nil {
		return nil, err
	}
	return v, nil
}

// noNulls fails where an expression gave null: Kargo's result for an
// unknown var, output or key. It walks the template and its result side
// by side.
func noNulls(at string, tmpl, got any) error {
	switch t := tmpl.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		for k, v := range t {
			if err := noNulls(at+"."+k, v, g[k]); err != nil {
				return err
			}
		}
	case []any:
		g, _ := got.([]any)
		for i, v := range t {
			if i >= len(g) {
				return fmt.Errorf("%s[%d]: missing after evaluation", at, i)
			}
			if err := noNulls(fmt.Sprintf("%s[%d]", at, i), v, g[i]); err != nil {
				return err
			}
		}
	case string:
		if !strings.Contains(t, "${{") {
			return nil
		}
		if got == nil || (reflect.TypeOf(got).Kind() == reflect.String && strings.Contains(got.(string), "null") && !strings.Contains(t, "null")) {
			return fmt.Errorf("%s: %q evaluates to null: an unknown var, output or key", strings.TrimPrefix(at, "."), t)
		}
	}
	return nil
}

// stepOutputs is every output an earlier step of kind sets, with
// plausible values.
func stepOutputs(ref stepRef) (map[string]any, error) {
	switch ref.kind {
	case string(step.KindPromote), string(step.KindVerify):
		out := map[string]any{}
		for _, k := range argoRefsOutputs {
			v, err := stepOutput(ref, k)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		// With a render section, argo-refs-promote also sets the review.
		if _, ok := ref.config["render"]; ok && ref.kind == string(step.KindPromote) {
			out[step.OutputReviewMarkdown] = "### Rendered changes: production, 1111111 → " + sourceCommit[:7] + "\n"
			out[step.OutputRenderSummary] = map[string]any{"changed": 1, "added": 0, "removed": 0, "unchanged": 3}
		}
		return out, nil
	case "git-open-pr":
		return map[string]any{"pr": map[string]any{"id": prNumber, "url": prURL}}, nil
	case "git-wait-for-pr":
		return map[string]any{"commit": mergeCommit, "pr": map[string]any{"id": prNumber, "url": prURL}}, nil
	}
	return map[string]any{}, nil
}

// argoRefsOutputs are the output keys both argo-refs step kinds set.
var argoRefsOutputs = []string{"releaseId", "gitCommit", "imageRef", "imageDigest", "image", "sourceRepo", "sourcePath", "freightCommit", "gitopsCommit", "branch", "changed", "targets", "attempts"}

// prURL is the review PR's URL.
const prURL = "https://github.com/code-dot-org/k8s-gitops/pull/42"

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
