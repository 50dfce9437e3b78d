package main

import (
	"context"
	"errors"
	"flag"
)

// serveCmd is a placeholder until the command lands.
func serveCmd() *command {
	return &command{
		name:    "serve",
		summary: "(not yet implemented)",
		example: "argo-refs serve --help",
		run: func(context.Context, stdio, *flag.FlagSet, []string) error {
			return errors.New("not yet implemented")
		},
	}
}
