package warehouse

// Writing a legacy gitflow merge record: the merged file and the env's
// current.yaml in one commit, with publish's rules. A push race is retried
// on the new tip, nothing is forced, a re-run of the same merge changes
// nothing, and current.yaml never moves back to an older merge.

import (
	"context"
	"fmt"
	"time"

	"github.com/argo-refs/argo-refs/internal/trailers"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// LegacyPublishOptions says where a merge record is written.
type LegacyPublishOptions struct {
	// Dir is the records' directory, e.g. DefaultLegacyGitflowDir.
	Dir string
	// Env is the legacy branch the release was merged into (LegacyEnvs).
	Env string
	// Branch is the GitOps branch to commit to.
	Branch string
	// Message is the commit message; empty means a default naming both.
	Message string
	// Author is the commit's author and committer.
	Author gitrepo.Signature
	// Signer, when set, signs the commit (every attempt's).
	Signer gitrepo.Signer
	// MaxAttempts and BaseDelay bound the retries after a push race; zero
	// means the gitrepo defaults.
	MaxAttempts int
	BaseDelay   time.Duration
}

// LegacyResult reports a merge record write.
type LegacyResult struct {
	Outcome    Outcome `json:"outcome"`
	Tag        string  `json:"tag"`
	Env        string  `json:"env"`
	MergedPath string  `json:"mergedPath"`
	// MergedAt is the merge time the merged file holds afterwards: the first
	// one recorded for this release on this branch.
	MergedAt    time.Time `json:"mergedAt"`
	CurrentPath string    `json:"currentPath"`
	// CurrentHolds is the tag current.yaml holds afterwards.
	CurrentHolds string `json:"currentHolds"`
	Commit       string `json:"commit,omitempty"`
	Branch       string `json:"branch"`
	Attempts     int    `json:"attempts"`
}

// planLegacy decides what a merge record write changes, given the bytes
// found (nil for absent). The first record of a release on a branch is the
// fact: a re-run with another merge time keeps it. A merged file that is
// not a record of this release is a conflict a person must look at.
func planLegacy(m *LegacyMerge, mergedPath, curPath string, merged, cur []byte) (changes map[string][]byte, kept *LegacyMerge, holds string, outcome Outcome, err error) {
	changes = map[string][]byte{}
	kept = m
	if merged != nil {
		existing, perr := ParseLegacyMerge(mergedPath, merged)
		switch {
		case perr != nil:
			return nil, nil, "", "", fmt.Errorf("recording %s: %s is not a valid merge record (%v): %w; fix or remove it by hand", m.Tag, mergedPath, perr, ErrConflict)
		case existing.Revision != m.Revision:
			return nil, nil, "", "", fmt.Errorf("recording %s: %s records revision %s: %w", m.Tag, mergedPath, existing.Revision, ErrConflict)
		}
		kept = existing
	} else {
		changes[mergedPath] = m.Render()
	}
	holds, outcome = decideCurrent(changes, curPath, cur, kept.Render(), kept.Tag, func(cur []byte) string {
		existing, perr := ParseLegacyMerge(curPath, cur)
		if perr != nil || !existing.MergedAt.After(kept.MergedAt) {
			return "" // a damaged current.yaml is repaired by the next valid merge
		}
		return existing.Tag
	})
	return changes, kept, holds, outcome, nil
}

// PublishLegacyMerge writes m into the GitOps repository behind remote: the
// merged file and, unless it holds a later merge, the env's current.yaml, in
// one commit on opts.Branch.
func PublishLegacyMerge(ctx context.Context, remote *gitrepo.Remote, m *LegacyMerge, opts LegacyPublishOptions) (LegacyResult, error) {
	res := LegacyResult{
		Tag: m.Tag, Env: opts.Env, Branch: opts.Branch,
		MergedPath:  LegacyMergedPath(opts.Dir, opts.Env, m.Revision),
		CurrentPath: LegacyCurrentPath(opts.Dir, opts.Env),
	}
	if err := CheckLegacyEnv(opts.Env); err != nil {
		return res, err
	}
	apply := func(ctx context.Context, tip gitrepo.Snapshot) (*gitrepo.Edit, error) {
		files, err := tip.ReadFiles(ctx, res.MergedPath, res.CurrentPath)
		if err != nil {
			return nil, fmt.Errorf("reading %s at %s: %w", opts.Dir, tip.Commit(), err)
		}
		changes, kept, holds, outcome, err := planLegacy(m, res.MergedPath, res.CurrentPath, dataOf(files[res.MergedPath]), dataOf(files[res.CurrentPath]))
		if err != nil {
			return nil, err
		}
		res.Outcome, res.CurrentHolds, res.MergedAt = outcome, holds, kept.MergedAt
		if len(changes) == 0 {
			return nil, nil
		}
		msg := opts.Message
		if msg == "" {
			msg = fmt.Sprintf("Record %s merged into legacy %s", m.Tag, opts.Env)
		}
		msg = trailers.Append(msg, trailers.Trailer{Key: trailers.SourceCommit, Value: m.Revision})
		return editOf(changes, []string{res.MergedPath, res.CurrentPath}, msg, opts.Author, opts.Signer), nil
	}
	up, err := remote.Update(ctx, opts.Branch, gitrepo.UpdateOptions{MaxAttempts: opts.MaxAttempts, BaseDelay: opts.BaseDelay}, apply)
	res.Attempts = up.Attempts
	if err != nil {
		return res, fmt.Errorf("recording %s merged into %s in %s on %s: %w", m.Tag, opts.Env, remote.URL(), opts.Branch, err)
	}
	res.Commit = up.Tip.String()
	if up.Changed {
		res.Commit = up.Commit.String()
	}
	return res, nil
}
