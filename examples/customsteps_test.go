package examples_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/step"
)

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
	if str(spec, "output", "source", "type") != "Pipe" || str(spec, "output", "source", "format") != "JSON" {
		t.Errorf("%s: output must be the KARGO_OUTPUT file (Pipe) in JSON format, which argo-refs writes with --kargo-output=json", d)
	}
	if !slices.Contains(list(spec, "command"), any("--kargo-output=json")) {
		t.Errorf("%s: the command must pass --kargo-output=json, the format output.source declares", d)
	}
	if caps := list(spec, "capabilities"); len(caps) != 0 {
		t.Errorf("%s: capabilities = %v; argo-refs needs no access to Kubernetes", d, caps)
	}
}

// promotionActor is ctx.meta.promotion.actor in the examples' Promotions.
const promotionActor = "admin@code.org"

// checkCustomStepRun evaluates the CustomPromotionStep's templates for one
// Stage step and validates the config the command receives.
func checkCustomStepRun(t *testing.T, d doc, cp doc, s evaluatedStep) {
	// What an Akuity custom step's templates see: the Stage's context, the
	// step's alias, and its config.
	env := &stageEnv{
		stage: d.name(), project: str(d.obj, "metadata", "namespace"),
		ctxExtra: map[string]any{"meta": map[string]any{
			"step":      map[string]any{"alias": s.as},
			"promotion": map[string]any{"actor": promotionActor, "rollback": false},
		}},
		extra: map[string]any{"config": s.config},
	}
	var args []string
	for i, a := range list(cp.obj, "spec", "command") {
		v, err := env.evalString(a.(string))
		if err != nil {
			t.Errorf("%s: command[%d]: %v", cp, i, err)
			continue
		}
		args = append(args, fmt.Sprint(v))
	}
	wants := []string{"--stage=" + d.name(), "--project=" + str(d.obj, "metadata", "namespace"), "--gitops-commit=" + freightCommit}
	if args[1] == "promote" {
		// The commit's Promoted-By trailer names the Promotion's creator.
		wants = append(wants, "--actor="+promotionActor)
	}
	for _, want := range wants {
		if !slices.Contains(args, want) {
			t.Errorf("%s run by %s: command %v lacks %s", cp, d, args, want)
		}
	}
	var config string
	for i, e := range list(cp.obj, "spec", "env") {
		v, err := env.evalString(str(e, "value"))
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
