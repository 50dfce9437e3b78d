// Command argo-refs publishes build-lock records and runs the verified
// promotion step as a kargo-extended StepPlugin, a Kargo custom step, or by
// hand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes, shared by every command.
const (
	exitOK        = 0
	exitFailed    = 1 // verification failed; retrying cannot help
	exitUsage     = 2 // bad usage or config
	exitTransient = 3 // a retry may help
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// stdio is where a command reads and writes, so that tests can capture it.
type stdio struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// command is one subcommand of argo-refs.
type command struct {
	name    string
	summary string
	// usage is the synopsis after "argo-refs <name>".
	usage   string
	example string
	// run executes the command; flags is already set up with -h/--help.
	run func(ctx context.Context, io stdio, fs *flag.FlagSet, args []string) error
	// setup registers the command's flags before parsing.
	setup func(fs *flag.FlagSet)
}

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError reports bad usage (exit 2).
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func commands() []*command {
	cmds := []*command{
		versionCmd(),
		publishCmd(),
		imagesCmd(),
		promoteCmd(),
		verifyCmd(),
		serveCmd(),
		pluginManifestCmd(),
		demoCmd(),
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// run dispatches args to a command and returns the process exit code.
func run(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(io.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("argo-refs "+c.name, flag.ContinueOnError)
		fs.SetOutput(io.stderr)
		fs.Usage = func() { printCommandUsage(io.stderr, c, fs) }
		if c.setup != nil {
			c.setup(fs)
		}
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		err := c.run(ctx, io, fs, fs.Args())
		if err == nil {
			return exitOK
		}
		fmt.Fprintf(io.stderr, "argo-refs %s: %s\n", c.name, oneLine(err.Error()))
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.code == exitUsage {
				fmt.Fprintf(io.stderr, "Example:\n  %s\n", c.example)
			}
			return ee.code
		}
		return exitFailed
	}
	fmt.Fprintf(io.stderr, "argo-refs: unknown command %q\n", args[0])
	printUsage(io.stderr)
	return exitUsage
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: argo-refs <command> [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'argo-refs <command> --help' for a command's flags and an example.")
}

func printCommandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: argo-refs %s %s\n\n%s\n\nFlags:\n", c.name, c.usage, c.summary)
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nExample:\n  %s\n", c.example)
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func versionCmd() *command {
	return &command{
		name:    "version",
		summary: "Print the version of argo-refs.",
		example: "argo-refs version",
		run: func(_ context.Context, io stdio, _ *flag.FlagSet, _ []string) error {
			fmt.Fprintf(io.stdout, "argo-refs %s\n", version)
			return nil
		},
	}
}
