package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/customstep"
	"github.com/argo-refs/argo-refs/step/kargo"
)

// promoteCmd runs the promotion step once, as a Kargo custom step or by hand.
func promoteCmd() *command {
	return stepCommand(step.KindPromote, stepCommandText{
		name:    "promote",
		summary: "Verify a Freight's build-lock, then move the stage's targets to it in one commit and push (a Kargo custom step, or by hand).",
		example: "argo-refs promote --config stage.yaml --stage production --gitops-commit 1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d --dry-run",
	})
}

// stepCommandText is what differs between the step commands.
type stepCommandText struct {
	name, summary, example string
	// reviewOnly makes the command a dry run with a render that prints
	// only the review (argo-refs diff).
	reviewOnly bool
}

// stepFlags are the flags the step commands share.
type stepFlags struct {
	config, project, stage, promotion, actor, alias, workDir string
	gitopsCommit, freight, warehouse, output                 string
	kargoOutput                                              string
	dryRun, verbose, render                                  bool
	// reviewOnly prints only the rendered review (argo-refs diff).
	reviewOnly bool
	// policy is verify's image policy flags.
	policy imagePolicyFlags
}

// Environment variables the step commands read when a flag is not given.
const (
	envConfig    = "ARGO_REFS_CONFIG"
	envProject   = "ARGO_REFS_PROJECT"
	envStage     = "ARGO_REFS_STAGE"
	envPromotion = "ARGO_REFS_PROMOTION"
	envActor     = "ARGO_REFS_PROMOTION_ACTOR"
)

// defaultWarehouse names the Freight origin --gitops-commit makes up when
// the config names no warehouse.
const defaultWarehouse = "argo-refs"

func stepCommand(kind step.Kind, text stepCommandText) *command {
	var f stepFlags
	withDryRun := kind == step.KindPromote && !text.reviewOnly
	outputs := "text or json"
	if text.reviewOnly {
		f.dryRun, f.render, f.reviewOnly = true, true, true
		outputs = "text, json or markdown"
	}
	return &command{
		name:    text.name,
		summary: text.summary,
		usage:   "[--config FILE] [--stage NAME] [--gitops-commit SHA | --freight FILE] [flags]",
		example: text.example,
		setup: func(fs *pflag.FlagSet) {
			fs.StringVar(&f.config, "config", "", "step config `FILE`, YAML or JSON, as a Stage's step config (env "+envConfig+" holds it inline instead)")
			fs.StringVar(&f.project, "project", "", "Kargo project (env "+envProject+")")
			fs.StringVar(&f.stage, "stage", "", "stage being promoted (env "+envStage+")")
			fs.StringVar(&f.promotion, "promotion", "", "Promotion name, for messages (env "+envPromotion+")")
			fs.StringVar(&f.actor, "actor", "", "who created the Promotion (Kargo's ctx.meta.promotion.actor), for the commit's Promoted-By trailer (env "+envActor+")")
			fs.StringVar(&f.alias, "alias", "", "step alias, for messages")
			fs.StringVar(&f.workDir, "work-dir", "", "scratch `DIR` the step may use (default: the current directory)")
			fs.StringVar(&f.gitopsCommit, "gitops-commit", "", "the GitOps repo commit `SHA` holding the release; becomes the Freight (repoURL from the config)")
			fs.StringVar(&f.freight, "freight", "", "Kargo FreightCollection JSON `FILE` (instead of --gitops-commit)")
			fs.StringVar(&f.warehouse, "warehouse", "", "Warehouse `NAME` of the Freight --gitops-commit makes (default: the config's warehouse, else \""+defaultWarehouse+"\")")
			fs.StringVarP(&f.output, "output", "o", "text", "stdout format: "+outputs+" (outputs also go to $"+customstep.OutputEnv+" when set)")
			fs.StringVar(&f.kargoOutput, "kargo-output", customstep.FormatKeyValue, "format of $"+customstep.OutputEnv+": keyvalue, or json for a CustomPromotionStep whose output.source.format is JSON (typed outputs, as in the StepPlugin runtime)")
			fs.BoolVarP(&f.verbose, "verbose", "v", false, "log the step's progress to stderr")
			if kind == step.KindVerify {
				f.policy.register(fs)
			}
			if withDryRun {
				fs.BoolVar(&f.dryRun, "dry-run", false, "verify and compute the edits, print the diff, push nothing")
				fs.BoolVar(&f.render, "render", false, "render the stage's manifests at its current and new refs and print the review (needs argo-refs-render; the config's render section does it too)")
			}
		},
		run: func(ctx context.Context, io stdio, fs *pflag.FlagSet, args []string) error {
			return runStepCommand(ctx, kind, io, fs, args, f)
		},
	}
}

