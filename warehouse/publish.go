package warehouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/argo-refs/argo-refs/internal/trailers"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// ErrConflict reports a historical record that already exists with other
// bytes: records are immutable, so the publish is refused.
var ErrConflict = errors.New("a different record already exists")

// PublishOptions says where and how a record is published.
type PublishOptions struct {
	// Dir is the build-lock directory, e.g. "warehouses/codeai/builds".
	Dir string
	// Branch is the branch to commit to.
	Branch string
	// Message is the commit message; empty means a default naming the release.
	Message string
	// ForceCurrent writes current.yaml even when it holds a newer record.
	ForceCurrent bool
	// Author is the commit's author and committer.
	Author gitrepo.Signature
	// Signer, when set, signs the commit (every attempt's).
	Signer gitrepo.Signer
	// MaxAttempts bounds the retries after a push race; zero means the
	// gitrepo default.
	MaxAttempts int
	// BaseDelay is the first back-off after a push race (jittered, doubling,
	// capped); zero means the gitrepo default.
	BaseDelay time.Duration
	// BeforePush, if set, must return nil before anything is pushed (see
	// gitrepo.UpdateOptions.BeforePush); its error is returned wrapped.
	BeforePush func(ctx context.Context) error
}

// Outcome says what a publish did.
type Outcome string

// The outcomes of a publish.
const (
	// OutcomePublished: the historical record and current.yaml were written.
	OutcomePublished Outcome = "published"
	// OutcomeHistoricalOnly: current.yaml holds a newer record and was kept.
	OutcomeHistoricalOnly Outcome = "historical-only"
	// OutcomeUnchanged: the same record was already published; nothing written.
	OutcomeUnchanged Outcome = "unchanged"
)

// PublishResult reports a publish.
type PublishResult struct {
	Outcome        Outcome `json:"outcome"`
	ReleaseID      string  `json:"releaseId"`
	HistoricalPath string  `json:"historicalPath"`
	CurrentPath    string  `json:"currentPath"`
	// CurrentHolds is the releaseId current.yaml holds afterwards.
	CurrentHolds string `json:"currentHolds"`
	Commit       string `json:"commit,omitempty"`
	Branch       string `json:"branch"`
	Attempts     int    `json:"attempts"`
}

// plan decides which files a publish writes, given the bytes found (nil for
// absent). It is shared by the remote and the local publish.
func plan(rec *Record, dir string, hist, cur []byte, force bool) (changes map[string][]byte, holds string, outcome Outcome, err error) {
	want := rec.Render()
	histPath := path.Join(dir, HistoricalName(rec.GitCommit))
	curPath := path.Join(dir, CurrentName)
	changes = map[string][]byte{}
	if hist != nil && !bytes.Equal(hist, want) {
		existing, perr := Parse(histPath, hist)
		if perr != nil {
			return nil, "", "", fmt.Errorf("publishing %s: %s is not a valid record (%v): %w; fix or remove it by hand", rec.ReleaseID, histPath, perr, ErrConflict)
		}
		if why := sameBuild(existing, rec); why != "" {
			return nil, "", "", fmt.Errorf("publishing %s: %s: %w: %s", rec.ReleaseID, histPath, ErrConflict, why)
		}
		// The same build published again (a CI re-run): the first record
		// stands, createdAt included, and current.yaml is judged by it.
		rec, want = existing, hist
	}
	if hist == nil {
		changes[histPath] = want
	}
	holds, outcome = decideCurrent(changes, curPath, cur, want, rec.ReleaseID, func(cur []byte) string {
		existing, perr := Parse(curPath, cur)
		if force || perr != nil || !existing.CreatedAt.After(rec.CreatedAt) {
			// A damaged current.yaml is repaired by the next valid record.
			return ""
		}
		return existing.ReleaseID
	})
	return changes, holds, outcome, nil
}

// sameBuild says why rec is not the build existing records ("" when it
// is): a record is immutable, so another digest, image or packaging for
// the same commit is refused, with what to do about it.
func sameBuild(existing, rec *Record) string {
	switch {
	case existing.GitCommit != rec.GitCommit:
		return fmt.Sprintf("it records gitCommit %s, this publish %s", existing.GitCommit, rec.GitCommit)
	case existing.Image.Digest != rec.Image.Digest:
		return fmt.Sprintf("it records image digest %s, this publish %s: the tag %s was pushed again with another image. "+
			"A published tag must not move (promotions of this build now fail): push the image %s back to the tag, or build from a new commit",
			existing.Image.Digest, rec.Image.Digest, rec.Image.Ref, existing.Image.Digest)
	case existing.Image.Ref != rec.Image.Ref:
		return fmt.Sprintf("it records image %s, this publish %s", existing.Image.Ref, rec.Image.Ref)
	case existing.Packaging != rec.Packaging:
		return fmt.Sprintf("it records packaging %s %s %s, this publish %s %s %s", existing.Packaging.Kind, existing.Packaging.SourceRepo, existing.Packaging.SourcePath,
			rec.Packaging.Kind, rec.Packaging.SourceRepo, rec.Packaging.SourcePath)
	}
	return ""
}

