package step

// A run of one step, top to bottom. Verify: open the GitOps repository,
// read the build-lock record at the Freight commit, check it. Promote: the
// same, then, at the branch tip, edit every target, commit and push, with
// the record read in the request that brings the tip.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/argo-refs/argo-refs/internal/githubapp"
	"github.com/argo-refs/argo-refs/internal/trailers"
	"github.com/argo-refs/argo-refs/step/target"
	"github.com/argo-refs/argo-refs/trust/spec"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// Runner runs steps. It keeps, for as long as it lives, what later runs in
// the same process may reuse: the build-lock records it has read and
// validated (a commit never changes; a record is shared only between runs
// with the same repository, TLS setting and credentials), one registry
// client per setting (so a warm verification is one request), and what it
// learned about Git servers' filters. serve keeps one Runner for its life;
// Run makes one for each call. A Runner is safe for concurrent use.
type Runner struct {
	records    *recordCache
	registries *registryClients
	gitServers *gitrepo.ServerNotes
	apps       *gitHubApps
	branches   *branchLocks
}

// NewRunner returns a Runner that has read nothing yet.
func NewRunner() *Runner {
	return &Runner{
		records:    newRecordCache(recordCacheSize),
		registries: newRegistryClients(),
		gitServers: gitrepo.NewServerNotes(),
		apps:       &gitHubApps{},
		branches:   newBranchLocks(),
	}
}

// Run executes one step with a Runner of its own, so nothing is kept
// between calls: what a one-shot process (the custom step, docker run)
// needs. A long-lived caller uses one Runner's Run method instead.
func Run(ctx context.Context, kind Kind, sc Context, config []byte, opts Options) Result {
	return NewRunner().Run(ctx, kind, sc, config, opts)
}

