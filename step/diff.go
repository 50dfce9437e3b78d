package step

import (
	"bytes"

	"github.com/argo-refs/argo-refs/internal/udiff"
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
	files := make([]udiff.File, 0, len(edits))
	for _, e := range edits {
		files = append(files, udiff.File{Path: e.path, Old: e.old, New: e.new})
	}
	return udiff.Unified(files)
}
