package examples_test

import (
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/step"
)

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
		if _, err := env.evalString("${{ " + expr + " }}"); err == nil {
			t.Errorf("expression %q was accepted", expr)
		}
	}
	if _, err := env.evalString("https://${{ vars.nope }}/x"); err == nil {
		t.Error("an unknown var inside a longer string was accepted")
	}
	if v, err := env.evalString("${{ commitFrom(vars.gitopsRepo, warehouse('w')).ID }}"); err != nil || v != freightCommit {
		t.Errorf("commitFrom of the Stage's Warehouse = %v, %v; want the Freight commit", v, err)
	}
	env.earlier["promote"] = stepRef{kind: string(step.KindPromote), config: map[string]any{}}
	if _, err := env.evalString("${{ outputs.promote.nope }}"); err == nil {
		t.Error("an output argo-refs does not set was accepted")
	}
	if v, err := env.evalString("${{ outputs.promote.attempts }}"); err != nil || v != 1.0 {
		t.Errorf("a numeric output evaluates to %#v, %v; want the number 1 as Kargo makes it", v, err)
	}
	if _, err := env.evalString("${{ vars.gitopsRepo"); err == nil {
		t.Error("an unclosed expression was accepted")
	}
	if _, err := parseStepConfig(map[string]any{"repoURL": "https://example.test/g.git", "buildLockDirs": "x"}); err == nil {
		t.Error("step.ParseConfig accepted a misspelt key")
	}
}
