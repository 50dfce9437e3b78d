package examples_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Kargo's own schemas for the built-in steps the Stages chain after ours.

// kargoBuiltinSchemas compiles Kargo's built-in step config schemas from the
// github.com/akuity/kargo module this project already depends on. This
// package imports Kargo's expression package (expressions_test.go), so
// `go test ./examples/` downloads the module even into a clean module
// cache, and its schema files are there to read.
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
	if checked != 13 {
		t.Errorf("validated %d built-in step configs, want 13 (argocd-update in 9 Stages, git-open-pr and git-wait-for-pr in 2)", checked)
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
