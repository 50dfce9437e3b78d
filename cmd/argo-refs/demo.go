package main

import (
	"context"
	"errors"
	"flag"
)

// demoCmd is a placeholder until the command lands.
func demoCmd() *command {
	return &command{
		name:    "demo",
		summary: "(not yet implemented)",
		example: "argo-refs demo --help",
		run: func(context.Context, stdio, *flag.FlagSet, []string) error {
			return errors.New("not yet implemented")
		},
	}
}
