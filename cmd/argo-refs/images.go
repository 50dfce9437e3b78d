package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/argo-refs/argo-refs/images"
)

// imagesFlags are the flags of `argo-refs images`, accepted before or after
// the sub-command's arguments.
type imagesFlags struct {
	output   string
	insecure []string
	timeout  time.Duration
	verbose  bool
	retries  int
}

// imagesCmd asks a registry what a tag points at, for a person debugging a
// promotion.
func imagesCmd() *command {
	var f imagesFlags
	return &command{
		name:    "images",
		summary: "Resolve an image tag to its digest, or verify it still points at a recorded digest.",
		usage: "resolve REF [flags]\n       argo-refs images verify REF DIGEST [flags]\n\n" +
			"Exit status of verify: 0 the tag resolves to DIGEST; 1 it moved, is gone or access is refused;\n" +
			"3 the registry could not be asked (retry later); 2 bad usage.\n" +
			"Credentials: " + images.EnvUsername + "/" + images.EnvPassword + ", else the Docker config.json\n" +
			"($DOCKER_CONFIG or ~/.docker) and its credential helpers, else anonymous.",
		example: "argo-refs images verify ghcr.io/org/app:git-0123abc sha256:<64 hex> --output json",
		setup: func(fs *flag.FlagSet) {
			fs.StringVar(&f.output, "output", "text", "output format: text or json")
			fs.Func("insecure-host", "registry host[:port] to reach over plain http (repeatable); loopback hosts always may", func(s string) error {
				f.insecure = append(f.insecure, s)
				return nil
			})
			fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this long, retries included")
			fs.IntVar(&f.retries, "retries", 4, "retries of 429, 5xx and connection errors")
			fs.BoolVar(&f.verbose, "v", false, "log retries and token exchanges to stderr")
		},
		run: func(ctx context.Context, io stdio, fs *flag.FlagSet, args []string) error {
			args, err := interspersed(fs, args)
			if err != nil {
				return usageError("%v", err)
			}
			if f.output != "text" && f.output != "json" {
				return usageError("--output is %q, want text or json", f.output)
			}
			if f.timeout <= 0 {
				return usageError("--timeout is %s, want a positive duration", f.timeout)
			}
			if len(args) == 0 {
				return usageError("missing sub-command, want resolve REF or verify REF DIGEST")
			}
			if f.retries < 0 {
				return usageError("--retries is %d, want 0 or more", f.retries)
			}
			opts := images.Options{Getenv: io.getenv, InsecureHosts: f.insecure, RetryMax: f.retries}
			if f.retries == 0 {
				opts.RetryMax = -1 // images.Options: 0 means the default
			}
			if f.verbose {
				opts.Logger = slog.New(slog.NewTextHandler(io.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			client, err := images.New(opts)
			if err != nil {
				return usageError("%v", err)
			}
			ctx, cancel := context.WithTimeout(ctx, f.timeout)
			defer cancel()
			switch sub, rest := args[0], args[1:]; sub {
			case "resolve":
				if len(rest) != 1 {
					return usageError("resolve takes one argument REF, got %d", len(rest))
				}
				return imagesResolve(ctx, io.stdout, client, rest[0], f.output)
			case "verify":
				if len(rest) != 2 {
					return usageError("verify takes two arguments REF DIGEST, got %d", len(rest))
				}
				return imagesVerify(ctx, io.stdout, client, rest[0], rest[1], f.output)
			default:
				return usageError("unknown sub-command %q, want resolve or verify", sub)
			}
		},
	}
}

// interspersed parses flags that follow positional arguments too, so that
// `images verify REF DIGEST --output json` works.
func interspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// imageResult is the JSON shape of both sub-commands.
type imageResult struct {
	Ref       string `json:"ref"`
	Result    string `json:"result"`
	Want      string `json:"want,omitempty"`
	Digest    string `json:"digest,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Message   string `json:"message,omitempty"`
}

// Results reported by `images`.
const (
	resultResolved     = "resolved"
	resultMatch        = "match"
	resultMoved        = "moved"
	resultNotFound     = "not-found"
	resultUnauthorized = "unauthorized"
	resultUnavailable  = "unavailable"
	resultInvalid      = "invalid"
)

// classifyImageErr maps an images error to a result and an exit code.
func classifyImageErr(err error) (string, int) {
	switch {
	case errors.Is(err, images.ErrInvalidReference):
		return resultInvalid, exitUsage
	case errors.Is(err, images.ErrTagMoved):
		return resultMoved, exitFailed
	case errors.Is(err, images.ErrNotFound):
		return resultNotFound, exitFailed
	case errors.Is(err, images.ErrUnauthorized):
		return resultUnauthorized, exitFailed
	default:
		return resultUnavailable, exitTransient
	}
}

func imagesResolve(ctx context.Context, w io.Writer, c *images.Client, ref, output string) error {
	d, err := c.Resolve(ctx, ref)
	res := imageResult{Ref: ref, Result: resultResolved, Digest: d.Digest, MediaType: d.MediaType, Size: d.Size}
	if err != nil {
		return imagesFail(w, res, err, output)
	}
	if output == "json" {
		return writeImageJSON(w, res)
	}
	_, err = fmt.Fprintf(w, "%s resolves to %s (%s, %d bytes)\n", ref, d.Digest, d.MediaType, d.Size)
	return err
}

func imagesVerify(ctx context.Context, w io.Writer, c *images.Client, ref, want, output string) error {
	v, err := c.Verify(ctx, ref, want)
	res := imageResult{Ref: ref, Result: resultMatch, Want: want, Digest: v.Got}
	if err != nil {
		return imagesFail(w, res, err, output)
	}
	if output == "json" {
		return writeImageJSON(w, res)
	}
	_, err = fmt.Fprintf(w, "match: %s resolves to %s\n", ref, v.Got)
	return err
}

// imagesFail reports err on w in the chosen format and returns it with its
// exit code; main prints the error itself on stderr.
func imagesFail(w io.Writer, res imageResult, err error, output string) error {
	result, code := classifyImageErr(err)
	res.Result, res.Message = result, err.Error()
	if code == exitUsage {
		return usageError("%w", err)
	}
	if output == "json" {
		if werr := writeImageJSON(w, res); werr != nil {
			return werr
		}
	} else {
		line := result + ": " + res.Ref
		if res.Want != "" {
			line += " (recorded " + res.Want + ")"
		}
		if res.Digest != "" {
			line += " now resolves to " + res.Digest
		}
		fmt.Fprintln(w, line)
	}
	return &exitError{code: code, err: err}
}

func writeImageJSON(w io.Writer, res imageResult) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
