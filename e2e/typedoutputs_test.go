package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"testing"
)

// TestTypedOutputsAreTheSameInBothRuntimes: with --kargo-output=json (a
// CustomPromotionStep whose output.source.format is JSON), the custom
// step's $KARGO_OUTPUT holds the outputs with the types the StepPlugin
// runtime gives them: the same verification answers the same outputs in
// both, and a promotion's changed, attempts and targets are a boolean, a
// number and a list in both.
func TestTypedOutputsAreTheSameInBothRuntimes(t *testing.T) {
	t.Parallel()
	jsonOutputs := func(t *testing.T, r result) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(r.rawOutputs), &m); err != nil {
			t.Fatalf("$KARGO_OUTPUT is not a JSON object: %v\n%s", err, r.rawOutputs)
		}
		return m
	}

	f := newFixture(t)
	s := newSandbox(t)
	cfg := s.writeFile(t, "config.yaml", f.configYAML(""))
	r := s.runStep(t, nil, stepArgs("verify", "staging", f.freight, "--config="+cfg, "--kargo-output=json")...)
	wantCode(t, r, 0)
	custom := jsonOutputs(t, r)
	sc := startSidecar(t, s)
	plugin := output(sc.post(t, pluginToken, kargoRequest(f, s, "argo-refs-verify", "staging", f.configJSON(nil))))
	if !reflect.DeepEqual(custom, plugin) {
		t.Fatalf("verify outputs differ:\ncustom step %v\nplugin      %v", custom, plugin)
	}

	// Promotions, one per runtime on its own fixture: the same keys with
	// the same JSON types, and equal values where the commit does not
	// enter.
	pf := newFixture(t)
	ps := newSandbox(t)
	pr := ps.runStep(t, nil, stepArgs("promote", "staging", pf.freight, "--config="+ps.writeFile(t, "config.yaml", pf.configYAML("")), "--kargo-output=json")...)
	wantCode(t, pr, 0)
	customPromote := jsonOutputs(t, pr)
	qf := newFixture(t)
	qs := newSandbox(t)
	qsc := startSidecar(t, qs)
	pluginPromote := output(qsc.post(t, pluginToken, kargoRequest(qf, qs, "argo-refs-promote", "staging", qf.configJSON(nil))))
	if a, b := typesOf(customPromote), typesOf(pluginPromote); !reflect.DeepEqual(a, b) {
		t.Fatalf("promote output types differ:\ncustom step %v\nplugin      %v", a, b)
	}
	if customPromote["changed"] != true || customPromote["attempts"] != 1.0 || customPromote["branch"] != "main" {
		t.Fatalf("custom step promote outputs %v: want changed true, attempts 1, branch main", customPromote)
	}
	if targets, _ := customPromote["targets"].([]any); len(targets) != 2 {
		t.Fatalf("targets %#v, want the two edits as a list", customPromote["targets"])
	}
}

// typesOf lists each output key with its JSON type.
func typesOf(m map[string]any) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s:%T", k, v))
	}
	sort.Strings(out)
	return out
}
