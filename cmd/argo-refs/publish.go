package main

import (
	"context"
	"errors"
	"flag"
)

// publishCmd is a placeholder until the command lands.
func publishCmd() *command {
	return &command{
		name:    "publish",
		summary: "(not yet implemented)",
		example: "argo-refs publish --help",
		run: func(context.Context, stdio, *flag.FlagSet, []string) error {
			return errors.New("not yet implemented")
		},
	}
}
