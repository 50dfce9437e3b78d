package step

// The CI-result gate (gates.sourceChecks): what CI reported on the
// release's source commit in its GitHub repository, the commit statuses
// (Drone's) and the check runs, must be successful. Checked with the
// record's other checks, on every run.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/argo-refs/argo-refs/internal/ghchecks"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/warehouse"
)

// OutputSourceChecks is the output of the CI-result gate: the contexts that
// passed.
const OutputSourceChecks = "sourceChecks"

// ciFinding is one status or check run, judged.
type ciFinding struct {
	name, state, link string
}

func (f ciFinding) String() string {
	if f.link == "" {
		return fmt.Sprintf("%s (%s)", f.name, f.state)
	}
	return fmt.Sprintf("%s (%s: %s)", f.name, f.state, f.link)
}

// checkSourceChecks asks GitHub what CI reported on rec's commit and judges
// it: a failure is terminal and names the failing contexts with their
// links; pending, not reported yet or a rate limit is retryable.
func (r *runner) checkSourceChecks(ctx context.Context, rec *warehouse.Record) ([]string, error) {
	g := r.plan.Config.Gates
	if g == nil || g.SourceChecks == nil {
		return nil, nil
	}
	gate := g.SourceChecks
	client, owner, repo, err := r.githubClient(gate, rec.Packaging.SourceRepo)
	if err != nil {
		return nil, Terminal(fmt.Errorf("CI-result gate: %w", err))
	}
	rep, err := client.Commit(ctx, owner, repo, rec.GitCommit)
	switch {
	case errors.Is(err, ghchecks.ErrNotFound), errors.Is(err, ghchecks.ErrUnauthorized):
		return nil, Terminal(fmt.Errorf("CI-result gate: %s/%s at %s: %w", owner, repo, short(rec.GitCommit), err))
	case err != nil:
		return nil, fmt.Errorf("CI-result gate: %s/%s at %s: %w", owner, repo, short(rec.GitCommit), err)
	}
	passed, pending, failed := judgeCI(rep, gate.Contexts)
	where := fmt.Sprintf("%s/%s at %s", owner, repo, short(rec.GitCommit))
	if len(failed) > 0 {
		return nil, Terminal(fmt.Errorf("CI-result gate: CI failed on %s: %s", where, joinFindings(failed)))
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("CI-result gate: waiting for CI on %s: %s; the promotion passes once it succeeds", where, joinFindings(pending))
	}
	r.log.Info("CI-result gate passed", "repository", owner+"/"+repo, "commit", short(rec.GitCommit), "contexts", passed)
	return passed, nil
}

// githubClient returns the API client for sourceRepo and its owner and
// name. The token goes to the API's origin only: GITHUB_TOKEN from the
// environment only to api.github.com.
func (r *runner) githubClient(gate *SourceChecksGate, sourceRepo string) (*ghchecks.Client, string, string, error) {
	api := gate.APIURL
	host := "github.com"
	if api == "" {
		api = ghchecks.DefaultAPIURL
	} else if u, err := url.Parse(api); err == nil && !strings.EqualFold(u.Hostname(), "api.github.com") {
		host = u.Hostname() // GitHub Enterprise Server: https://<host>/api/v3
	}
	if err := r.plan.CheckURL(api); err != nil {
		return nil, "", "", err
	}
	owner, repo, err := ghchecks.RepoFromURL(sourceRepo, host)
	if err != nil {
		return nil, "", "", fmt.Errorf("packaging.sourceRepo: %w", err)
	}
	c := &ghchecks.Client{APIURL: api}
	switch creds := r.plan.Config.Credentials; {
	case creds != nil && creds.GitHubAPI != nil:
		c.Token = creds.GitHubAPI.Value
	case api == ghchecks.DefaultAPIURL:
		c.Token = r.opts.Getenv(netpolicy.EnvGitHubToken)
	}
	return c, owner, repo, nil
}

// judgeCI sorts what CI reported into passed, pending and failed: the
// required contexts only when some are named (one not reported yet is
// pending), else every status and check run, and at least one.
func judgeCI(rep *ghchecks.Report, required []string) (passed []string, pending, failed []ciFinding) {
	var all []ciFinding
	for _, s := range rep.Statuses {
		all = append(all, ciFinding{s.Context, s.State, s.TargetURL})
	}
	for _, c := range rep.CheckRuns {
		state := c.Conclusion
		if c.Status != "completed" {
			state = c.Status
		}
		all = append(all, ciFinding{c.Name, state, cmp.Or(c.HTMLURL, c.DetailsURL)})
	}
	judge := func(f ciFinding) {
		switch f.state {
		case "success", "neutral", "skipped":
			passed = append(passed, f.name)
		case "pending", "queued", "in_progress", "waiting", "requested", "expected":
			pending = append(pending, f)
		default: // error, failure, cancelled, timed_out, action_required, stale
			failed = append(failed, f)
		}
	}
	if len(required) == 0 {
		if len(all) == 0 {
			return nil, []ciFinding{{name: "no status or check run", state: "not reported yet"}}, nil
		}
		for _, f := range all {
			judge(f)
		}
		return passed, pending, failed
	}
	for _, name := range required {
		// The API gives the latest run of each check (filter=latest) and
		// the latest state of each status context.
		i := slices.IndexFunc(all, func(f ciFinding) bool { return f.name == name })
		if i < 0 {
			pending = append(pending, ciFinding{name: name, state: "not reported yet"})
			continue
		}
		judge(all[i])
	}
	return passed, pending, failed
}

func joinFindings(fs []ciFinding) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, ", ")
}