// decideCurrent adds current.yaml (found as cur, nil when absent) to
// changes as want, the record id, unless newerHolder says it holds a newer
// valid record (its id; "" when it does not), and names the outcome.
func decideCurrent(changes map[string][]byte, curPath string, cur, want []byte, id string, newerHolder func(cur []byte) string) (holds string, outcome Outcome) {
	holds = id
	if cur != nil {
		if h := newerHolder(cur); h != "" {
			holds = h
		}
	}
	if holds == id && !bytes.Equal(cur, want) {
		changes[curPath] = want
	}
	switch {
	case len(changes) == 0:
		return holds, OutcomeUnchanged
	case holds != id:
		return holds, OutcomeHistoricalOnly
	}
	return holds, OutcomePublished
}

func (o PublishOptions) message(rec *Record) string {
	if o.Message != "" {
		return o.Message
	}
	return fmt.Sprintf("Publish build-lock record %s", rec.ReleaseID)
}

// Publish writes rec into the GitOps repository behind remote: the historical
// file and, unless a newer record is current, current.yaml, in one commit on
// opts.Branch. A push race is retried on the new tip; nothing is forced.
func Publish(ctx context.Context, remote *gitrepo.Remote, rec *Record, opts PublishOptions) (PublishResult, error) {
	res := PublishResult{
		ReleaseID:      rec.ReleaseID,
		HistoricalPath: path.Join(opts.Dir, HistoricalName(rec.GitCommit)),
		CurrentPath:    path.Join(opts.Dir, CurrentName),
		Branch:         opts.Branch,
	}
	apply := func(ctx context.Context, tip gitrepo.Snapshot) (*gitrepo.Edit, error) {
		files, err := tip.ReadFiles(ctx, res.HistoricalPath, res.CurrentPath)
		if err != nil {
			return nil, fmt.Errorf("reading %s at %s: %w", opts.Dir, tip.Commit(), err)
		}
		changes, holds, outcome, err := plan(rec, opts.Dir, dataOf(files[res.HistoricalPath]), dataOf(files[res.CurrentPath]), opts.ForceCurrent)
		if err != nil {
			return nil, err
		}
		res.Outcome, res.CurrentHolds = outcome, holds
		if len(changes) == 0 {
			return nil, nil
		}
		msg := trailers.Append(opts.message(rec),
			trailers.Trailer{Key: trailers.SourceCommit, Value: rec.GitCommit},
			trailers.Trailer{Key: trailers.Image, Value: rec.Image.Ref + "@" + rec.Image.Digest})
		return editOf(changes, []string{res.HistoricalPath, res.CurrentPath}, msg, opts.Author, opts.Signer), nil
	}
	up, err := remote.Update(ctx, opts.Branch, gitrepo.UpdateOptions{MaxAttempts: opts.MaxAttempts, BaseDelay: opts.BaseDelay, BeforePush: opts.BeforePush}, apply)
	res.Attempts = up.Attempts
	if err != nil {
		return res, fmt.Errorf("publishing %s to %s on %s: %w", rec.ReleaseID, remote.URL(), opts.Branch, err)
	}
	if up.Changed {
		res.Commit = up.Commit.String()
	} else {
		res.Commit = up.Tip.String()
	}
	return res, nil
}

// editOf is the commit writing changes, in the order of paths, by author
// (now, when it carries no time), signed by signer when it is set.
func editOf(changes map[string][]byte, paths []string, message string, author gitrepo.Signature, signer gitrepo.Signer) *gitrepo.Edit {
	edit := &gitrepo.Edit{Message: message, Author: author, Signer: signer}
	for _, p := range paths {
		if data, ok := changes[p]; ok {
			edit.Changes = append(edit.Changes, gitrepo.Change{Path: p, Data: data})
		}
	}
	if edit.Author.When.IsZero() {
		edit.Author.When = time.Now()
	}
	return edit
}

func dataOf(f gitrepo.File) []byte {
	if !f.Exists {
		return nil
	}
	if f.Data == nil {
		return []byte{}
	}
	return f.Data
}

// PublishLocal writes rec into the local directory dir, with the same rules
// as Publish (immutable historical file, current.yaml only moves forward
// unless force). Files are replaced atomically.
func PublishLocal(dir string, rec *Record, force bool) (PublishResult, error) {
	res := PublishResult{
		ReleaseID:      rec.ReleaseID,
		HistoricalPath: filepath.Join(dir, HistoricalName(rec.GitCommit)),
		CurrentPath:    filepath.Join(dir, CurrentName),
	}
	hist, err := readIfExists(res.HistoricalPath)
	if err != nil {
		return res, err
	}
	cur, err := readIfExists(res.CurrentPath)
	if err != nil {
		return res, err
	}
	changes, holds, outcome, err := plan(rec, ".", hist, cur, force)
	if err != nil {
		return res, err
	}
	res.Outcome, res.CurrentHolds = outcome, holds
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("creating %s: %w", dir, err)
	}
	for name, data := range changes {
		if err := writeAtomic(filepath.Join(dir, name), data); err != nil {
			return res, err
		}
	}
	return res, nil
}

func readIfExists(p string) ([]byte, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return data, nil
}

func writeAtomic(p string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+filepath.Base(p)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}
