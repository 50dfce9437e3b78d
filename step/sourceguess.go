package step

// The source check started before the record is read (see sourceGuess).

import (
	"context"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

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

// sourceGuessable reports whether the config pins what a sourceGuess needs:
// the source check on, and packaging.sourceRepo and sourcePath.
func (r *runner) sourceGuessable() bool {
	want := r.plan.Packaging
	return r.plan.Checks.SourceCommit && want.SourceRepo != "" && want.SourcePath != ""
}

// guessSource starts a sourceGuess for commit (the Freight's listed
// release), or returns nil when the config does not pin the source or the
// directory names no one commit ("").
func (r *runner) guessSource(ctx context.Context, commit string) *sourceGuess {
	want := r.plan.Packaging
	if !r.sourceGuessable() || commit == "" {
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

// listedRelease returns the gitCommit the Freight's build-lock directory
// names without reading any file: the one historical git-<sha>.yaml whose
// blob is current.yaml's (twins are byte-identical). "" when the listing
// does not name exactly one; the record, once read, is what counts.
func (r *runner) listedRelease(ctx context.Context, remote *gitrepo.Remote, freight plumbing.Hash) string {
	files, err := remote.ListDir(ctx, freight, r.plan.BuildLockDir)
	if err != nil {
		return "" // reading the record reports it
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
			return ""
		}
		commit = c
	}
	return commit
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
