package target

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest input the editors accept (1 MiB).
const MaxFileSize = 1 << 20

// Change records one scalar moved by an edit.
type Change struct {
	// Key is the dotted path of the scalar, e.g. "spec.sources[0].targetRevision".
	Key string
	// Old and New are the scalar's values before and after; equal when the
	// edit had nothing to do.
	Old, New string
}

// Errors the editors wrap, so callers can classify failures with errors.Is.
// All of them are terminal: retrying with the same input cannot help.
var (
	// ErrNotFound means the key or entry the edit needs is absent.
	ErrNotFound = errors.New("key not found")
	// ErrUnsupported means the YAML uses a construct the editors refuse to
	// splice (block scalar, alias, anchor, multi-line plain scalar, ...).
	ErrUnsupported = errors.New("unsupported YAML")
	// ErrAmbiguous means more than one entry matches where exactly one must.
	ErrAmbiguous = errors.New("ambiguous match")
	// ErrNotApplication means the file holds no Argo CD Application.
	ErrNotApplication = errors.New("not an Argo CD Application")
	// ErrInvalid means the input file or an argument is malformed (not YAML,
	// too large, empty revision, ...).
	ErrInvalid = errors.New("invalid input")
	// ErrSelfCheck means an edit did not read back as intended; the output
	// was discarded. It signals a bug, never a user error.
	ErrSelfCheck = errors.New("edit self-check failed")
)

// SetValue sets the scalar at a dotted key path in the first document of in
// (e.g. "targetRevision", "image", "image.tag", "spec.sources[0].targetRevision";
// write `\.` for a dot inside a key, e.g. `locals\.yml.stack_name`).
//
// Only the bytes of the scalar change: comments, quote style, indentation,
// key order and other documents stay as they were. A plain scalar whose new
// value would not read back as the same string is written single-quoted. A
// missing key is an error wrapping ErrNotFound, never silently added. When
// the value is already set, out equals in and change.Old == change.New.
func SetValue(in []byte, keyPath string, value string) (out []byte, change Change, err error) {
	path, err := parsePath(keyPath)
	if err != nil {
		return nil, Change{}, err
	}
	docs, err := parseDocs(in)
	if err != nil {
		return nil, Change{}, err
	}
	if len(docs) == 0 {
		return nil, Change{}, fmt.Errorf("finding %s: file has no YAML document: %w", keyPath, ErrNotFound)
	}
	return setAt(in, 0, path, value)
}

// SetValueInDocument is SetValue for document doc (0-based) of a
// multi-document file; a file with fewer documents is an error wrapping
// ErrNotFound.
func SetValueInDocument(in []byte, doc int, keyPath string, value string) (out []byte, change Change, err error) {
	path, err := parsePath(keyPath)
	if err != nil {
		return nil, Change{}, err
	}
	if doc < 0 {
		return nil, Change{}, fmt.Errorf("finding %s: document index %d is negative: %w", keyPath, doc, ErrInvalid)
	}
	return setAt(in, doc, path, value)
}

// setAt sets the scalar at path in document doc of in, and self-checks the
// result.
func setAt(in []byte, doc int, path []pathElem, value string) ([]byte, Change, error) {
	key := formatPath(path)
	docs, err := parseDocs(in)
	if err != nil {
		return nil, Change{}, err
	}
	if doc >= len(docs) {
		return nil, Change{}, fmt.Errorf("finding %s: file has %d documents, want document %d: %w", key, len(docs), doc+1, ErrNotFound)
	}
	node, flow, err := lookup(docs[doc], path)
	if err != nil {
		return nil, Change{}, err
	}
	change := Change{Key: key, Old: node.Value, New: value}
	if node.Value == value {
		return in, change, nil
	}
	start, end, err := scalarSpan(in, node)
	if err != nil {
		return nil, Change{}, fmt.Errorf("locating %s: %w", key, err)
	}
	enc, err := encodeScalar(value, node.Style, flow)
	if err != nil {
		return nil, Change{}, fmt.Errorf("encoding new value of %s: %w", key, err)
	}
	out := make([]byte, 0, len(in)-(end-start)+len(enc))
	out = append(out, in[:start]...)
	out = append(out, enc...)
	out = append(out, in[end:]...)
	if err := selfCheck(out, docs, doc, path, value); err != nil {
		return nil, Change{}, fmt.Errorf("setting %s to %q: %w", key, value, err)
	}
	return out, change, nil
}

