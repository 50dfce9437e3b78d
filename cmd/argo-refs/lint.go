package main

// lint: the GitOps repository's contract checks, for its own CI (the
// plan's k8s.yml), over a checkout or a remote branch.

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/internal/repolint"
	"github.com/argo-refs/argo-refs/warehouse"
)

type lintFlags struct {
	gitopsFlags
	checkout, app, layout, sourcePath string
}

func lintCmd() *command {
	f := &lintFlags{}
	return &command{
		name:    "lint",
		summary: "Check a GitOps repository against the plan's contract (records and twins, packaging, deployments, ApplicationSet, envTypes, deploy wrappers); list every violation with file and line.",
		usage:   "--layout helm|kustomize (--checkout DIR | --repo URL [--branch BRANCH]) [flags]",
		long:    "Exits 1 when it finds a violation, so a pull request check fails on it.",
		example: "argo-refs lint --checkout . --layout helm --app codeai",
		setup: func(fs *pflag.FlagSet) {
			f.register(fs, "nothing (lint writes nothing)")
			fs.StringVar(&f.checkout, "checkout", "", "a checkout of the GitOps repository to check instead of --repo")
			fs.StringVar(&f.app, "app", "codeai", "the application: apps/<app>/ and warehouses/<app>/")
			fs.StringVar(&f.layout, "layout", "", "helm or kustomize: which variant of the plan the repository follows")
			fs.StringVar(&f.sourcePath, "source-path", "", "the packaging.sourcePath records may name (default k8s/helm, or k8s/kustomize and paths under it)")
		},
		run: func(ctx context.Context, io stdio, _ *pflag.FlagSet, args []string) error {
			return runLint(ctx, io, f, args)
		},
	}
}

func runLint(ctx context.Context, io stdio, f *lintFlags, args []string) error {
	if len(args) > 0 {
		return usageError("unexpected arguments %q", args)
	}
	if err := f.checkOutput(); err != nil {
		return err
	}
	if (f.checkout == "") == (f.repo == "") {
		return usageError("give exactly one of --checkout DIR or --repo URL")
	}
	if f.layout != warehouse.PackagingHelm && f.layout != warehouse.PackagingKustomize {
		return usageError("--layout is %q, want helm or kustomize", f.layout)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	var tree repolint.Tree = repolint.DirTree{Root: f.checkout}
	where := f.checkout
	if f.repo != "" {
		remote, err := f.open(ctx, io)
		if err != nil {
			return publishExit(err)
		}
		tip, err := remote.Tip(ctx, f.branch)
		if err != nil {
			return publishExit(err)
		}
		tree = repolint.RemoteTree{Remote: remote, Commit: tip}
		where = fmt.Sprintf("%s at %s (%s)", remote.URL(), f.branch, tip.String()[:7])
	}
	vs, err := repolint.Lint(ctx, tree, repolint.Options{App: f.app, Layout: f.layout, SourcePath: f.sourcePath})
	if err != nil {
		return publishExit(err)
	}
	if f.output == "json" {
		enc := json.NewEncoder(io.stdout)
		enc.SetIndent("", "  ")
		if vs == nil {
			vs = []repolint.Violation{}
		}
		if err := enc.Encode(struct {
			Violations []repolint.Violation `json:"violations"`
		}{vs}); err != nil {
			return err
		}
	} else {
		for _, v := range vs {
			fmt.Fprintln(io.stdout, v)
		}
	}
	if len(vs) > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("%d violation(s) of the %s layout's contract in %s", len(vs), f.layout, where)}
	}
	if f.output == "text" {
		fmt.Fprintf(io.stdout, "%s follows the %s layout's contract\n", where, f.layout)
	}
	return nil
}
