package examples_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

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
	if _, err := ghTree(wf, ghEval); err != nil {
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
	argsV, err := ghTemplate(str(publish, "with", "args"), ghEval)
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
	tags, err := ghTemplate(str(build, "with", "tags"), ghEval)
	if err != nil || tags != imageRef {
		t.Errorf("the image is pushed as %v, but published as %s", tags, imageRef)
	}
}

// evaluator resolves the ${{ ... }} expressions of one GitHub Actions
// context; anything it does not know is an error.
type evaluator func(expr string) (any, error)

var exprRE = regexp.MustCompile(`\$\{\{(.*?)\}\}`)

// ghTemplate substitutes every ${{ expr }} in s. As GitHub and Kargo do, a template
// with an expression whose result reads as a number, a bool or JSON becomes
// that value; a result wrapped in double quotes (quote()) stays a string.
func ghTemplate(s string, eval evaluator) (any, error) {
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

// ghTree returns a copy of v with every string template evaluated.
func ghTree(v any, eval evaluator) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := ghTree(e, eval)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := ghTree(e, eval)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = r
		}
		return out, nil
	case string:
		return ghTemplate(x, eval)
	}
	return v, nil
}

// legacyWorkflowDir is where record-legacy-merge.yaml writes the legacy
// gitflow merge records (checked below), which the Stages' gates read.
const legacyWorkflowDir = "warehouses/codeai/legacy-gitflow"

func TestExampleWorkflowRecordsLegacyMerges(t *testing.T) {
	data, err := os.ReadFile(filepath.FromSlash(".github/workflows/record-legacy-merge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := parseDocs("record-legacy-merge.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	wf := docs[0].obj
	const sha = "0cc4cd87f40ae606d1822d5652b552f8c50a4668"
	const mergedAt = "2026-03-22T12:34:56Z"
	for _, branch := range []string{"staging", "test", "levelbuilder", "production"} {
		ghEval := func(expr string) (any, error) {
			switch expr {
			case "github.sha":
				return sha, nil
			case "github.ref_name":
				return branch, nil
			case "steps.merge.outputs.at":
				return mergedAt, nil
			case "secrets.K8S_GITOPS_TOKEN":
				return "token", nil
			}
			return nil, errors.New("unknown expression")
		}
		if _, err := ghTree(wf, ghEval); err != nil {
			t.Fatalf("workflow: %v", err)
		}
		var record, merge map[string]any
		for _, j := range dig(wf, "jobs").(map[string]any) {
			for _, s := range list(j, "steps") {
				m := s.(map[string]any)
				if strings.HasPrefix(str(m, "uses"), "docker://") {
					record = m
				}
				if str(m, "id") == "merge" {
					merge = m
				}
			}
		}
		if record == nil || merge == nil || str(record, "uses") != "docker://"+pluginImage || str(record, "with", "entrypoint") != "/argo-refs" {
			t.Fatalf("want a step with id merge and one running docker://%s with entrypoint /argo-refs", pluginImage)
		}
		// The merge time is the commit's, in the UTC seconds form the
		// record takes, so a re-run writes the same bytes.
		if run := str(merge, "run"); !strings.Contains(run, "TZ=UTC git show -s --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ HEAD") || !strings.Contains(run, "$GITHUB_OUTPUT") {
			t.Errorf("merge-time step runs %q", run)
		}
		if !strings.HasPrefix(str(record, "env", "GITHUB_TOKEN"), "${{ secrets.") {
			t.Error("the token must come from a secret")
		}
		argsV, err := ghTemplate(str(record, "with", "args"), ghEval)
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Fields(fmt.Sprint(argsV))
		flags := map[string]string{}
		for i := 1; i+1 < len(args); i += 2 {
			flags[args[i]] = args[i+1]
		}
		want := map[string]string{
			"--repo": "https://github.com/code-dot-org/k8s-gitops.git", "--branch": "main", "--dir": legacyWorkflowDir,
			"--env": branch, "--revision": sha, "--merged-at": mergedAt,
		}
		if len(args) == 0 || args[0] != "legacy-merge" || !reflect.DeepEqual(flags, want) {
			t.Errorf("%s: args %v\nwant legacy-merge %v", branch, args, want)
		}
	}
	var branches []string
	for _, b := range list(wf, "on", "push", "branches") {
		branches = append(branches, fmt.Sprint(b))
	}
	if !reflect.DeepEqual(branches, []string{"staging", "test", "levelbuilder", "production"}) {
		t.Errorf("the workflow runs on pushes to %v, want the four legacy branches", branches)
	}
}
