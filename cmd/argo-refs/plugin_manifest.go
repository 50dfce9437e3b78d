package main

import (
	"context"
	"errors"
	"flag"
)

// pluginManifestCmd is a placeholder until the command lands.
func pluginManifestCmd() *command {
	return &command{
		name:    "plugin-manifest",
		summary: "(not yet implemented)",
		example: "argo-refs plugin-manifest --help",
		run: func(context.Context, stdio, *flag.FlagSet, []string) error {
			return errors.New("not yet implemented")
		},
	}
}