func runStepCommand(ctx context.Context, kind step.Kind, io stdio, fs *pflag.FlagSet, args []string, f stepFlags) error {
	if len(args) > 0 {
		return usageError("unexpected argument %q; every input is a flag", args[0])
	}
	if f.output != "text" && f.output != "json" && (!f.reviewOnly || f.output != "markdown") {
		if f.reviewOnly {
			return usageError("--output %q: expected text, json or markdown", f.output)
		}
		return usageError("--output %q: expected text or json", f.output)
	}
	if f.kargoOutput != customstep.FormatKeyValue && f.kargoOutput != customstep.FormatJSON {
		return usageError("--kargo-output is %q, want keyvalue or json", f.kargoOutput)
	}
	getenv := io.getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	set := setFlags(fs)
	orEnv := func(name, val, env string) string {
		if set[name] {
			return val
		}
		return getenv(env)
	}

	config, err := loadConfig(f.config, set["config"], getenv(envConfig))
	if err != nil {
		return err
	}
	if config, err = f.policy.withImagePolicy(config); err != nil {
		return err
	}
	freight, err := loadFreight(f, config)
	if err != nil {
		return err
	}
	workDir := f.workDir
	if workDir == "" {
		workDir = "."
	}
	if workDir, err = filepath.Abs(workDir); err != nil {
		return usageError("--work-dir %q: %w", f.workDir, err)
	}
	sc := step.Context{
		Project:        orEnv("project", f.project, envProject),
		Stage:          orEnv("stage", f.stage, envStage),
		Promotion:      orEnv("promotion", f.promotion, envPromotion),
		PromotionActor: orEnv("actor", f.actor, envActor),
		Alias:          f.alias,
		WorkDir:        workDir,
		Freight:        freight,
	}
	logger := slog.New(slog.DiscardHandler)
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(io.stderr, nil))
	}

	res := io.stepRunner()(ctx, kind, sc, config, step.Options{Getenv: getenv, Logger: logger, DryRun: f.dryRun, Render: f.render})

	if path := getenv(customstep.OutputEnv); path != "" {
		if err := customstep.WriteFileAs(path, res.Output, f.kargoOutput); err != nil {
			code := customstep.ExitCode(res)
			switch {
			case code != exitOK:
				// The step's own outcome says more.
				fmt.Fprintf(io.stderr, "argo-refs: also: %v\n", err)
				return &exitError{code: code, err: resultError(res)}
			case errors.Is(err, customstep.ErrOutputTooLarge):
				// A re-run would produce the same outputs.
				return &exitError{code: exitFailed, err: err}
			default:
				// The step did its work; a re-run finds it done
				// (changed=false) and writes the outputs again.
				return &exitError{code: exitTransient, err: fmt.Errorf("the step succeeded, but %w; running it again is safe", err)}
			}
		}
	}
	print := printResult
	if f.reviewOnly {
		print = printReview
	}
	if err := print(io.stdout, f.output, res); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	code := customstep.ExitCode(res)
	if code == exitOK {
		return nil
	}
	return &exitError{code: code, err: resultError(res)}
}

// setFlags lists the flags given on the command line.
func setFlags(fs *pflag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(fl *pflag.Flag) { set[fl.Name] = true })
	return set
}

// loadConfig reads the step config from a file, or else from the inline
// value of ARGO_REFS_CONFIG, and turns YAML into JSON. Errors never quote
// the config: it may hold credentials.
func loadConfig(path string, fromFlag bool, inline string) ([]byte, error) {
	var raw []byte
	source := envConfig
	switch {
	case fromFlag:
		if path == "" {
			return nil, usageError("--config: expected a file name, found an empty value")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usageError("reading config file: %w", err)
		}
		raw, source = b, path
	case strings.TrimSpace(inline) != "":
		raw = []byte(inline)
	default:
		return nil, usageError("no step config: give --config FILE or set %s", envConfig)
	}
	j, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, usageError("parsing config %s as YAML or JSON: %w", source, err)
	}
	if trimmed := strings.TrimSpace(string(j)); trimmed == "null" || !strings.HasPrefix(trimmed, "{") {
		return nil, usageError("config %s: expected a mapping of settings, found %s", source, describeJSON(trimmed))
	}
	return j, nil
}

func describeJSON(s string) string {
	switch {
	case s == "null":
		return "nothing"
	case strings.HasPrefix(s, "["):
		return "a list"
	default:
		return "a single value"
	}
}

// configHints is the little of the step config the command needs to build
// a Freight from --gitops-commit; the step validates the rest.
type configHints struct {
	RepoURL   string `json:"repoURL"`
	Warehouse string `json:"warehouse"`
}

