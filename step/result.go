package step

// Turning a run's outcome or error into the Result Kargo sees: the status
// (Failed when a retry cannot help, Errored when it can), the outputs and
// the one line shown in the UI.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/argo-refs/argo-refs/images"
	"github.com/argo-refs/argo-refs/review"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/step/target"
	"github.com/argo-refs/argo-refs/trust/spec"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// outcome is what a successful run learned, before it becomes a Result.
type outcome struct {
	record       *warehouse.Record
	image        string // the value written to the stage
	gitopsCommit string
	branch       string
	changed      bool
	attempts     int
	targets      []TargetChange
	diff         string
	stage        string
	freight      string
	skipped      []string       // checks the config turned off
	legacyGate   map[string]any // what the legacy gitflow gate read; nil without the gate
	ciPassed     []string       // the contexts the CI-result gate saw succeed; nil without the gate
	healthCheck  *HealthCheckConfig
	repoURL      string         // the GitOps repository
	rendered     *stageReview   // the rendered review; nil without one
	trusted      *spec.Response // what the image policy verified; nil without one
}

// classify marks the errors that retrying cannot fix as terminal. It is the
// one place where failures are sorted into Failed and Errored.
func classify(err error) error {
	if err == nil || IsTerminal(err) {
		return err
	}
	var cfgErr *ConfigError
	switch {
	case errors.As(err, &cfgErr),
		errors.Is(err, warehouse.ErrInvalidRecord),
		errors.Is(err, images.ErrTagMoved),
		errors.Is(err, images.ErrNotFound),
		errors.Is(err, images.ErrUnauthorized),
		errors.Is(err, images.ErrInvalidReference),
		errors.Is(err, gitrepo.ErrCommitNotFound),
		errors.Is(err, gitrepo.ErrPathNotFound),
		errors.Is(err, gitrepo.ErrPathOutsideRepo),
		errors.Is(err, gitrepo.ErrNotRegularFile),
		errors.Is(err, gitrepo.ErrFileTooLarge),
		errors.Is(err, gitrepo.ErrBranchNotFound),
		errors.Is(err, gitrepo.ErrAuth),
		errors.Is(err, gitrepo.ErrPushRefused),
		errors.Is(err, gitrepo.ErrInvalidURL),
		errors.Is(err, gitrepo.ErrRedirect),
		errors.Is(err, target.ErrNotFound),
		errors.Is(err, target.ErrUnsupported):
		return Terminal(err)
	}
	return err
}

// ConfigProblem tells runtimes that the failure is a bad config (the
// custom-step command exits 2 for it).
func (e *ConfigError) ConfigProblem() bool { return true }

