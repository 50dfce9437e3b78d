package main

// legacy-merge: the legacy gitflow gate's writer, for the workflow that
// runs on merges into the legacy branches (staging, test, levelbuilder,
// production).

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/relpath"
	"github.com/argo-refs/argo-refs/warehouse"
)

type legacyMergeFlags struct {
	gitopsFlags
	dir, env, revision, mergedAt string
}

func legacyMergeCmd() *command {
	f := &legacyMergeFlags{}
	return &command{
		name:    "legacy-merge",
		summary: "Record that a release was merged into a legacy gitflow branch (merged/git-<sha>.yaml and current.yaml, one commit), for the legacy gitflow gate.",
		usage:   "--repo URL --env ENV --revision SHA [--merged-at TIME] [flags]",
		long: "Writes <dir>/<env>/merged/git-<sha>.yaml and <dir>/<env>/current.yaml (revision, tag, mergedAt).\n" +
			"A re-run of the same merge changes nothing; current.yaml never moves back to an older merge.\n" +
			"These files are gate metadata, never Freight: the Warehouse must not watch them.",
		example: "GITHUB_TOKEN=... argo-refs legacy-merge --repo https://github.com/code-dot-org/k8s-gitops.git --env test " +
			"--revision $GITHUB_SHA --merged-at 2026-03-22T12:34:56Z",
		setup: func(fs *pflag.FlagSet) {
			f.register(fs, "the release and the branch")
			fs.StringVar(&f.dir, "dir", warehouse.DefaultLegacyGitflowDir, "directory of the merge records in the repository")
			fs.StringVar(&f.env, "env", "", "legacy branch the release was merged into: "+strings.Join(warehouse.LegacyEnvs, ", "))
			fs.StringVar(&f.revision, "revision", "", "the merged source commit (40 lowercase hex)")
			fs.StringVar(&f.mergedAt, "merged-at", "", "when it was merged, RFC 3339 (default: now; give the merge commit's time so a re-run writes the same bytes)")
		},
		run: func(ctx context.Context, io stdio, _ *pflag.FlagSet, args []string) error {
			return runLegacyMerge(ctx, io, f, args)
		},
	}
}

func runLegacyMerge(ctx context.Context, io stdio, f *legacyMergeFlags, args []string) error {
	if len(args) > 0 {
		return usageError("unexpected arguments %q", args)
	}
	if err := f.checkOutput(); err != nil {
		return err
	}
	if f.repo == "" || f.env == "" || f.revision == "" {
		return usageError("--repo, --env and --revision are required")
	}
	if err := warehouse.CheckLegacyEnv(f.env); err != nil {
		return usageError("--env: %v", err)
	}
	if err := relpath.Check(f.dir); err != nil {
		return usageError("--dir: %v", err)
	}
	at, err := parseEventTime("merged-at", f.mergedAt)
	if err != nil {
		return err
	}
	m, err := warehouse.NewLegacyMerge(f.revision, at)
	if err != nil {
		return usageError("%v", err)
	}
	signer, err := f.signer(io.getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	remote, err := f.open(ctx, io)
	if err != nil {
		return publishExit(err)
	}
	res, err := warehouse.PublishLegacyMerge(ctx, remote, m, warehouse.LegacyPublishOptions{
		Dir: f.dir, Env: f.env, Branch: f.branch, Message: f.message, Author: f.author(), Signer: signer,
	})
	if err != nil {
		return publishExit(err)
	}
	if f.output == "json" {
		enc := json.NewEncoder(io.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	where := fmt.Sprintf("%s (%s)", netpolicy.RedactURL(f.repo), f.branch)
	switch res.Outcome {
	case warehouse.OutcomeUnchanged:
		fmt.Fprintf(io.stdout, "%s is already recorded as merged into %s in %s (at %s); nothing to do\n", res.Tag, f.env, where, res.MergedAt.Format("2006-01-02T15:04:05Z"))
	case warehouse.OutcomeHistoricalOnly:
		fmt.Fprintf(io.stdout, "recorded %s merged into %s in %s; current.yaml kept at the later merge %s\n", res.Tag, f.env, where, res.CurrentHolds)
	default:
		fmt.Fprintf(io.stdout, "recorded %s merged into %s in %s\n", res.Tag, f.env, where)
	}
	fmt.Fprintf(io.stdout, "  merged:   %s\n  current:  %s (holds %s)\n  commit:   %s (%d attempt(s))\n", res.MergedPath, res.CurrentPath, res.CurrentHolds, res.Commit, res.Attempts)
	return nil
}
