package step

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/argo-refs/argo-refs/images"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/step/target"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// Run executes one step of the given kind with its raw JSON config. It never
// panics on bad input; every problem comes back as a Result.
func Run(ctx context.Context, kind Kind, sc Context, config []byte, opts Options) Result {
	if !slices.Contains(Kinds, kind) {
		return resultFor(nil, Terminal(fmt.Errorf("unknown step kind %q (known: %s)", kind, kindList())))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
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
	r := &runner{plan: plan, opts: opts, log: opts.Logger}
	out, err := r.run(ctx)
	return resultFor(out, err)
}

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

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
	skipped      []string // checks the config turned off
}

// runner carries one call's plan and collaborators.
type runner struct {
	plan *Plan
	opts Options
	log  *slog.Logger
}

func (r *runner) run(ctx context.Context) (*outcome, error) {
	remote, err := gitrepo.Open(ctx, r.plan.RepoURL, r.gitOptions(r.plan.RepoURL, r.plan.GitAuth))
	if err != nil {
		return nil, fmt.Errorf("opening the GitOps repository: %w", err)
	}
	freight := plumbing.NewHash(r.plan.FreightCommit)
	out := &outcome{stage: r.plan.Stage, freight: r.plan.FreightCommit, skipped: r.plan.Checks.skipped()}

	key := newRecordKey(r.plan.RepoURL, freight, r.plan.BuildLockDir, r.plan.GitAuth, r.plan.InsecureSkipTLSVerifyHosts)

	if r.plan.Kind == KindVerify {
		// A record read before (or being read) by another call costs no
		// request here; the checks below run on every call all the same.
		rec, claim, err := records.lookup(ctx, key)
		if err != nil {
			return nil, err
		}
		var guess *sourceGuess
		if claim != nil {
			defer claim.abandon() // a no-op once finished
			rec, guess, err = r.fetchRecord(ctx, remote, freight)
			claim.finish(rec, err)
			if err != nil {
				guess.stop()
				return nil, err
			}
		} else {
			r.logCachedRecord(rec, freight)
		}
		if err := r.check(ctx, rec, guess); err != nil {
			return nil, err
		}
		out.record = rec
		out.image = r.imageValue(rec, false)
		out.gitopsCommit = r.plan.FreightCommit
		return out, nil
	}

	var (
		once     sync.Once
		rec      *warehouse.Record
		checkErr error
		edits    []fileEdit
	)
	// cached is the record this process already holds; when it is nil,
	// claim makes this call the one that reads it (see records.lookup).
	// Both are set before Update calls apply.
	var (
		cached *warehouse.Record
		claim  *recordClaim
	)
	apply := func(ctx context.Context, tip gitrepo.Snapshot) (*gitrepo.Edit, error) {
		once.Do(func() {
			// One request brings the record at the Freight commit (unless
			// cached) and the targets at the tip; the reads below then cost
			// nothing.
			reads := map[plumbing.Hash][]string{}
			var guess *sourceGuess
			if cached == nil {
				reads[freight] = []string{path.Join(r.plan.BuildLockDir, warehouse.CurrentName)}
				guess = r.guessSource(ctx, remote, freight)
			}
			reads[tip.Commit()] = append(reads[tip.Commit()], r.targetPaths()...)
			if err := remote.Prefetch(ctx, reads); err != nil {
				r.log.Debug("prefetch failed; reading file by file", "error", err)
			}
			if cached != nil {
				rec = cached
				r.logCachedRecord(rec, freight)
			} else {
				rec, checkErr = r.readRecord(ctx, remote, freight)
				claim.finish(rec, checkErr)
			}
			if checkErr == nil {
				checkErr = r.check(ctx, rec, guess)
			} else {
				guess.stop()
			}
			if checkErr != nil {
				rec = nil
			}
		})
		if checkErr != nil {
			return nil, checkErr
		}
		var changes []TargetChange
		var err error
		edits, changes, err = r.editTargets(ctx, tip, rec)
		if err != nil {
			return nil, err
		}
		out.targets = changes
		var files []gitrepo.Change
		for _, e := range edits {
			if string(e.old) != string(e.new) {
				files = append(files, gitrepo.Change{Path: e.path, Data: e.new})
			}
		}
		if len(files) == 0 || r.opts.DryRun {
			return nil, nil
		}
		msg, err := r.plan.CommitMessage(MessageVars{
			Stage: r.plan.Stage, Project: r.plan.Project, ReleaseID: rec.ReleaseID,
			GitCommit: rec.GitCommit, ImageRef: rec.Image.Ref, ImageDigest: rec.Image.Digest,
		})
		if err != nil {
			return nil, Terminal(err)
		}
		return &gitrepo.Edit{
			Changes: files,
			Message: msg,
			Author:  gitrepo.Signature{Name: r.plan.Author.Name, Email: r.plan.Author.Email, When: time.Now()},
		}, nil
	}
	var uopts gitrepo.UpdateOptions
	branch := r.plan.Branch
	if r.plan.NewBranch {
		// A retry of the same promotion finds its review branch already
		// there: carry on from it, so that the retry converges instead of
		// failing.
		switch _, err := remote.Tip(ctx, r.plan.PushBranch); {
		case err == nil:
			branch = r.plan.PushBranch
		case errors.Is(err, gitrepo.ErrBranchNotFound):
			uopts.NewBranch = r.plan.PushBranch
		default:
			return nil, fmt.Errorf("looking for branch %s: %w", r.plan.PushBranch, err)
		}
	}
	cached, claim, err = records.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	if claim != nil {
		// Ends the claim if Update fails before apply reads the record.
		defer claim.abandon()
		// The Freight commit comes in the same request as the tip.
		uopts.Also = []plumbing.Hash{freight}
	}
	res, err := remote.Update(ctx, branch, uopts, apply)
	if err != nil {
		return nil, fmt.Errorf("promoting %s: %w", r.plan.Stage, err)
	}
	out.record = rec
	out.image = r.imageValue(rec, r.pinsDigest())
	out.changed = res.Changed
	out.attempts = res.Attempts
	out.branch = res.Branch
	out.gitopsCommit = res.Tip.String()
	if res.Changed {
		out.gitopsCommit = res.Commit.String()
	}
	if r.opts.DryRun {
		out.changed = false
		if out.diff, err = unifiedDiff(edits); err != nil {
			return nil, err
		}
		for _, e := range edits {
			if string(e.old) != string(e.new) {
				out.changed = true
			}
		}
	}
	return out, nil
}

