package examples_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
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
	ghEval := func(expr string) (any, error) {
		switch expr {
		case "github.sha":
			return sha, nil
		case "github.repository":
			return "code-dot-org/code-dot-org", nil
		case "github.actor", "github.ref":
			return "x", nil
		case "steps.publish.outputs.digest", "steps.publish.outputs.built":
			return "out", nil
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
	// Every expression in the workflow must be one of the above, except
	// the guard's condition, checked below.
	var steps []map[string]any
	for _, j := range dig(wf, "jobs").(map[string]any) {
		for _, s := range list(j, "steps") {
			steps = append(steps, s.(map[string]any))
		}
	}
	for i, s := range steps {
		c := map[string]any{}
		for k, v := range s {
			if k != "if" {
				c[k] = v
			}
		}
		if _, err := ghTree(c, ghEval); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}

	// Every action is pinned by a full commit ID, with its release named.
	pinned := regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)
	var publish map[string]any
	for _, s := range steps {
		uses := str(s, "uses")
		if uses == "" {
			continue
		}
		if !pinned.MatchString(uses) {
			t.Errorf("%s is not pinned by commit", uses)
		}
		if strings.HasPrefix(uses, "argo-refs/argo-refs/actions/publish-once@") {
			publish = s
		}
		if strings.HasPrefix(uses, "docker/build-push-action@") || strings.HasPrefix(uses, "docker://") {
			t.Errorf("%s: the image must be built by the publish-once action, which never moves a published tag", uses)
		}
	}
	if publish == nil {
		t.Fatal("the workflow must build and publish with argo-refs/argo-refs/actions/publish-once")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "uses: ") && !regexp.MustCompile(`@[0-9a-f]{40} # \S`).MatchString(line) {
			t.Errorf("%q: say which release the commit is, in a comment", strings.TrimSpace(line))
		}
	}
	// The pinned commit is one of this repository's, and its action is
	// the one here: re-pin the example when the action changes.
	pin := str(publish, "uses")[strings.LastIndex(str(publish, "uses"), "@")+1:]
	if out, err := exec.Command("git", "-C", "..", "diff", "--stat", pin, "--", "actions/publish-once").CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("the example pins actions/publish-once at %s, which differs from this checkout's (or is not a commit here; %v):\n%s", pin, err, out)
	}

	with, err := ghTree(dig(publish, "with"), ghEval)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"image-repo":        "ghcr.io/code-dot-org/code-dot-org",
		"git-commit":        sha,
		"gitops-repo":       "https://github.com/code-dot-org/k8s-gitops.git",
		"gitops-branch":     "main",
		"build-lock-dir":    "warehouses/codeai/builds",
		"packaging-kind":    "helm",
		"source-repo":       "https://github.com/code-dot-org/code-dot-org.git",
		"source-path":       "k8s/helm",
		"gitops-token":      "token",
		"registry-username": "x",
		"registry-password": "token",
		"sign":              "true",
		"attest":            "true",
	}
	build, _ := with.(map[string]any)["build"].(string)
	delete(with.(map[string]any), "build")
	if !reflect.DeepEqual(with, want) {
		t.Errorf("publish-once inputs = %v\nwant %v", with, want)
	}
	for _, w := range []string{"--push", `--tag "$IMAGE_REF"`, "org.opencontainers.image.revision=" + sha} {
		if !strings.Contains(build, w) {
			t.Errorf("the build command %q lacks %s", build, w)
		}
	}
	for _, k := range []string{"gitops-token", "registry-password"} {
		if !strings.HasPrefix(str(publish, "with", k), "${{ secrets.") {
			t.Errorf("%s must come from a secret, is %q", k, str(publish, "with", k))
		}
	}
	// The inputs the workflow gives are the action's.
	actionRaw, err := os.ReadFile(filepath.FromSlash("../actions/publish-once/action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	adocs, err := parseDocs("action.yml", actionRaw)
	if err != nil {
		t.Fatal(err)
	}
	for k := range dig(publish, "with").(map[string]any) {
		if dig(adocs[0].obj, "inputs", k) == nil {
			t.Errorf("the workflow gives input %s, which the action does not declare", k)
		}
	}

	// Keyless signing and attesting need the job's OIDC token.
	for k, v := range map[string]string{"id-token": "write", "attestations": "write", "packages": "write"} {
		if str(wf, "permissions", k) != v {
			t.Errorf("permissions.%s = %q, want %s (sign and attest)", k, str(wf, "permissions", k), v)
		}
	}

	// One job per commit at a time, as the tag check needs.
	if g := str(wf, "concurrency", "group"); !strings.Contains(g, "${{ github.sha }}") || dig(wf, "concurrency", "cancel-in-progress") != false {
		t.Errorf("concurrency %v: want a group keyed by github.sha, not cancelled", dig(wf, "concurrency"))
	}
	// A manual run of another branch fails unless asked explicitly.
	guard := str(steps[0], "if")
	if dig(wf, "on", "workflow_dispatch", "inputs", "publish-other-branch", "default") != false ||
		guard != "github.ref != 'refs/heads/staging' && !inputs.publish-other-branch" || !strings.Contains(str(steps[0], "run"), "exit 1") {
		t.Errorf("the first step must fail a run of another branch unless publish-other-branch is set; if: %q", guard)
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
