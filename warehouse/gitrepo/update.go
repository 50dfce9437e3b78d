package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// Edit is what an ApplyFunc wants committed.
type Edit struct {
	Changes []Change
	Message string
	Author  Signature
	// Signer, when set, signs the commit; every attempt signs its own.
	Signer Signer
}

// Snapshot is a fetched commit an ApplyFunc reads from.
type Snapshot interface {
	// Commit is the commit the snapshot shows.
	Commit() plumbing.Hash
	// ReadFiles reads files at the commit, as Remote.ReadFiles.
	ReadFiles(ctx context.Context, paths ...string) (map[string]File, error)
}

// ApplyFunc computes the edit against the current branch tip; a nil Edit
// means nothing to change. It may be called once per attempt, so it must
// derive the edit from tip alone.
type ApplyFunc func(ctx context.Context, tip Snapshot) (*Edit, error)

// UpdateOptions tune Update.
type UpdateOptions struct {
	// Also lists extra commits fetched in the same request as the first
	// tip (e.g. the Freight commit).
	Also []plumbing.Hash
	// MaxAttempts bounds the attempts; 0 means 20, enough for a dozen
	// writers racing on one branch (each round one of them lands). The
	// context's deadline bounds the time spent either way.
	MaxAttempts int
	// BaseDelay is the first back-off before a retry; 0 means 200ms. Delays
	// grow exponentially, are capped at 5s and fully jittered.
	BaseDelay time.Duration
	// NewBranch, if set, makes Update create this branch from the tip of
	// the branch it was given (e.g. for a review pull request) instead of
	// moving that branch. Update then does not retry: an existing NewBranch
	// is an error wrapping ErrBranchExists and ErrStale.
	NewBranch string
	// Lock, if set, is called at the start of every attempt, before the
	// tip is read, and the function it returns once the attempt has pushed
	// (or given up): a process orders its own pushes to a branch so that
	// they do not race each other. Back-off waits happen unlocked.
	Lock func(ctx context.Context) (unlock func(), err error)
	// BeforePush, if set, is called after the commit is built and before
	// every push; an error stops Update without pushing and is returned as
	// is. It lets a caller check something slow (e.g. a registry) while the
	// fetch runs, and still never push unchecked.
	BeforePush func(ctx context.Context) error
}

// UpdateResult reports what Update did.
type UpdateResult struct {
	// Commit is the commit pushed, or the tip if nothing changed.
	Commit plumbing.Hash
	// Tip is the tip the last attempt started from.
	Tip plumbing.Hash
	// Changed is false if there was nothing to commit (nothing was pushed).
	Changed bool
	// Attempts is the number of attempts made (1 without a race).
	Attempts int
	// Branch is the branch written (or that would have been).
	Branch string
}

const (
	maxDelay           = 5 * time.Second
	defaultMaxAttempts = 20
)

type snapshot struct {
	r      *Remote
	commit plumbing.Hash
}

func (s snapshot) Commit() plumbing.Hash { return s.commit }

func (s snapshot) ReadFiles(ctx context.Context, paths ...string) (map[string]File, error) {
	return s.r.ReadFiles(ctx, s.commit, paths...)
}

// Update reads the tip of branch, fetches it (with opts.Also on the first
// attempt, in the same request), calls apply, commits the edit and pushes it
// with the tip as the expected old value. When the push loses a race
// (ErrStale), or its outcome is unknown (ErrPushOutcomeUnknown: the
// connection broke, or a 5xx or 429), it waits, re-reads the tip and starts
// over, up to opts.MaxAttempts; then it returns the last error, saying how
// many attempts were made. A push that landed although its answer was lost
// is found at the tip by the next attempt: apply then sees nothing to change
// (Changed=false), and nothing is pushed twice. A nil Edit, or changes equal to the current
// bytes, give Changed=false and no push.
func (r *Remote) Update(ctx context.Context, branch string, opts UpdateOptions, apply ApplyFunc) (UpdateResult, error) {
	if apply == nil {
		return UpdateResult{}, fmt.Errorf("updating branch %s of %s: no ApplyFunc", branch, r.url)
	}
	maxAttempts := opts.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = defaultMaxAttempts
	}
	base := opts.BaseDelay
	if base <= 0 {
		base = 200 * time.Millisecond
	}
	res := UpdateResult{Branch: branch}
	if opts.NewBranch != "" {
		res.Branch = opts.NewBranch
	}
	var lastErr error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, backoff(base, attempt-1)); err != nil {
				return res, fmt.Errorf("updating branch %s of %s after %d attempts: %w (last: %w)", branch, r.url, attempt-1, err, lastErr)
			}
		}
		res.Attempts = attempt
		err := r.attempt(ctx, branch, opts, attempt == 1, apply, &res)
		if err == nil {
			return res, nil
		}
		retry := errors.Is(err, ErrStale) || errors.Is(err, ErrPushOutcomeUnknown)
		if !retry || opts.NewBranch != "" {
			return res, err
		}
		r.log.DebugContext(ctx, "push lost a race or its answer, retrying", "url", r.url, "branch", branch, "attempt", attempt, "error", err)
		lastErr = err
	}
	return res, fmt.Errorf("updating branch %s of %s: gave up after %d attempts: %w", branch, r.url, maxAttempts, lastErr)
}

func (r *Remote) attempt(ctx context.Context, branch string, opts UpdateOptions, first bool, apply ApplyFunc, res *UpdateResult) error {
	if opts.Lock != nil {
		unlock, err := opts.Lock(ctx)
		if err != nil {
			return fmt.Errorf("waiting for this process's other pushes to %s: %w", branch, err)
		}
		defer unlock()
	}
	tip, err := r.Tip(ctx, branch)
	if err != nil {
		return err
	}
	res.Tip, res.Commit, res.Changed = tip, tip, false
	wants := []plumbing.Hash{tip}
	if first {
		wants = append(wants, opts.Also...)
	}
	if err := r.Fetch(ctx, wants...); err != nil {
		return err
	}
	edit, err := apply(ctx, snapshot{r: r, commit: tip})
	if err != nil {
		return fmt.Errorf("computing the edit of branch %s at %s: %w", branch, short(tip), err)
	}
	if edit == nil || len(edit.Changes) == 0 {
		return nil
	}
	// The trees the new commit rewrites (held already when the edit read
	// its files, as edits do).
	changed := make([]string, len(edit.Changes))
	for i, c := range edit.Changes {
		changed[i] = c.Path
	}
	if err := r.ensurePaths(ctx, map[plumbing.Hash][]string{tip: parentDirs(changed)}); err != nil {
		return err
	}
	commit, err := r.Commit(tip, *edit)
	if err != nil {
		return err
	}
	if commit == tip {
		return nil
	}
	if opts.BeforePush != nil {
		if err := opts.BeforePush(ctx); err != nil {
			r.forget(commit)
			return err
		}
	}
	target, old := branch, tip
	if opts.NewBranch != "" {
		target, old = opts.NewBranch, plumbing.ZeroHash
	}
	// The tip was just read from the advertisement: when moving branch,
	// the receive-pack advertisement would only repeat it.
	if err := r.push(ctx, target, old, commit, opts.NewBranch != ""); err != nil {
		r.forget(commit)
		return err
	}
	res.Commit, res.Changed = commit, true
	return nil
}

// forget drops the push bookkeeping of a commit that will not be pushed.
func (r *Remote) forget(commit plumbing.Hash) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, commit)
}

// backoff returns a fully jittered exponential delay for retry n (1-based).
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return rand.N(d) + 1
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
