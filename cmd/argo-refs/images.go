package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/images"
)

// imagesFlags are the flags of `argo-refs images`, accepted before or after
// the sub-command's arguments.
type imagesFlags struct {
	output   string
	insecure []string
	timeout  time.Duration
	verbose  bool
	// oldInsecure: --insecure-host was given.
	oldInsecure bool
	retries     int
}

// imagesCmd asks a registry what a tag points at, for a person debugging a
// promotion.
func imagesCmd() *command {
	var f imagesFlags
	return &command{
		name:    "images",
		summary: "Resolve an image tag to its digest, or verify it still points at a recorded digest.",
		usage:   "(resolve REF | verify REF DIGEST)",
		long: "verify exits 0 when the tag resolves to DIGEST; 1 when it moved, is gone or access is refused;\n" +
			"3 when the registry could not be asked (retry later).\n" +
			"Credentials: " + images.EnvUsername + "/" + images.EnvPassword + ", else the Docker config.json\n" +
			"($DOCKER_CONFIG or ~/.docker) and its credential helpers, else anonymous.",
		example: "argo-refs images verify ghcr.io/org/app:git-0123abc sha256:<64 hex> --output json",
		setup: func(fs *pflag.FlagSet) {
			fs.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
			fs.StringSliceVar(&f.insecure, "insecure-http-hosts", nil, "registry `HOSTS` (host or host:port, comma-separated or repeated) to reach over plain http besides loopback")
			// The spelling before there was one per concept; run warns.
			fs.Func("insecure-host", "", func(s string) error {
				f.insecure = append(f.insecure, s)
				f.oldInsecure = true
				return nil
			})
			_ = fs.MarkHidden("insecure-host")
			fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this long, retries included")
			fs.IntVar(&f.retries, "retries", 4, "retries of 429, 5xx and connection errors")
			fs.BoolVarP(&f.verbose, "verbose", "v", false, "log retries and token exchanges to stderr")
		},
		run: func(ctx context.Context, io stdio, fs *pflag.FlagSet, args []string) error {
			if f.oldInsecure {
				fmt.Fprintln(io.stderr, "argo-refs images: --insecure-host is deprecated; use --insecure-http-hosts")
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
			// As publish does: the environment's registry credentials are
			// for REF's registry unless ARGO_REFS_REGISTRY_HOST says otherwise.
			getenv := io.getenv
			if len(args) > 1 {
				getenv = func(k string) string {
					v := io.getenv(k)
					if k == images.EnvRegistryHost && v == "" {
						if r, err := images.ParseReference(args[1]); err == nil {
							v = r.Context().RegistryStr()
						}
					}
					return v
				}
			}
			opts := images.Options{Getenv: getenv, InsecureHosts: f.insecure, RetryMax: f.retries}
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