func loadFreight(f stepFlags, config []byte) (kargo.FreightCollection, error) {
	var fc kargo.FreightCollection
	switch {
	case f.gitopsCommit != "" && f.freight != "":
		return fc, usageError("--gitops-commit and --freight both name the Freight; give one")
	case f.freight != "":
		b, err := os.ReadFile(f.freight)
		if err != nil {
			return fc, usageError("reading Freight file: %w", err)
		}
		j, err := yaml.YAMLToJSON(b)
		if err == nil {
			err = json.Unmarshal(j, &fc)
		}
		if err != nil {
			return fc, usageError("parsing Freight file %s as a FreightCollection: %w", f.freight, err)
		}
		if len(fc.Items) == 0 {
			return fc, usageError("Freight file %s: expected a FreightCollection with items, found none", f.freight)
		}
		return fc, nil
	case f.gitopsCommit != "":
		if !isFullSHA(f.gitopsCommit) {
			return fc, usageError("--gitops-commit %q: expected a full commit SHA (40 or 64 hex digits)", f.gitopsCommit)
		}
		var hints configHints
		if err := json.Unmarshal(config, &hints); err != nil || hints.RepoURL == "" {
			return fc, usageError("--gitops-commit needs the GitOps repo: the config has no repoURL string")
		}
		warehouse := f.warehouse
		if warehouse == "" {
			warehouse = hints.Warehouse
		}
		if warehouse == "" {
			warehouse = defaultWarehouse
		}
		origin := kargo.FreightOrigin{Kind: "Warehouse", Name: warehouse}
		fc = kargo.FreightCollection{
			ID: f.gitopsCommit,
			Items: map[string]kargo.FreightReference{
				origin.Kind + "/" + origin.Name: {
					Name:    f.gitopsCommit,
					Origin:  origin,
					Commits: []kargo.GitCommit{{RepoURL: hints.RepoURL, ID: strings.ToLower(f.gitopsCommit)}},
				},
			},
		}
		return fc, nil
	}
	return fc, nil
}

func isFullSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// jsonResult is what --output json prints.
type jsonResult struct {
	Status   kargo.StepStatus `json:"status"`
	Message  string           `json:"message"`
	Output   map[string]any   `json:"output"`
	Terminal bool             `json:"terminal,omitempty"`
	Error    string           `json:"error,omitempty"`
	Diff     string           `json:"diff,omitempty"`
	Review   string           `json:"review,omitempty"`
}

func printResult(w io.Writer, format string, res step.Result) error {
	if format == "json" {
		out := jsonResult{Status: res.Status, Message: res.Message, Output: res.Output, Terminal: res.Terminal, Diff: res.Diff, Review: res.Review}
		if out.Output == nil {
			out.Output = map[string]any{}
		}
		if res.Err != nil {
			out.Error = res.Err.Error()
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("printing the result as JSON: %w", err)
		}
		return nil
	}
	if customstep.ExitCode(res) != exitOK {
		// The failure line goes to stderr; stdout keeps only outputs a
		// later step might still use.
		if len(res.Output) == 0 {
			return nil
		}
	} else if res.Message != "" {
		fmt.Fprintln(w, oneLine(res.Message))
	}
	b, err := customstep.Format(res.Output)
	if err != nil {
		return fmt.Errorf("printing outputs: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("printing outputs: %w", err)
	}
	if res.Diff != "" {
		fmt.Fprint(w, res.Diff)
		if !strings.HasSuffix(res.Diff, "\n") {
			fmt.Fprintln(w)
		}
	}
	if res.Review != "" {
		fmt.Fprintln(w, "\nRendered review:")
		fmt.Fprint(w, res.Review)
	}
	return nil
}

// derivedFrom reports whether a step's one-line message was made from err
// (spaces collapsed, perhaps cut short with "…", perhaps after a prefix such
// as "timed out: "), so that err adds nothing to it.
func derivedFrom(msg string, err error) bool {
	full := strings.Join(strings.Fields(err.Error()), " ")
	short := strings.TrimSuffix(msg, "…")
	if i := strings.Index(short, ": "); i >= 0 && !strings.HasPrefix(full, short) && strings.HasPrefix(full, short[i+2:]) {
		short = short[i+2:]
	}
	return short != "" && (strings.HasPrefix(full, short) || strings.Contains(short, full))
}

// resultError is the one line a failed step leaves on stderr.
func resultError(res step.Result) error {
	msg := res.Message
	if res.Err != nil && !derivedFrom(msg, res.Err) {
		if msg == "" {
			msg = res.Err.Error()
		} else {
			msg += ": " + res.Err.Error()
		}
	}
	if msg == "" {
		msg = "the step ended without a message"
	}
	status := res.Status
	if status == "" {
		status = "no status"
	}
	return fmt.Errorf("%s: %s", status, msg)
}
