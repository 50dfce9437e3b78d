package main

import (
	"context"
	"errors"
	"flag"
)

// imagesCmd is a placeholder until the command lands.
func imagesCmd() *command {
	return &command{
		name:    "images",
		summary: "(not yet implemented)",
		example: "argo-refs images --help",
		run: func(context.Context, stdio, *flag.FlagSet, []string) error {
			return errors.New("not yet implemented")
		},
	}
}