// resultFor turns a run's outcome or error into the Result Kargo sees.
func resultFor(out *outcome, err error) Result {
	if err != nil {
		err = classify(err)
		res := Result{Status: kargo.StatusErrored, Err: err, Message: oneLine(err.Error())}
		if IsTerminal(err) {
			res.Status = kargo.StatusFailed
			res.Terminal = true
		}
		if errors.Is(err, context.DeadlineExceeded) {
			res.Message = "timed out: " + res.Message
		}
		return res
	}
	rec := out.record
	output := map[string]any{
		OutputReleaseID:     rec.ReleaseID,
		OutputGitCommit:     rec.GitCommit,
		OutputImageRef:      rec.Image.Ref,
		OutputImageDigest:   rec.Image.Digest,
		OutputImage:         out.image,
		OutputSourceRepo:    rec.Packaging.SourceRepo,
		OutputSourcePath:    rec.Packaging.SourcePath,
		OutputFreightCommit: out.freight,
		OutputGitopsCommit:  out.gitopsCommit,
		OutputChanged:       out.changed,
	}
	if out.skipped != nil {
		output[OutputSkippedChecks] = out.skipped
	}
	if out.legacyGate != nil {
		output[OutputLegacyGitflow] = out.legacyGate
	}
	if out.ciPassed != nil {
		output[OutputSourceChecks] = map[string]any{"passed": out.ciPassed}
	}
	imagePolicyOutputs(out.trusted, output)
	var reviewText string
	var rendered *review.Review
	if sr := out.rendered; sr != nil {
		output[OutputRenderSummary], output[OutputReviewMarkdown] = sr.outputs()
		reviewText, rendered = sr.review.Text(), sr.review
	}
	if links := linksFor(out); len(links) > 0 {
		output[OutputLinks] = plainJSON(links)
	}
	if out.branch != "" {
		output[OutputBranch] = out.branch
		output[OutputAttempts] = out.attempts
		list, _ := plainJSON(out.targets).([]any)
		if list == nil {
			list = []any{}
		}
		output[OutputTargets] = list
	}
	msg := uiMessage(out)
	if len(out.skipped) > 0 {
		// A check turned off is said, every time: "verified" must not
		// read as more than was done.
		msg += "; NOT checked: " + strings.Join(out.skipped, ", ") + " (turned off in checks)"
	}
	return Result{
		Status:      kargo.StatusSucceeded,
		Message:     msg,
		Output:      output,
		Diff:        out.diff,
		Review:      reviewText,
		Rendered:    rendered,
		HealthCheck: healthCheckFor(out),
	}
}

// plainJSON is v as encoding/json decodes it into an any: outputs hold
// only maps, slices, strings, numbers and booleans, as they do once Kargo
// has them.
func plainJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// healthCheckFor is argocd-update's health check for the configured
// Applications, each source pinned to what the promotion made it reach:
// Kargo's health.Criteria with an ArgoCDHealthInput (kargo
// pkg/health/checker/builtin/argocd.go). Nil without the config, and for a
// dry run.
func healthCheckFor(out *outcome) *kargo.HealthCheck {
	if out.healthCheck == nil || out.diff != "" {
		return nil
	}
	apps := make([]any, 0, len(out.healthCheck.Apps))
	for _, a := range out.healthCheck.Apps {
		revs := make([]any, len(a.DesiredRevisions))
		for i, r := range a.DesiredRevisions {
			switch r {
			case "gitCommit":
				revs[i] = out.record.GitCommit
			case "gitopsCommit":
				revs[i] = out.gitopsCommit
			default:
				revs[i] = ""
			}
		}
		app := map[string]any{"name": a.Name, "desiredRevisions": revs}
		if a.Namespace != "" {
			app["namespace"] = a.Namespace
		}
		apps = append(apps, app)
	}
	return &kargo.HealthCheck{Kind: "argocd-update", Input: map[string]any{"apps": apps}}
}

// uiMessage is the one line a person reads in the Kargo UI, e.g.
// "staging → git-d072d04 (ghcr.io/org/app@sha256:57d9…); commit 1a2b3c4".
func uiMessage(out *outcome) string {
	rec := out.record
	img := rec.ImageRepository() + "@" + shortDigest(rec.Image.Digest)
	release := "git-" + short(rec.GitCommit)
	switch {
	case out.branch == "":
		return fmt.Sprintf("verified %s (%s) at %s", release, img, short(out.freight))
	case out.diff != "" || (out.changed && out.gitopsCommit == ""):
		return fmt.Sprintf("%s → %s (%s); dry run, nothing pushed", out.stage, release, img)
	case !out.changed:
		return fmt.Sprintf("%s already at %s (%s); no commit, %s at %s", out.stage, release, img, out.branch, short(out.gitopsCommit))
	default:
		return fmt.Sprintf("%s → %s (%s); commit %s on %s", out.stage, release, img, short(out.gitopsCommit), out.branch)
	}
}

func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+5 {
		return d[:i+5] + "…"
	}
	return d
}

// maxMessage bounds the one line shown in the Kargo UI; the full error stays
// in Result.Err.
const maxMessage = 1024

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
