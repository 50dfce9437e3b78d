package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/internal/demo"
)

func demoCmd() *command {
	var keep string
	return &command{
		name:    "demo",
		summary: "Run the whole flow on local, in-process parts: publish a build-lock, promote staging and production, refuse a moved tag.",
		usage:   "[--keep DIR]",
		example: "argo-refs demo --keep /tmp/argo-refs-demo",
		setup: func(fs *pflag.FlagSet) {
			fs.StringVar(&keep, "keep", "", "leave the Git repositories in this directory for inspection")
		},
		run: func(ctx context.Context, io stdio, _ *pflag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usageError("unexpected arguments %q", args)
			}
			return demo.Run(ctx, demo.Options{Dir: keep, Out: io.stdout})
		},
	}
}