// selfCheck re-parses out and asserts it holds the same documents as before,
// except for the scalar at path, which must now read as value.
func selfCheck(out []byte, before []*yaml.Node, doc int, path []pathElem, value string) error {
	after, err := parseDocs(out)
	if err != nil {
		return fmt.Errorf("re-reading the edited file: %v: %w", err, ErrSelfCheck)
	}
	if len(after) != len(before) {
		return fmt.Errorf("edited file has %d documents, want %d: %w", len(after), len(before), ErrSelfCheck)
	}
	n, _, err := lookup(after[doc], path)
	if err != nil {
		return fmt.Errorf("re-reading the edited key: %v: %w", err, ErrSelfCheck)
	}
	if n.Value != value || n.ShortTag() != "!!str" {
		return fmt.Errorf("edited key reads back as %s %q, want string %q: %w", n.ShortTag(), n.Value, value, ErrSelfCheck)
	}
	old, _, _ := lookup(before[doc], path)
	for i := range before {
		if !sameTree(before[i], after[i], old, n) {
			return fmt.Errorf("document %d changed beyond the edited key: %w", i+1, ErrSelfCheck)
		}
	}
	return nil
}

// sameTree compares two trees, ignoring positions, and the value and style
// of the edited scalar (skipA in a, skipB in b).
func sameTree(a, b, skipA, skipB *yaml.Node) bool {
	if a == nil || b == nil {
		return a == b
	}
	if (a == skipA) != (b == skipB) {
		return false
	}
	if a.Kind != b.Kind || a.Anchor != b.Anchor || len(a.Content) != len(b.Content) ||
		a.HeadComment != b.HeadComment || a.LineComment != b.LineComment || a.FootComment != b.FootComment {
		return false
	}
	if a != skipA && (a.Value != b.Value || a.Style != b.Style || a.ShortTag() != b.ShortTag()) {
		return false
	}
	if a.Kind == yaml.AliasNode && (a.Alias == nil) != (b.Alias == nil) {
		return false
	}
	for i := range a.Content {
		if !sameTree(a.Content[i], b.Content[i], skipA, skipB) {
			return false
		}
	}
	return true
}

// parseDocs checks the size of in and decodes every YAML document in it.
func parseDocs(in []byte) ([]*yaml.Node, error) {
	if len(in) > MaxFileSize {
		return nil, fmt.Errorf("reading YAML: file is %d bytes, limit is %d: %w", len(in), MaxFileSize, ErrInvalid)
	}
	if !utf8.Valid(in) {
		return nil, fmt.Errorf("reading YAML: file is not valid UTF-8: %w", ErrInvalid)
	}
	dec := yaml.NewDecoder(bytes.NewReader(in))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parsing YAML: %v: %w", err, ErrInvalid)
		}
		docs = append(docs, &n)
	}
}

// pathElem is one step of a key path: a mapping key, or a sequence index
// when isIndex is set.
type pathElem struct {
	key     string
	index   int
	isIndex bool
}

