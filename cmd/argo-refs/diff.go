package main

// diff: only the rendered review of a promotion, as a dry run computes it.

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/customstep"
)

func diffCmd() *command {
	return stepCommand(step.KindPromote, stepCommandText{
		name:       "diff",
		summary:    "Render a stage's manifests at its current refs and at a Freight's, as Argo CD would, and print what changes, resource by resource (a dry run that prints only the review; needs argo-refs-render).",
		example:    "argo-refs diff --config stage.yaml --stage production --gitops-commit 1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d -o markdown",
		reviewOnly: true,
	})
}

// printReview prints only the rendered review: text, the JSON of the
// review (changes and summary), or the Markdown of a review pull request.
func printReview(w io.Writer, format string, res step.Result) error {
	if customstep.ExitCode(res) != exitOK {
		return nil // the failure line goes to stderr
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Summary any `json:"renderSummary"`
			Review  any `json:"review"`
		}{res.Output[step.OutputRenderSummary], res.Rendered})
	case "markdown":
		md, _ := res.Output[step.OutputReviewMarkdown].(string)
		_, err := fmt.Fprint(w, md)
		return err
	}
	_, err := fmt.Fprint(w, res.Review)
	return err
}
