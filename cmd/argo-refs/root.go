package main

// The command line: the commands of commands() as cobra commands, with
// GNU-style flags, help on stdout, "did you mean" for unknown commands and
// flags, --version and shell completion, and the one exit code table.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/internal/suggest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the process exit code.
func run(ctx context.Context, args []string, io stdio) int {
	root := newRoot(io)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		if len(args) == 0 {
			return exitUsage // the help was shown instead of a command
		}
		return exitOK
	}
	name := "argo-refs"
	if cmd != nil && cmd != root {
		name = cmd.CommandPath()
	}
	fmt.Fprintf(io.stderr, "%s: %s\n", name, oneLine(err.Error()))
	var ee *exitError
	if !errors.As(err, &ee) {
		return exitFailed
	}
	if ee.code == exitUsage && cmd != nil {
		if cmd.Example != "" {
			fmt.Fprintf(io.stderr, "Example:\n%s\n", cmd.Example)
		}
		fmt.Fprintf(io.stderr, "Run '%s --help' for its flags.\n", cmd.CommandPath())
	}
	return ee.code
}

// newRoot builds the argo-refs command with every subcommand.
func newRoot(io stdio) *cobra.Command {
	root := &cobra.Command{
		Use:   "argo-refs",
		Short: "Publish build-lock records and promote exactly one source commit and image digest through Kargo and Argo CD.",
		Long: "argo-refs publishes build-lock records from CI and runs the verified promotion step as a\n" +
			"kargo-extended StepPlugin (serve), a Kargo custom step (promote, verify) or by hand.\n\n" + exitCodesHelp,
		Version:       buildVersion().String(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	root.SetIn(io.stdin)
	root.SetOut(io.stdout)
	root.SetErr(io.stderr)
	root.SetVersionTemplate("argo-refs {{.Version}}\n")
	// Without cobra's -v shorthand: -v is --verbose wherever it exists.
	root.Flags().Bool("version", false, "print the version of argo-refs")
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(flagError)
	root.SuggestionsMinimumDistance = 2
	for _, c := range commands() {
		root.AddCommand(c.cobra(io))
	}
	return root
}

// unknownCommand refuses positional arguments to argo-refs itself: they
// name a command that does not exist.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return usageError("%s (run 'argo-refs --help' for the commands)", msg)
}

// cobra turns c into a cobra command.
func (c *command) cobra(io stdio) *cobra.Command {
	use := c.name
	if c.usage != "" {
		use += " " + c.usage
	}
	cc := &cobra.Command{
		Use:   use,
		Short: c.summary,
		Long:  joinParagraphs(c.summary, c.long, exitCodesHelp),
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd.Context(), io, cmd.Flags(), args)
		},
	}
	if c.example != "" {
		cc.Example = "  " + c.example
	}
	if c.setup != nil {
		c.setup(cc.Flags())
	}
	return cc
}

// joinParagraphs joins the non-empty texts with blank lines.
func joinParagraphs(texts ...string) string {
	var ps []string
	for _, t := range texts {
		if t = strings.TrimSpace(t); t != "" {
			ps = append(ps, t)
		}
	}
	return strings.Join(ps, "\n\n")
}

// unknownFlag matches pflag's words for a flag it does not know.
var unknownFlag = regexp.MustCompile(`^unknown (?:shorthand )?flag: '?(-{1,2})([^' ]+)'?`)

// flagError makes a bad flag a usage error (exit 2), suggesting the flag
// the user probably meant.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if m := unknownFlag.FindStringSubmatch(msg); m != nil && m[1] == "--" {
		var names []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		})
		if best, ok := suggest.Closest(m[2], names); ok {
			msg += fmt.Sprintf("; did you mean --%s?", best)
		}
	}
	return usageError("%s", msg)
}

// usageTemplate is cobra's, with the synopsis on the "Usage:" line and an
// "Example:" section, as argo-refs has always printed them.
const usageTemplate = `Usage:{{if .HasAvailableSubCommands}} {{.CommandPath}} [command] [flags]{{else if .Runnable}} {{.UseLine}}{{end}}
{{- if .HasExample}}

Example:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Run '{{.CommandPath}} [command] --help' for a command's flags and an example.{{end}}
`
