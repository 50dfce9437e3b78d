// Package udiff writes unified diffs as git diff prints them, with go-git's
// encoder over its line diff.
package udiff

import (
	"bytes"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	fdiff "github.com/go-git/go-git/v5/plumbing/format/diff"
	"github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// File is one file's bytes before and after; nil Old or New is a file
// added or removed.
type File struct {
	Path     string
	Old, New []byte
}

// Unified renders the files that differ as one unified diff, with git's
// "diff --git" and "index" headers and three lines of context.
func Unified(files []File) (string, error) {
	var p patch
	for _, f := range files {
		if bytes.Equal(f.Old, f.New) && (f.Old == nil) == (f.New == nil) {
			continue
		}
		fp := filePatch{}
		if f.Old != nil {
			fp.from = &diffFile{path: f.Path, hash: plumbing.ComputeHash(plumbing.BlobObject, f.Old)}
		}
		if f.New != nil {
			fp.to = &diffFile{path: f.Path, hash: plumbing.ComputeHash(plumbing.BlobObject, f.New)}
		}
		for _, d := range diff.Do(string(f.Old), string(f.New)) {
			op := fdiff.Equal
			switch d.Type {
			case diffmatchpatch.DiffInsert:
				op = fdiff.Add
			case diffmatchpatch.DiffDelete:
				op = fdiff.Delete
			}
			fp.chunks = append(fp.chunks, chunk{content: d.Text, op: op})
		}
		p.files = append(p.files, fp)
	}
	var buf bytes.Buffer
	if err := fdiff.NewUnifiedEncoder(&buf, fdiff.DefaultContextLines).Encode(p); err != nil {
		return "", fmt.Errorf("rendering the diff: %w", err)
	}
	return buf.String(), nil
}

type patch struct{ files []fdiff.FilePatch }

func (p patch) FilePatches() []fdiff.FilePatch { return p.files }
func (p patch) Message() string                { return "" }

type filePatch struct {
	from, to *diffFile
	chunks   []fdiff.Chunk
}

func (f filePatch) IsBinary() bool { return false }

// Files returns nil interfaces (not typed nils) for an absent side, as the
// encoder expects for an added or removed file.
func (f filePatch) Files() (from, to fdiff.File) {
	if f.from != nil {
		from = f.from
	}
	if f.to != nil {
		to = f.to
	}
	return from, to
}

func (f filePatch) Chunks() []fdiff.Chunk { return f.chunks }

type diffFile struct {
	path string
	hash plumbing.Hash
}

func (f *diffFile) Hash() plumbing.Hash     { return f.hash }
func (f *diffFile) Mode() filemode.FileMode { return filemode.Regular }
func (f *diffFile) Path() string            { return f.path }

type chunk struct {
	content string
	op      fdiff.Operation
}

func (c chunk) Content() string       { return c.content }
func (c chunk) Type() fdiff.Operation { return c.op }
