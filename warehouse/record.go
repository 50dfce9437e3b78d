package warehouse

import (
	"errors"
	"strings"
	"time"
)

// SchemaV1 is the only schemaVersion this package reads and writes.
const SchemaV1 = "v1"

// CurrentName is the file name of the stable record that Kargo's Warehouse watches.
const CurrentName = "current.yaml"

// MaxRecordSize is the largest record file accepted; larger files are refused
// before any parsing.
const MaxRecordSize = 1 << 20

// PackagingHelm is the packaging kind of a Helm chart kept in the source repository.
const PackagingHelm = "helm"

// PackagingKustomize is the packaging kind of a Kustomize base kept in the source repository.
const PackagingKustomize = "kustomize"

// ErrInvalidRecord is matched (errors.Is) by every error about the content of
// a record or a record set. It is terminal: retrying cannot fix it.
var ErrInvalidRecord = errors.New("invalid build-lock record")

// FieldError is a problem with one field of one record file. It says what was
// expected and what was found. Field is a dotted path such as "image.ref", or
// empty when the problem concerns the whole file (size, encoding, structure).
type FieldError struct {
	File, Field, Problem string
}

// Error returns "<file>: <field>: <problem>" (or "<file>: <problem>" when Field is empty).
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.File + ": " + e.Problem
	}
	return e.File + ": " + e.Field + ": " + e.Problem
}

// Is reports whether target is ErrInvalidRecord.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidRecord }

// SetError is a problem with the pair of files that make up a published build
// (current.yaml and its historical twin): a file is missing, the bytes differ,
// or the historical name does not match the record's gitCommit.
type SetError struct {
	Dir, Problem string
}

// Error returns "<dir>: <problem>".
func (e *SetError) Error() string { return e.Dir + ": " + e.Problem }

// Is reports whether target is ErrInvalidRecord.
func (e *SetError) Is(target error) bool { return target == ErrInvalidRecord }

// Image is the container image of a build: a tag reference and the digest it
// resolved to when the build was published.
type Image struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

// Packaging says how the source commit is deployed: a Helm chart or a
// Kustomize base at SourcePath in SourceRepo.
type Packaging struct {
	Kind       string `json:"kind"`
	SourceRepo string `json:"sourceRepo"`
	SourcePath string `json:"sourcePath"`
}

// Record is a build-lock record (schema v1): one source commit, one image
// digest, and where the deployable manifests live.
type Record struct {
	SchemaVersion string    `json:"schemaVersion"`
	ReleaseID     string    `json:"releaseId"`
	GitCommit     string    `json:"gitCommit"`
	Image         Image     `json:"image"`
	Packaging     Packaging `json:"packaging"`
	CreatedAt     time.Time `json:"createdAt"`
}

// ReleaseID returns the release identifier of a source commit: "git-<sha>".
func ReleaseID(gitCommit string) string { return "git-" + gitCommit }

// HistoricalName returns the file name of the immutable record of a source
// commit: "git-<sha>.yaml".
func HistoricalName(gitCommit string) string { return ReleaseID(gitCommit) + ".yaml" }

// New returns a validated schema v1 record. The image ref must already carry
// the tag ReleaseID(gitCommit). createdAt is stored in UTC, truncated to seconds.
func New(gitCommit, imageRef, imageDigest, packagingKind, sourceRepo, sourcePath string, createdAt time.Time) (*Record, error) {
	r := &Record{
		SchemaVersion: SchemaV1,
		ReleaseID:     ReleaseID(gitCommit),
		GitCommit:     gitCommit,
		Image:         Image{Ref: imageRef, Digest: imageDigest},
		Packaging:     Packaging{Kind: packagingKind, SourceRepo: sourceRepo, SourcePath: sourcePath},
		CreatedAt:     createdAt.UTC().Truncate(time.Second),
	}
	if err := r.Validate(HistoricalName(gitCommit)); err != nil {
		return nil, err
	}
	return r, nil
}

// ImageRepository returns the image ref without its tag, e.g.
// "ghcr.io/org/app" for "ghcr.io/org/app:git-<sha>".
func (r *Record) ImageRepository() string {
	ref := r.Image.Ref
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i+1:], "/") {
		return ref[:i]
	}
	return ref
}
