package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/step/plugin"
)

// Environment variables serve reads when a flag is not given.
const (
	envListen    = "ARGO_REFS_LISTEN"
	envTokenFile = "ARGO_REFS_TOKEN_FILE"
)

// serveCmd runs the kargo-extended StepPlugin sidecar.
func serveCmd() *command {
	var (
		listen, tokenFile string
		noAuth            bool
		maxBody           int64
		grace             time.Duration
		jobs              plugin.JobOptions
	)
	return &command{
		name:    "serve",
		summary: "Serve the promotion steps to kargo-extended as a StepPlugin sidecar (POST /api/v1/step.execute).",
		usage:   "[--listen ADDR] [--token-file FILE] [flags]",
		example: "argo-refs serve --listen :9765 --token-file /var/run/kargo/token",
		setup: func(fs *pflag.FlagSet) {
			fs.StringVar(&listen, "listen", plugin.DefaultListen, "`ADDR` to listen on (env "+envListen+")")
			fs.StringVar(&tokenFile, "token-file", plugin.DefaultTokenFile, "`FILE` holding the bearer token Kargo sends (env "+envTokenFile+"); re-read when it changes")
			fs.BoolVar(&noAuth, "insecure-no-auth", false, "start without a token file and accept requests without auth (local experiments only)")
			fs.Int64Var(&maxBody, "max-body-bytes", plugin.DefaultMaxBodyBytes, "largest request body accepted, in bytes")
			fs.DurationVar(&grace, "shutdown-grace", 25*time.Second, "how long in-flight steps may finish after SIGTERM")
			fs.DurationVar(&jobs.AnswerWithin, "answer-within", 20*time.Second, "answer a call whose step is still running after this long with Running and --retry-after, under kargo-extended's 30s client timeout; the step goes on and a repeated call joins it")
			fs.DurationVar(&jobs.RetryAfter, "retry-after", 2*time.Second, "how long a Running answer asks Kargo to wait before calling again")
			fs.DurationVar(&jobs.KeepResults, "keep-results", 15*time.Minute, "how long a finished step's answer is kept for a call that repeats it")
			fs.IntVar(&jobs.MaxRunning, "max-running", 32, "most steps running at once; a call for another is answered Running")
		},
		run: func(ctx context.Context, io stdio, fs *pflag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usageError("unexpected argument %q; every input is a flag", args[0])
			}
			if maxBody <= 0 {
				return usageError("--max-body-bytes %d: expected a positive number", maxBody)
			}
			for _, d := range []struct {
				flag string
				v    time.Duration
			}{{"shutdown-grace", grace}, {"answer-within", jobs.AnswerWithin}, {"retry-after", jobs.RetryAfter}, {"keep-results", jobs.KeepResults}} {
				if d.v <= 0 {
					return usageError("--%s %s: expected a positive duration", d.flag, d.v)
				}
			}
			if jobs.MaxRunning <= 0 {
				return usageError("--max-running %d: expected a positive number", jobs.MaxRunning)
			}
			getenv := io.getenv
			if getenv == nil {
				getenv = func(string) string { return "" }
			}
			set := setFlags(fs)
			if !set["listen"] && getenv(envListen) != "" {
				listen = getenv(envListen)
			}
			if !set["token-file"] && getenv(envTokenFile) != "" {
				tokenFile = getenv(envTokenFile)
			}
			log := slog.New(slog.NewJSONHandler(io.stderr, nil)).With(slog.String("version", version))

			opts := plugin.HandlerOptions{MaxBodyBytes: maxBody, Logger: log, Getenv: getenv, Jobs: jobs}
			tf, err := plugin.LoadTokenFile(tokenFile)
			switch {
			case err == nil:
				opts.Token = tf.Token
				if noAuth {
					log.Info("a token file is present, so auth stays on despite --insecure-no-auth", slog.String("tokenFile", tokenFile))
				}
			case noAuth:
				opts.NoAuth = true
				log.Warn("INSECURE: serving WITHOUT AUTH (--insecure-no-auth): anyone who can reach this port can run promotions",
					slog.String("tokenFile", tokenFile), slog.String("reason", err.Error()))
			default:
				return usageError("refusing to start without a bearer token: %w; mount the token, give --token-file, or for local experiments only --insecure-no-auth", err)
			}

			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("listening on %s: %w", listen, err)}
			}
			err = plugin.Serve(ctx, ln, plugin.NewHandler(plugin.StepFunc(io.stepRunner()), opts), plugin.ServerOptions{ShutdownGrace: grace, Logger: log})
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return nil
		},
	}
}