// fetchRecord fetches the Freight commit and reads the record there; the
// source check starts meanwhile when it can be guessed (see sourceGuess).
func (r *runner) fetchRecord(ctx context.Context, remote *gitrepo.Remote, freight plumbing.Hash) (*warehouse.Record, *sourceGuess, error) {
	if err := remote.Fetch(ctx, freight); err != nil {
		return nil, nil, fmt.Errorf("fetching the Freight commit: %w", err)
	}
	guess := r.guessSource(ctx, remote, freight)
	rec, err := r.readRecord(ctx, remote, freight)
	return rec, guess, err
}

func (r *runner) logCachedRecord(rec *warehouse.Record, freight plumbing.Hash) {
	r.log.Info("read build-lock record", "release", rec.ReleaseID, "freightCommit", short(freight.String()), "cached", true)
}

// check runs every check the plan asks for on a record that passed
// warehouse.CheckSet, on every call, cached record or not: a tag can move
// and a source commit can vanish. Checks against the registry and the
// source repository run concurrently.
func (r *runner) check(ctx context.Context, rec *warehouse.Record, guess *sourceGuess) error {
	defer guess.stop()
	if err := r.checkPackaging(rec); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	if r.plan.Checks.ImageDigest || r.plan.Checks.ImageRevisionLabel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[0] = r.checkImage(ctx, rec)
		}()
	}
	if r.plan.Checks.SourceCommit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := guess.result(ctx, rec); ok {
				errs[1] = err
				return
			}
			errs[1] = r.checkSource(ctx, rec)
		}()
	}
	wg.Wait()
	// A terminal finding outweighs a transient one: it will not pass later.
	for _, e := range errs {
		if e != nil && IsTerminal(classify(e)) {
			return e
		}
	}
	return errors.Join(errs...)
}

