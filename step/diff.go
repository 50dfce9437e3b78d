package step

import (
	"bytes"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	fdiff "github.com/go-git/go-git/v5/plumbing/format/diff"
	"github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// fileEdit is one file a promotion rewrites: its bytes before and after.
type fileEdit struct {
	path     string
	old, new []byte
}

// changed reports whether the edit changes the file.
func (e fileEdit) changed() bool { return !bytes.Equal(e.old, e.new) }

// unifiedDiff renders edits as the unified diff `git diff` would print for
// the commit that a promotion makes.
func unifiedDiff(edits []fileEdit) (string, error) {
	var p patch
	for _, e := range edits {
		if bytes.Equal(e.old, e.new) {
			continue
		}
		fp := filePatch{
			from: diffFile{path: e.path, hash: plumbing.ComputeHash(plumbing.BlobObject, e.old)},
			to:   diffFile{path: e.path, hash: plumbing.ComputeHash(plumbing.BlobObject, e.new)},
		}
		for _, d := range diff.Do(string(e.old), string(e.new)) {
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
	from, to diffFile
	chunks   []fdiff.Chunk
}

func (f filePatch) IsBinary() bool               { return false }
func (f filePatch) Files() (from, to fdiff.File) { return f.from, f.to }
func (f filePatch) Chunks() []fdiff.Chunk        { return f.chunks }

type diffFile struct {
	path string
	hash plumbing.Hash
}

func (f diffFile) Hash() plumbing.Hash     { return f.hash }
func (f diffFile) Mode() filemode.FileMode { return filemode.Regular }
func (f diffFile) Path() string            { return f.path }

type chunk struct {
	content string
	op      fdiff.Operation
}

func (c chunk) Content() string       { return c.content }
func (c chunk) Type() fdiff.Operation { return c.op }
