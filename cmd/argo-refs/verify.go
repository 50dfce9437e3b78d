package main

import (
	"context"
	"errors"
	"flag"
)

// verifyCmd is a placeholder until the command lands.
func verifyCmd() *command {
	return &command{
		name:    "verify",
		summary: "(not yet implemented)",
		example: "argo-refs verify --help",
		run: func(context.Context, stdio, *flag.FlagSet, []string) error {
			return errors.New("not yet implemented")
		},
	}
}