func (r *runner) readRecord(ctx context.Context, remote *gitrepo.Remote, freight plumbing.Hash) (*warehouse.Record, error) {
	dir := r.plan.BuildLockDir
	cur := path.Join(dir, warehouse.CurrentName)
	files, err := remote.ReadFiles(ctx, freight, cur)
	if errors.Is(err, gitrepo.ErrFileTooLarge) {
		return nil, fmt.Errorf("reading %s at %s: %w: %w", cur, short(freight.String()), warehouse.ErrInvalidRecord, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", cur, short(freight.String()), err)
	}
	if !files[cur].Exists {
		return nil, Terminal(fmt.Errorf("reading %s at %s: %w: no build-lock record there", cur, short(freight.String()), warehouse.ErrInvalidRecord))
	}
	curData := files[cur].Data
	rec, err := warehouse.Parse(cur, curData)
	if err != nil {
		return nil, err
	}
	// Byte-identical twins share a blob, so this read costs no request.
	hist := path.Join(dir, warehouse.HistoricalName(rec.GitCommit))
	files, err = remote.ReadFiles(ctx, freight, hist)
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", hist, short(freight.String()), err)
	}
	var histData []byte
	if files[hist].Exists {
		histData = files[hist].Data
	}
	rec, err = warehouse.CheckSet(dir, curData, histData, warehouse.HistoricalName(rec.GitCommit))
	if err != nil {
		return nil, err
	}
	r.log.Info("read build-lock record", "release", rec.ReleaseID, "freightCommit", short(freight.String()))
	return rec, nil
}

// imageRepository returns host/path of an image reference as written
// (host/path:tag or @digest), without normalising it: imageRepository must
// name it the way records do.
func imageRepository(ref string) string {
	repo := ref
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo = repo[:i]
	}
	return repo
}

func (r *runner) checkPackaging(rec *warehouse.Record) error {
	want := r.plan.Packaging
	var problems []string
	if want.Kind != "" && want.Kind != rec.Packaging.Kind {
		problems = append(problems, fmt.Sprintf("packaging.kind: want %q, found %q", want.Kind, rec.Packaging.Kind))
	}
	if want.SourceRepo != "" && target.NormalizeRepoURL(want.SourceRepo) != target.NormalizeRepoURL(rec.Packaging.SourceRepo) {
		problems = append(problems, fmt.Sprintf("packaging.sourceRepo: want %q, found %q", want.SourceRepo, rec.Packaging.SourceRepo))
	}
	if want.SourcePath != "" && want.SourcePath != rec.Packaging.SourcePath {
		problems = append(problems, fmt.Sprintf("packaging.sourcePath: want %q, found %q", want.SourcePath, rec.Packaging.SourcePath))
	}
	if want := r.plan.ImageRepository; want != "" {
		if got := imageRepository(rec.Image.Ref); got != want {
			problems = append(problems, fmt.Sprintf("image.ref: want an image of %s (imageRepository), found %q", want, rec.Image.Ref))
		}
	}
	if len(problems) > 0 {
		return Terminal(fmt.Errorf("%s: %w: %s", rec.ReleaseID, warehouse.ErrInvalidRecord, strings.Join(problems, "; ")))
	}
	return nil
}

func (r *runner) checkImage(ctx context.Context, rec *warehouse.Record) error {
	opts := images.Options{Getenv: r.opts.Getenv, InsecureHosts: r.plan.InsecureHTTPHosts, Logger: r.log,
		InsecureSkipTLSVerifyHosts: r.plan.InsecureSkipTLSVerifyHosts}
	if a := r.plan.RegistryAuth; a != nil {
		scoped := *a
		opts.Credentials = &scoped
	}
	client, err := registryClient(opts)
	if err != nil {
		return err
	}
	if r.plan.Checks.ImageDigest {
		if _, err := client.Verify(ctx, rec.Image.Ref, rec.Image.Digest); err != nil {
			return fmt.Errorf("checking image %s: %w", rec.Image.Ref, err)
		}
		r.log.Info("image digest verified", "image", rec.Image.Ref, "digest", rec.Image.Digest)
	}
	if r.plan.Checks.ImageRevisionLabel {
		// Through the recorded digest: what is read is hashed, so the
		// label is the recorded image's whatever the tag serves now.
		rev, err := client.Revision(ctx, imageRepository(rec.Image.Ref)+"@"+rec.Image.Digest)
		if err != nil {
			return fmt.Errorf("reading the revision label of %s: %w", rec.Image.Ref, err)
		}
		if rev != rec.GitCommit {
			return Terminal(fmt.Errorf("image %s: label org.opencontainers.image.revision is %q, the build-lock's gitCommit is %q", rec.Image.Ref, rev, rec.GitCommit))
		}
	}
	return nil
}

func (r *runner) checkSource(ctx context.Context, rec *warehouse.Record) error {
	return r.probeSource(ctx, rec.Packaging.SourceRepo, rec.GitCommit, rec.Packaging.SourcePath)
}

