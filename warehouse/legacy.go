package warehouse

// Legacy gitflow merge records: while the legacy fleet and the Kubernetes
// fleet run side by side, a workflow on merges into a legacy branch
// (staging, test, levelbuilder, production) writes
// <dir>/<env>/merged/git-<sha>.yaml, the fact that this release reached
// that branch, and <dir>/<env>/current.yaml, the branch's latest merge. A
// promotion gate reads the merged file at the GitOps branch tip. These
// files are never Freight: the Warehouse must not watch them.

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"time"
)

// DefaultLegacyGitflowDir is where the plan keeps the merge records of app
// codeai; other apps use warehouses/<app>/legacy-gitflow.
const DefaultLegacyGitflowDir = "warehouses/codeai/legacy-gitflow"

// LegacyEnvs are the legacy gitflow branches a merge record may name.
var LegacyEnvs = []string{"staging", "test", "levelbuilder", "production"}

// LegacyMerge says that a release was merged into a legacy branch.
type LegacyMerge struct {
	// Revision is the merged source commit (40 lowercase hex).
	Revision string `json:"revision"`
	// Tag is the release, "git-" + Revision.
	Tag string `json:"tag"`
	// MergedAt is when the merge happened (RFC 3339 UTC, seconds).
	MergedAt time.Time `json:"mergedAt"`
}

var legacyMergeSpec = []fieldSpec{{key: "revision"}, {key: "tag"}, {key: "mergedAt"}}

// NewLegacyMerge returns a validated merge record of revision.
func NewLegacyMerge(revision string, mergedAt time.Time) (*LegacyMerge, error) {
	m := &LegacyMerge{Revision: revision, Tag: ReleaseID(revision), MergedAt: mergedAt.UTC().Truncate(time.Second)}
	if mergedAt.IsZero() {
		return nil, &FieldError{File: "legacy merge record", Field: "mergedAt", Problem: "is not set"}
	}
	if err := m.validate("legacy merge record"); err != nil {
		return nil, err
	}
	return m, nil
}

// LegacyMergedPath is the merge record of release gitCommit on env's
// branch: <dir>/<env>/merged/git-<gitCommit>.yaml.
func LegacyMergedPath(dir, env, gitCommit string) string {
	return path.Join(dir, env, "merged", HistoricalName(gitCommit))
}

// LegacyCurrentPath is env's latest merge: <dir>/<env>/current.yaml.
func LegacyCurrentPath(dir, env string) string { return path.Join(dir, env, CurrentName) }

// CheckLegacyEnv refuses an env that is not one of LegacyEnvs.
func CheckLegacyEnv(env string) error {
	if !slices.Contains(LegacyEnvs, env) {
		return fmt.Errorf("legacy gitflow env %q: want one of %v", env, LegacyEnvs)
	}
	return nil
}

// ParseLegacyMerge decodes and validates one merge record file, as strictly
// as Parse reads build-lock records. Every error matches ErrInvalidRecord.
func ParseLegacyMerge(file string, data []byte) (*LegacyMerge, error) {
	root, err := readRecordYAML(file, data, legacyMergeSpec, "a legacy merge record mapping (revision, tag, mergedAt)")
	if err != nil {
		return nil, err
	}
	m := &LegacyMerge{Revision: scalarAt(root, "revision"), Tag: scalarAt(root, "tag")}
	var errs []error
	if t, err := parseCreatedAt(scalarAt(root, "mergedAt")); err != nil {
		errs = append(errs, &FieldError{File: file, Field: "mergedAt", Problem: err.Error()})
	} else {
		m.MergedAt = t
	}
	if err := m.validate(file); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

func (m *LegacyMerge) validate(file string) error {
	var errs []error
	if p := commitProblem(m.Revision); p != "" {
		errs = append(errs, &FieldError{File: file, Field: "revision", Problem: p})
	}
	if want := ReleaseID(m.Revision); m.Tag != want {
		errs = append(errs, &FieldError{File: file, Field: "tag", Problem: fmt.Sprintf("expected %q (\"git-\" + revision), found %s", want, quote(m.Tag))})
	}
	return errors.Join(errs...)
}

// Render returns the canonical bytes of m: revision, tag and mergedAt, one
// per line, each scalar written as Render writes a build-lock record's.
func (m *LegacyMerge) Render() []byte {
	b := make([]byte, 0, 128)
	for _, kv := range [][2]string{{"revision", m.Revision}, {"tag", m.Tag}, {"mergedAt", m.MergedAt.UTC().Format(time.RFC3339)}} {
		b = append(b, kv[0]...)
		b = append(b, ": "...)
		b = append(b, renderScalar(kv[1])...)
		b = append(b, '\n')
	}
	return b
}
