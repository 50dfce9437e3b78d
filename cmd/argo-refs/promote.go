package main

import (
	"context"
	"errors"
	"flag"
)

// promoteCmd is a placeholder until the command lands.
func promoteCmd() *command {
	return &command{
		name:    "promote",
		summary: "(not yet implemented)",
		example: "argo-refs promote --help",
		run: func(context.Context, stdio, *flag.FlagSet, []string) error {
			return errors.New("not yet implemented")
		},
	}
}