// probeSource proves that commit and path exist in the source repository
// src.
func (r *runner) probeSource(ctx context.Context, src, commit, srcPath string) error {
	if err := r.plan.CheckURL(src); err != nil {
		return Terminal(fmt.Errorf("the build-lock's packaging.sourceRepo: %w", err))
	}
	// Credentials for the GitOps repository go only to the same host.
	var auth *UserPass
	if sameHost(src, r.plan.RepoURL) {
		auth = r.plan.GitAuth
	}
	stats, err := gitrepo.ProbePath(ctx, src, plumbing.NewHash(commit), srcPath, r.gitOptions(src, auth))
	if err != nil {
		return fmt.Errorf("checking source %s at %s: %w", srcPath, short(commit), err)
	}
	r.log.Info("source commit verified", "commit", short(commit), "path", srcPath,
		"requests", stats.Requests, "bytes", stats.BytesReceived)
	return nil
}

// sourceGuess is a source check started before the record is read, so that
// it runs while the record's blob is fetched. It takes the repository and
// path the config expects (packaging.sourceRepo and sourcePath) and the
// gitCommit the Freight's build-lock directory names without reading any
// file: current.yaml and its twin git-<gitCommit>.yaml are byte-identical,
// so they share one blob ID. Its outcome counts only if the record then
// names exactly that commit, repository and path; otherwise the check runs
// again with the record's values.
type sourceGuess struct {
	repo, commit, path string
	done               chan struct{}
	err                error
	cancel             context.CancelFunc
}

// guessSource starts a sourceGuess, or returns nil when the config does not
// pin the source or the directory does not name one commit.
func (r *runner) guessSource(ctx context.Context, remote *gitrepo.Remote, freight plumbing.Hash) *sourceGuess {
	want := r.plan.Packaging
	if !r.plan.Checks.SourceCommit || want.SourceRepo == "" || want.SourcePath == "" {
		return nil
	}
	files, err := remote.ListDir(ctx, freight, r.plan.BuildLockDir)
	if err != nil {
		return nil // reading the record reports it
	}
	var cur plumbing.Hash
	for _, f := range files {
		if path.Base(f.Path) == warehouse.CurrentName {
			cur = f.Hash
		}
	}
	commit := ""
	for _, f := range files {
		name := path.Base(f.Path)
		c := strings.TrimSuffix(strings.TrimPrefix(name, "git-"), ".yaml")
		if cur.IsZero() || f.Hash != cur || name == warehouse.CurrentName || warehouse.HistoricalName(c) != name || !plumbing.IsHash(c) {
			continue
		}
		if commit != "" {
			return nil
		}
		commit = c
	}
	if commit == "" {
		return nil
	}
	gctx, cancel := context.WithCancel(ctx)
	g := &sourceGuess{repo: want.SourceRepo, commit: commit, path: want.SourcePath, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(g.done)
		g.err = r.probeSource(gctx, g.repo, g.commit, g.path)
	}()
	return g
}

