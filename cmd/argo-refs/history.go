package main

// history: the promotions recorded in a GitOps branch's commit trailers,
// per stage, read without a checkout.

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/step/history"
)

type historyFlags struct {
	gitopsFlags
	stage string
	limit int
}

func historyCmd() *command {
	f := &historyFlags{}
	return &command{
		name:    "history",
		summary: "List the promotions recorded in a GitOps branch (the trailers of argo-refs's commits): per stage, when, by whom, from which source commit to which, with the image digest.",
		usage:   "--repo URL [--branch BRANCH] [--stage STAGE] [--limit N] [flags]",
		long:    "Reads commits only (filter tree:0 where the host allows partial fetches), no checkout.",
		example: "GITHUB_TOKEN=... argo-refs history --repo https://github.com/org/k8s-gitops.git --stage production",
		setup: func(fs *pflag.FlagSet) {
			f.register(fs, "nothing (history writes nothing)")
			fs.StringVar(&f.stage, "stage", "", "show only this stage")
			fs.IntVar(&f.limit, "limit", 1000, "read at most `N` commits back from the branch tip")
		},
		run: func(ctx context.Context, io stdio, _ *pflag.FlagSet, args []string) error {
			return runHistory(ctx, io, f, args)
		},
	}
}

func runHistory(ctx context.Context, io stdio, f *historyFlags, args []string) error {
	if len(args) > 0 {
		return usageError("unexpected arguments %q", args)
	}
	if err := f.checkOutput(); err != nil {
		return err
	}
	if f.repo == "" {
		return usageError("--repo is required")
	}
	if f.limit <= 0 {
		return usageError("--limit is %d, want a positive number of commits", f.limit)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	remote, err := f.open(ctx, io)
	if err != nil {
		return publishExit(err)
	}
	stages, err := history.Read(ctx, remote, f.branch, f.stage, f.limit)
	if err != nil {
		return publishExit(err)
	}
	if f.output == "json" {
		enc := json.NewEncoder(io.stdout)
		enc.SetIndent("", "  ")
		if stages == nil {
			stages = []history.Stage{}
		}
		return enc.Encode(struct {
			Stages []history.Stage `json:"stages"`
		}{stages})
	}
	if len(stages) == 0 {
		what := "no promotions"
		if f.stage != "" {
			what = "no promotions of " + f.stage
		}
		fmt.Fprintf(io.stdout, "%s in the last %d commits of %s\n", what, f.limit, f.branch)
		return nil
	}
	for i, s := range stages {
		if i > 0 {
			fmt.Fprintln(io.stdout)
		}
		fmt.Fprintln(io.stdout, s.Name)
		for _, p := range s.Promotions {
			fmt.Fprintln(io.stdout, "  "+p.String())
		}
	}
	return nil
}
