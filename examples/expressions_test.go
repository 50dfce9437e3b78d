package examples_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/argo-refs/argo-refs/step"
)

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