// Run executes one step of the given kind with its raw JSON config. It
// never panics on bad input; every problem comes back as a Result.
func (rn *Runner) Run(ctx context.Context, kind Kind, sc Context, config []byte, opts Options) Result {
	if !slices.Contains(Kinds, kind) {
		return resultFor(nil, Terminal(fmt.Errorf("unknown step kind %q (known: %s)", kind, kindList())))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	cfg, err := ParseConfig(config)
	if err != nil {
		return resultFor(nil, err)
	}
	plan, err := cfg.Resolve(kind, sc, opts.Getenv)
	if err != nil {
		return resultFor(nil, err)
	}
	ctx, cancel := context.WithTimeout(ctx, plan.Timeout)
	defer cancel()
	if plan.GitApp != nil {
		plan.GitApp = rn.apps.share(plan.GitApp)
	}
	for attempt := 1; ; attempt++ {
		token, err := mintGitToken(ctx, plan)
		if err != nil {
			return resultFor(nil, err)
		}
		r := &runner{Runner: rn, plan: plan, opts: opts, log: opts.Logger, freight: plumbing.NewHash(plan.FreightCommit)}
		var out *outcome
		if kind == KindVerify {
			out, err = r.verify(ctx)
		} else {
			out, err = r.promote(ctx)
		}
		// An installation token the Git host refused (revoked, or expired
		// early) is replaced once; the run starts again from the top.
		if token != "" && attempt == 1 && errors.Is(err, gitrepo.ErrAuth) {
			plan.GitApp.Refused(token)
			r.log.Info("the Git host refused the GitHub App's installation token; minting another")
			continue
		}
		return resultFor(out, err)
	}
}

// mintGitToken sets plan.GitAuth from the plan's GitHub App, returning
// the token ("" without an App).
func mintGitToken(ctx context.Context, plan *Plan) (string, error) {
	if plan.GitApp == nil {
		return "", nil
	}
	token, err := plan.GitApp.Token(ctx)
	if err != nil {
		if errors.Is(err, githubapp.ErrRefused) {
			return "", Terminal(fmt.Errorf("credentials.git: %w", err))
		}
		return "", fmt.Errorf("credentials.git: %w", err)
	}
	plan.GitAuth = &UserPass{Username: "x-access-token", Password: token}
	return token, nil
}

// gitHubApps are the GitHub Apps a Runner has minted tokens with, shared
// so that a token is reused until shortly before it expires.
type gitHubApps struct {
	m sync.Map // App.ID() → *githubapp.App
}

// share returns the App with a's identity the Runner already holds, or a.
func (g *gitHubApps) share(a *githubapp.App) *githubapp.App {
	held, _ := g.m.LoadOrStore(a.ID(), a)
	return held.(*githubapp.App)
}

// runner is one run: its plan, its collaborators and the Runner whose
// caches it shares.
type runner struct {
	*Runner
	plan    *Plan
	opts    Options
	log     *slog.Logger
	freight plumbing.Hash
	// ciPassed are the contexts the CI-result gate saw succeed.
	ciPassed []string
	// trusted is what the image policy verified; nil without one.
	trusted *spec.Response
}

// verify reads the record at the Freight commit and checks it.
func (r *runner) verify(ctx context.Context) (*outcome, error) {
	fr, err := r.openFreight(ctx)
	if err != nil {
		return nil, err
	}
	defer fr.close()
	if err := fr.fetch(ctx); err != nil {
		return nil, err
	}
	rec, err := fr.readAndCheck(ctx)
	if err != nil {
		return nil, err
	}
	out := r.newOutcome(rec)
	out.image = r.imageValue(rec, false)
	out.gitopsCommit = r.plan.FreightCommit
	return out, nil
}

// promote reads and checks the record, then moves the targets on the
// branch tip in one commit, retrying on push races.
func (r *runner) promote(ctx context.Context) (*outcome, error) {
	fr, err := r.openFreight(ctx)
	if err != nil {
		return nil, err
	}
	defer fr.close()
	remote := fr.remote
	branch, uopts, err := r.pushTarget(ctx, remote)
	if err != nil {
		return nil, err
	}
	if fr.needsFetch() {
		// The Freight commit comes in the same request as the tip.
		uopts.Also = []plumbing.Hash{r.freight}
	}
	var (
		rec     *warehouse.Record
		edits   []fileEdit
		changes []TargetChange
		gate    map[string]any
		// rendered is the rendered review, when one is asked for.
		rendered *stageReview
	)
	res, err := remote.Update(ctx, branch, uopts, func(ctx context.Context, tip gitrepo.Snapshot) (*gitrepo.Edit, error) {
		var err error
		if rec == nil {
			// One request brings the record (unless cached) and the
			// targets at the tip; every read after it costs nothing.
			reads := map[plumbing.Hash][]string{}
			if fr.needsFetch() {
				reads[r.freight] = fr.paths()
			}
			// The tip may be the Freight commit itself.
			reads[tip.Commit()] = append(reads[tip.Commit()], r.targetPaths()...)
			// Trees fetched by path come level by level for the record's
			// directory (listed next, to start the source check) and the
			// targets at once; whole trees came with the commits.
			if err := remote.PrefetchTrees(ctx, reads); err != nil {
				r.log.Debug("prefetching trees failed; reading path by path", "error", err)
			}
			// The gates' files come with the targets when the release is
			// known by now.
			reads[tip.Commit()] = append(reads[tip.Commit()], r.gatePaths(ctx, fr)...)
			fr.startSourceCheck(ctx)
			if err := remote.Prefetch(ctx, reads); err != nil {
				r.log.Debug("prefetch failed; reading file by file", "error", err)
			}
			if rec, err = fr.readAndCheck(ctx); err != nil {
				return nil, err
			}
		}
		if gate, err = r.checkLegacyGate(ctx, tip, rec); err != nil {
			return nil, err
		}
		if edits, changes, err = r.editTargets(ctx, tip, rec); err != nil {
			return nil, err
		}
		if (r.plan.Config.Render != nil || r.opts.Render) && !r.plan.Config.RequireAlreadyApplied {
			// Before anything is pushed: a release that does not render
			// (or changes a kind the policy refuses) is Failed here.
			if rendered, err = r.renderReview(ctx, remote, tip.Commit(), rec, edits, changes); err != nil {
				return nil, err
			}
		}
		if r.opts.DryRun {
			return nil, nil
		}
		if r.plan.Config.RequireAlreadyApplied {
			return nil, r.requireApplied(tip, rec, edits)
		}
		return r.commitFor(rec, edits, changes)
	})
	if err != nil {
		return nil, fmt.Errorf("promoting %s: %w", r.plan.Stage, err)
	}
	out := r.newOutcome(rec)
	out.targets = changes
	out.healthCheck = r.plan.Config.HealthCheck
	out.legacyGate = gate
	out.rendered = rendered
	out.image = r.imageValue(rec, r.pinsDigest())
	out.changed, out.attempts, out.branch = res.Changed, res.Attempts, res.Branch
	out.gitopsCommit = res.Tip.String()
	if res.Changed {
		out.gitopsCommit = res.Commit.String()
	}
	if r.opts.DryRun {
		if out.diff, err = unifiedDiff(edits); err != nil {
			return nil, err
		}
		out.changed = slices.ContainsFunc(edits, fileEdit.changed)
	}
	return out, nil
}

// pushTarget returns the branch to edit and how to push: to it, or to a
// new review branch. A retry of the same promotion finds its review branch
// already there and carries on from it, so that the retry converges
// instead of failing.
func (r *runner) pushTarget(ctx context.Context, remote *gitrepo.Remote) (string, gitrepo.UpdateOptions, error) {
	var uopts gitrepo.UpdateOptions
	// This process's promotions to one branch push one after the other,
	// each on the tip the previous one left, instead of racing.
	ordered := func(branch string) {
		if !r.opts.DryRun {
			uopts.Lock = func(ctx context.Context) (func(), error) { return r.branches.lock(ctx, r.plan.RepoURL, branch) }
		}
	}
	if !r.plan.NewBranch {
		ordered(r.plan.Branch)
		return r.plan.Branch, uopts, nil
	}
	switch _, err := remote.Tip(ctx, r.plan.PushBranch); {
	case err == nil:
		ordered(r.plan.PushBranch)
		return r.plan.PushBranch, uopts, nil
	case errors.Is(err, gitrepo.ErrBranchNotFound):
		uopts.NewBranch = r.plan.PushBranch
		return r.plan.Branch, uopts, nil
	default:
		return "", uopts, fmt.Errorf("looking for branch %s: %w", r.plan.PushBranch, err)
	}
}

// commitFor is the commit that applies edits, or nil when they change
// nothing: the configured message with the promotion's trailers, signed
// when the config gives a key.
func (r *runner) commitFor(rec *warehouse.Record, edits []fileEdit, changes []TargetChange) (*gitrepo.Edit, error) {
	var files []gitrepo.Change
	for _, e := range edits {
		if e.changed() {
			files = append(files, gitrepo.Change{Path: e.path, Data: e.new})
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	msg, err := r.plan.CommitMessage(MessageVars{
		Stage: r.plan.Stage, Project: r.plan.Project, ReleaseID: rec.ReleaseID,
		GitCommit: rec.GitCommit, ImageRef: rec.Image.Ref, ImageDigest: rec.Image.Digest,
	})
	if err != nil {
		return nil, Terminal(err)
	}
	msg = trailers.Append(msg,
		trailers.Trailer{Key: trailers.KargoProject, Value: r.plan.Project},
		trailers.Trailer{Key: trailers.KargoStage, Value: r.plan.Stage},
		trailers.Trailer{Key: trailers.KargoPromotion, Value: r.plan.Promotion},
		trailers.Trailer{Key: trailers.KargoFreight, Value: r.plan.FreightName},
		trailers.Trailer{Key: trailers.PromotedBy, Value: r.plan.Actor},
		trailers.Trailer{Key: trailers.SourceCommit, Value: rec.GitCommit},
		trailers.Trailer{Key: trailers.PreviousSourceCommit, Value: previousSourceCommit(rec, changes)},
		trailers.Trailer{Key: trailers.Image, Value: rec.Image.Ref + "@" + rec.Image.Digest},
		trailers.Trailer{Key: trailers.BuildLock, Value: r.plan.FreightCommit + ":" + path.Join(r.plan.BuildLockDir, warehouse.HistoricalName(rec.GitCommit))},
	)
	if t := r.trusted; t != nil {
		msg = trailers.Append(msg,
			trailers.Trailer{Key: trailers.ImageSignedBy, Value: signedBy(t.Signature)},
			trailers.Trailer{Key: trailers.ImageBuiltBy, Value: builderOf(t.Provenance)})
	}
	edit := &gitrepo.Edit{
		Changes: files,
		Message: msg,
		Author:  gitrepo.Signature{Name: r.plan.Author.Name, Email: r.plan.Author.Email, When: time.Now()},
	}
	if r.plan.Signer != nil {
		edit.Signer = r.plan.Signer
	}
	return edit, nil
}

// requireApplied fails unless edits change nothing: the branch already holds
// the release (an earlier Stage's review pull request was merged).
func (r *runner) requireApplied(tip gitrepo.Snapshot, rec *warehouse.Record, edits []fileEdit) error {
	var pending []string
	for _, e := range edits {
		if e.changed() {
			pending = append(pending, e.path)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	return Terminal(fmt.Errorf("requireAlreadyApplied: %s on %s at %s do not hold %s yet; merge the review pull request that moves them (this step pushes nothing), then promote again",
		strings.Join(pending, ", "), r.plan.Branch, short(tip.Commit().String()), rec.ReleaseID))
}

// newOutcome starts the outcome of a run that read and checked rec.
func (r *runner) newOutcome(rec *warehouse.Record) *outcome {
	return &outcome{record: rec, stage: r.plan.Stage, freight: r.plan.FreightCommit, skipped: r.plan.Checks.skipped(), ciPassed: r.ciPassed, repoURL: r.plan.RepoURL, trusted: r.trusted}
}

func (r *runner) gitOptions(repoURL string, auth *UserPass) gitrepo.Options {
	// Files are bounded before they are inflated: the record parser and
	// the editors refuse anything larger anyway.
	o := gitrepo.Options{Logger: r.log, InsecureSkipTLSVerifyHosts: r.plan.InsecureSkipTLSVerifyHosts,
		MaxFileSize: max(warehouse.MaxRecordSize, target.MaxFileSize), ServerNotes: r.gitServers}
	if repoURL == r.plan.RepoURL {
		o.TreeFetch = treeFetchOf(r.plan.Config.TreeFetch)
	}
	if auth != nil {
		up := *auth
		o.Auth = &up
	}
	// checkURL has already refused plain http to hosts neither loopback nor
	// listed (host, or host:port); pass that decision on.
	if u, err := url.Parse(repoURL); err == nil && strings.EqualFold(u.Scheme, "http") && checkURL(repoURL, r.plan.InsecureHTTPHosts) == nil {
		o.AllowInsecureHTTP = true
	}
	return o
}

// treeFetchOf is the config's treeFetch as gitrepo takes it.
func treeFetchOf(s string) gitrepo.TreeFetch {
	switch s {
	case "whole":
		return gitrepo.TreesWhole
	case "paths":
		return gitrepo.TreesPaths
	}
	return gitrepo.TreesAuto
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
