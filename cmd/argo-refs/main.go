// Command argo-refs publishes build-lock records and runs the verified
// promotion step as a kargo-extended StepPlugin, a Kargo custom step, or by
// hand.
package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/customstep"
)

// Exit codes: the one table every command uses (customstep's, which Kargo's
// custom-step runtime reads).
const (
	exitOK        = customstep.ExitOK        // done, or nothing to do
	exitFailed    = customstep.ExitFailed    // verification failed; retrying cannot help
	exitUsage     = customstep.ExitUsage     // bad usage or config
	exitTransient = customstep.ExitTransient // a retry may help
)

// exitCodesHelp explains the table in every command's help.
const exitCodesHelp = `Exit status: 0 done (or nothing to do); 1 failed, and retrying cannot help;
2 bad usage or config; 3 a transient failure: retrying may help.`

// stdio is where a command reads and writes, and what runs its steps, so
// that tests can capture and replace them.
type stdio struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// newStepRunner returns what runs the steps of one command: serve keeps
	// it for its life (records and registry tokens are reused across
	// calls), promote and verify use it once. Nil means a step.Runner.
	newStepRunner func() stepFunc
}

// stepFunc runs one step: a step.Runner's Run method, or a test's double.
type stepFunc func(ctx context.Context, kind step.Kind, sc step.Context, config []byte, opts step.Options) step.Result

// stepRunner returns a new runner of steps (see newStepRunner).
func (io stdio) stepRunner() stepFunc {
	if io.newStepRunner != nil {
		return io.newStepRunner()
	}
	return step.NewRunner().Run
}

// command is one subcommand of argo-refs, as root.go turns it into a
// cobra command.
type command struct {
	name    string
	summary string
	// usage is the synopsis after "argo-refs <name>".
	usage string
	// long, when set, follows the summary in the help.
	long    string
	example string
	// run executes the command with the positional arguments.
	run func(ctx context.Context, io stdio, fs *pflag.FlagSet, args []string) error
	// setup registers the command's flags.
	setup func(fs *pflag.FlagSet)
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
		legacyMergeCmd(),
		lintCmd(),
		historyCmd(),
		diffCmd(),
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

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