// result waits for the guess's outcome and returns it with ok=true if the
// guess is about what rec names; otherwise it stops the guess and returns
// ok=false.
func (g *sourceGuess) result(ctx context.Context, rec *warehouse.Record) (ok bool, err error) {
	if g == nil {
		return false, nil
	}
	if rec.GitCommit != g.commit || rec.Packaging.SourceRepo != g.repo || rec.Packaging.SourcePath != g.path {
		g.stop()
		return false, nil
	}
	select {
	case <-g.done:
		return true, g.err
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

// stop cancels the guess if it is still running. Safe on nil.
func (g *sourceGuess) stop() {
	if g != nil {
		g.cancel()
	}
}

// editTargets reads every target file at the tip and applies the release.
func (r *runner) editTargets(ctx context.Context, tip gitrepo.Snapshot, rec *warehouse.Record) ([]fileEdit, []TargetChange, error) {
	paths := r.targetPaths()
	files, err := tip.ReadFiles(ctx, paths...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading targets at %s: %w", short(tip.Commit().String()), err)
	}
	current := map[string][]byte{}
	for _, p := range paths {
		f := files[p]
		if !f.Exists {
			return nil, nil, Terminal(fmt.Errorf("target %s does not exist on %s at %s", p, r.plan.Branch, short(tip.Commit().String())))
		}
		current[p] = f.Data
	}
	var changes []TargetChange
	// Every scalar written, and by which target: two targets may not
	// give one scalar two values (the last would win without a word).
	type write struct{ value, by string }
	written := map[string]write{}
	var by string // the target being applied, for messages
	set := func(p string, edit func([]byte) ([]byte, []target.Change, error)) error {
		out, chs, err := edit(current[p])
		if err != nil {
			return Terminal(fmt.Errorf("editing %s: %w", p, err))
		}
		for _, c := range chs {
			k := p + "\x00" + c.Key
			if w, ok := written[k]; ok && w.value != c.New {
				return Terminal(fmt.Errorf("%w: %s sets %s in %s to %q, but %s sets it to %q; one scalar cannot take both", ErrConflictingTargets, by, c.Key, p, c.New, w.by, w.value))
			}
			written[k] = write{c.New, by}
		}
		current[p] = out
		for _, c := range chs {
			changes = append(changes, TargetChange{Path: p, Key: c.Key, Old: c.Old, New: c.New})
		}
		return nil
	}
	one := func(out []byte, c target.Change, err error) ([]byte, []target.Change, error) {
		return out, []target.Change{c}, err
	}
	for i, t := range r.plan.Targets {
		by = fmt.Sprintf("targets[%d] (%s %s)", i, t.Kind, t.Path)
		var err error
		switch t.Kind {
		case TargetDeploymentFile:
			err = set(t.Path, func(in []byte) ([]byte, []target.Change, error) {
				return one(target.SetValue(in, t.Key, rec.GitCommit))
			})
			if err == nil && t.SetImage {
				err = set(t.ValuesFile, func(in []byte) ([]byte, []target.Change, error) {
					return one(target.SetValue(in, t.ImageKey, r.imageValue(rec, t.PinDigest)))
				})
			}
		case TargetApplication:
			err = set(t.Path, func(in []byte) ([]byte, []target.Change, error) {
				return one(target.SetApplicationRevision(in, rec.Packaging.SourceRepo, rec.GitCommit))
			})
		case TargetKustomization:
			edit := target.KustomizeEdit{
				SourceRepo: rec.Packaging.SourceRepo, SourcePath: rec.Packaging.SourcePath,
				Ref: rec.GitCommit, ImageName: t.ImageName, NewTag: rec.ReleaseID,
			}
			if edit.ImageName == "" {
				edit.ImageName = rec.ImageRepository()
			}
			if t.PinDigest {
				edit.Digest = rec.Image.Digest
			}
			err = set(t.Path, func(in []byte) ([]byte, []target.Change, error) { return target.SetKustomization(in, edit) })
		default:
			err = Terminal(fmt.Errorf("unknown target kind %q", t.Kind))
		}
		if err != nil {
			return nil, nil, err
		}
	}
	edits := make([]fileEdit, 0, len(paths))
	for _, p := range paths {
		edits = append(edits, fileEdit{path: p, old: files[p].Data, new: current[p]})
	}
	return edits, changes, nil
}

// targetPaths lists every file the targets read and write, once each.
func (r *runner) targetPaths() []string {
	var paths []string
	for _, t := range r.plan.Targets {
		paths = appendUnique(paths, t.Path)
		if t.Kind == TargetDeploymentFile && t.SetImage {
			paths = appendUnique(paths, t.ValuesFile)
		}
	}
	return paths
}

// imageValue is what a stage's image key is set to: the tagged ref, or
// repo@digest when the target pins digests.
func (r *runner) imageValue(rec *warehouse.Record, pin bool) string {
	if pin {
		return rec.ImageRepository() + "@" + rec.Image.Digest
	}
	return rec.Image.Ref
}

func (r *runner) pinsDigest() bool {
	for _, t := range r.plan.Targets {
		if t.PinDigest {
			return true
		}
	}
	return false
}

func (r *runner) gitOptions(repoURL string, auth *UserPass) gitrepo.Options {
	// Files are bounded before they are inflated: the record parser and
	// the editors refuse anything larger anyway.
	o := gitrepo.Options{Logger: r.log, InsecureSkipTLSVerifyHosts: r.plan.InsecureSkipTLSVerifyHosts,
		MaxFileSize: max(warehouse.MaxRecordSize, target.MaxFileSize)}
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

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && strings.EqualFold(ua.Host, ub.Host)
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
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
	targets, _ := json.Marshal(out.targets)
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
	if out.branch != "" {
		output[OutputBranch] = out.branch
		output[OutputAttempts] = out.attempts
		var list []any
		_ = json.Unmarshal(targets, &list)
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
		Status:  kargo.StatusSucceeded,
		Message: msg,
		Output:  output,
		Diff:    out.diff,
	}
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