// parsePath splits "a.b[0].c" into its elements; `\.` is a literal dot.
func parsePath(p string) ([]pathElem, error) {
	bad := func(why string) error {
		return fmt.Errorf("parsing key path %q: %s: %w", p, why, ErrInvalid)
	}
	if p == "" {
		return nil, bad("empty")
	}
	var elems []pathElem
	var key strings.Builder
	keyDone := false // a key just ended with "]"
	flush := func() error {
		if key.Len() == 0 {
			if keyDone {
				return nil
			}
			return bad("empty key")
		}
		elems = append(elems, pathElem{key: key.String()})
		key.Reset()
		return nil
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p) && (p[i+1] == '.' || p[i+1] == '[' || p[i+1] == '\\'):
			key.WriteByte(p[i+1])
			i++
			keyDone = false
		case c == '.':
			if err := flush(); err != nil {
				return nil, err
			}
			keyDone = false
			if i == len(p)-1 {
				return nil, bad("ends with a dot")
			}
		case c == '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return nil, bad("unclosed [")
			}
			n, err := strconv.Atoi(p[i+1 : i+j])
			if err != nil || n < 0 {
				return nil, bad(fmt.Sprintf("index %q is not a non-negative integer", p[i+1:i+j]))
			}
			if key.Len() > 0 {
				if err := flush(); err != nil {
					return nil, err
				}
			} else if len(elems) == 0 && i != 0 {
				return nil, bad("empty key")
			}
			elems = append(elems, pathElem{index: n, isIndex: true})
			i += j
			keyDone = true
			if i+1 < len(p) && p[i+1] != '.' && p[i+1] != '[' {
				return nil, bad("expected . or [ after ]")
			}
		default:
			key.WriteByte(c)
			keyDone = false
		}
	}
	if key.Len() > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return elems, nil
}

// formatPath is the inverse of parsePath.
func formatPath(path []pathElem) string {
	var b strings.Builder
	for i, e := range path {
		if e.isIndex {
			fmt.Fprintf(&b, "[%d]", e.index)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		r := strings.NewReplacer(`\`, `\\`, `.`, `\.`, `[`, `\[`)
		b.WriteString(r.Replace(e.key))
	}
	return b.String()
}

// lookup walks path from the document node doc to a scalar. flow reports
// whether the scalar sits inside a flow collection ({...} or [...]).
func lookup(doc *yaml.Node, path []pathElem) (node *yaml.Node, flow bool, err error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, false, fmt.Errorf("finding %s: empty document: %w", formatPath(path), ErrNotFound)
	}
	n := doc.Content[0]
	for i, e := range path {
		here := formatPath(path[:i])
		if here == "" {
			here = "the document root"
		}
		if n.Kind == yaml.AliasNode {
			return nil, false, fmt.Errorf("finding %s: %s is an alias: %w", formatPath(path), here, ErrUnsupported)
		}
		if n.Style&yaml.FlowStyle != 0 {
			flow = true
		}
		if e.isIndex {
			if n.Kind != yaml.SequenceNode {
				return nil, false, fmt.Errorf("finding %s: %s is a %s, not a sequence: %w", formatPath(path), here, kindName(n), ErrNotFound)
			}
			if e.index >= len(n.Content) {
				return nil, false, fmt.Errorf("finding %s: %s has %d entries: %w", formatPath(path), here, len(n.Content), ErrNotFound)
			}
			n = n.Content[e.index]
			continue
		}
		if n.Kind != yaml.MappingNode {
			return nil, false, fmt.Errorf("finding %s: %s is a %s, not a mapping: %w", formatPath(path), here, kindName(n), ErrNotFound)
		}
		v, err := mapValue(n, e.key)
		if err != nil {
			return nil, false, fmt.Errorf("finding %s: %w", formatPath(path), err)
		}
		if v == nil {
			return nil, false, fmt.Errorf("finding %s: %s has no key %q: %w", formatPath(path), here, e.key, ErrNotFound)
		}
		n = v
	}
	switch {
	case n.Kind == yaml.AliasNode:
		return nil, false, fmt.Errorf("finding %s: value is an alias (*%s): %w", formatPath(path), n.Value, ErrUnsupported)
	case n.Kind != yaml.ScalarNode:
		return nil, false, fmt.Errorf("finding %s: value is a %s, want a scalar: %w", formatPath(path), kindName(n), ErrUnsupported)
	}
	return n, flow, nil
}

// mapValue returns the value under key in mapping m, nil if absent. A
// duplicate key or a merge key (<<) is refused: which value wins is not
// obvious to a reader.
func mapValue(m *yaml.Node, key string) (*yaml.Node, error) {
	var found *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			return nil, fmt.Errorf("mapping at line %d uses a merge key (<<): %w", k.Line, ErrUnsupported)
		}
		if k.Kind != yaml.ScalarNode || k.Value != key {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("key %q appears twice (line %d): %w", key, k.Line, ErrUnsupported)
		}
		found = m.Content[i+1]
	}
	return found, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "node"
}
