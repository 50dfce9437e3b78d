package warehouse

// Reading a record file: the encoding, the YAML structure (one mapping, no
// anchors, aliases, tags or duplicate keys, known fields only) and then the
// record's invariants.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	yamlv3 "go.yaml.in/yaml/v3"
)

// Parse decodes and validates one record file. file names the file in error
// messages only. Every error it returns matches ErrInvalidRecord; content
// problems are *FieldError values (several joined with errors.Join).
func Parse(file string, data []byte) (*Record, error) {
	root, err := readRecordYAML(file, data, recordSpec, "a build-lock record mapping")
	if err != nil {
		return nil, err
	}
	// Values come from the node tree as written: a plain gitCommit such as
	// 1234…e56 is a string to Psych, which writes it unquoted, while YAML 1.2
	// readers would resolve it as a float.
	w := wireRecord{
		SchemaVersion: scalarAt(root, "schemaVersion"),
		ReleaseID:     scalarAt(root, "releaseId"),
		GitCommit:     scalarAt(root, "gitCommit"),
		Image:         Image{Ref: scalarAt(root, "image", "ref"), Digest: scalarAt(root, "image", "digest")},
		Packaging: Packaging{
			Kind:       scalarAt(root, "packaging", "kind"),
			SourceRepo: scalarAt(root, "packaging", "sourceRepo"),
			SourcePath: scalarAt(root, "packaging", "sourcePath"),
		},
		CreatedAt: scalarAt(root, "createdAt"),
	}
	r := &Record{
		SchemaVersion: w.SchemaVersion,
		ReleaseID:     w.ReleaseID,
		GitCommit:     w.GitCommit,
		Image:         w.Image,
		Packaging:     w.Packaging,
	}
	var errs []error
	if t, err := parseCreatedAt(w.CreatedAt); err != nil {
		errs = append(errs, &FieldError{File: file, Field: "createdAt", Problem: err.Error()})
	} else {
		r.CreatedAt = t
	}
	if err := r.Validate(file); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// wireRecord is Record as it is written: createdAt is a string, checked here
// rather than by encoding/json so the error can say what was wrong.
type wireRecord struct {
	SchemaVersion string    `json:"schemaVersion"`
	ReleaseID     string    `json:"releaseId"`
	GitCommit     string    `json:"gitCommit"`
	Image         Image     `json:"image"`
	Packaging     Packaging `json:"packaging"`
	CreatedAt     string    `json:"createdAt"`
}

func parseCreatedAt(s string) (time.Time, error) {
	const want = "an RFC 3339 UTC time in seconds like \"2026-03-22T10:10:09Z\""
	t, err := time.Parse(time.RFC3339, s)
	switch {
	case err != nil:
		return time.Time{}, fmt.Errorf("expected %s, found %s", want, quote(s))
	case !strings.HasSuffix(s, "Z"):
		return time.Time{}, fmt.Errorf("expected %s, found %s with a non-UTC offset", want, quote(s))
	case t.Nanosecond() != 0 || strings.Contains(s, "."):
		return time.Time{}, fmt.Errorf("expected %s, found %s with fractional seconds", want, quote(s))
	}
	return t.UTC(), nil
}

// readRecordYAML is the strict reading every record kind shares: the size
// limit before any parsing, plain LF UTF-8, then the document's structure
// against spec. It returns the mapping node.
func readRecordYAML(file string, data []byte, spec []fieldSpec, want string) (*yamlv3.Node, error) {
	if len(data) > MaxRecordSize {
		return nil, &FieldError{File: file, Problem: fmt.Sprintf("file is %d bytes, larger than the %d-byte limit for a record", len(data), MaxRecordSize)}
	}
	if err := checkEncoding(file, data); err != nil {
		return nil, err
	}
	return checkStructure(file, data, spec, want)
}

func checkEncoding(file string, data []byte) error {
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return &FieldError{File: file, Problem: "starts with a UTF-8 byte order mark; records are plain UTF-8 without a BOM"}
	}
	if i := bytes.IndexByte(data, '\r'); i >= 0 {
		line := bytes.Count(data[:i], []byte("\n")) + 1
		return &FieldError{File: file, Problem: fmt.Sprintf("carriage return (CRLF line ending) on line %d; records use LF line endings only", line)}
	}
	if !utf8.Valid(data) {
		return &FieldError{File: file, Problem: "is not valid UTF-8"}
	}
	return nil
}

// fieldSpec describes one key of the record: a string leaf, or a mapping with
// its own keys.
type fieldSpec struct {
	key      string
	children []fieldSpec
}

// maxKeyErrors bounds the key problems listed per mapping, so a hostile file
// of many keys yields a short error rather than megabytes of text.
const maxKeyErrors = 10

var recordSpec = []fieldSpec{
	{key: "schemaVersion"},
	{key: "releaseId"},
	{key: "gitCommit"},
	{key: "image", children: []fieldSpec{{key: "ref"}, {key: "digest"}}},
	{key: "packaging", children: []fieldSpec{{key: "kind"}, {key: "sourceRepo"}, {key: "sourcePath"}}},
	{key: "createdAt"},
}

// checkStructure parses data into yaml.v3 nodes, which keeps aliases as alias
// nodes instead of expanding them, and checks the shape of the document:
// one document, one mapping, known keys once each, string leaves, no anchors.
// want says what the file should hold, for the message about an empty one.
func checkStructure(file string, data []byte, spec []fieldSpec, want string) (*yamlv3.Node, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var doc yamlv3.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{File: file, Problem: "is empty; expected " + want}
		}
		return nil, &FieldError{File: file, Problem: fmt.Sprintf("is not valid YAML: %v", err)}
	}
	var extra yamlv3.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &FieldError{File: file, Problem: "holds more than one YAML document; expected exactly one"}
	}
	if n := findAnchorOrAlias(&doc); n != nil {
		return nil, &FieldError{File: file, Problem: fmt.Sprintf("uses a YAML anchor or alias on line %d; records never contain them", n.Line)}
	}
	if len(doc.Content) != 1 {
		return nil, &FieldError{File: file, Problem: "expected one mapping in the document"}
	}
	if err := checkMapping(file, "", doc.Content[0], spec); err != nil {
		return nil, err
	}
	return doc.Content[0], nil
}

func findAnchorOrAlias(n *yamlv3.Node) *yamlv3.Node {
	if n.Kind == yamlv3.AliasNode || n.Anchor != "" {
		return n
	}
	for _, c := range n.Content {
		if f := findAnchorOrAlias(c); f != nil {
			return f
		}
	}
	return nil
}

func checkMapping(file, prefix string, n *yamlv3.Node, spec []fieldSpec) error {
	field := strings.TrimSuffix(prefix, ".")
	if n.Kind != yamlv3.MappingNode || n.ShortTag() != "!!map" {
		return &FieldError{File: file, Field: field, Problem: fmt.Sprintf("expected a mapping, found %s on line %d", describeNode(n), n.Line)}
	}
	seen := make(map[string]*yamlv3.Node, len(spec))
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		if len(errs) >= maxKeyErrors {
			errs = append(errs, &FieldError{File: file, Field: field, Problem: fmt.Sprintf("more key problems after line %d not listed", n.Content[i].Line)})
			break
		}
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yamlv3.ScalarNode || k.ShortTag() != "!!str" {
			errs = append(errs, &FieldError{File: file, Field: field, Problem: fmt.Sprintf("expected string keys, found %s key on line %d", describeNode(k), k.Line)})
			continue
		}
		var fs *fieldSpec
		for j := range spec {
			if spec[j].key == k.Value {
				fs = &spec[j]
			}
		}
		if fs == nil {
			errs = append(errs, &FieldError{File: file, Field: prefix + k.Value, Problem: fmt.Sprintf("unknown key on line %d; expected only %s", k.Line, keyList(spec))})
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			errs = append(errs, &FieldError{File: file, Field: prefix + k.Value, Problem: fmt.Sprintf("duplicate key on line %d (first on line %d)", k.Line, prev.Line)})
			continue
		}
		seen[k.Value] = k
		if fs.children != nil {
			if err := checkMapping(file, prefix+k.Value+".", v, fs.children); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if !stringScalar(v) {
			errs = append(errs, &FieldError{File: file, Field: prefix + k.Value, Problem: fmt.Sprintf("expected a string, found %s on line %d", describeNode(v), v.Line)})
		}
	}
	for _, fs := range spec {
		if _, ok := seen[fs.key]; !ok {
			errs = append(errs, &FieldError{File: file, Field: prefix + fs.key, Problem: "missing; every field of a schema v1 record is required"})
		}
	}
	return errors.Join(errs...)
}

// stringScalar reports whether n holds a string as Psych writes it: a string
// scalar, or a plain one that YAML 1.2 would read as a number but Psych's
// YAML 1.1 scanner keeps as a string (it needs a "." for a float).
func stringScalar(n *yamlv3.Node) bool {
	if n.Kind != yamlv3.ScalarNode {
		return false
	}
	switch n.ShortTag() {
	case "!!str":
		return true
	case "!!float":
		return n.Style == 0 && !psychNonString(n.Value)
	}
	return false
}

// scalarAt returns the value at the key path in a mapping readRecordYAML
// accepted.
func scalarAt(m *yamlv3.Node, keys ...string) string {
	for _, k := range keys {
		var next *yamlv3.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == k {
				next = m.Content[i+1]
			}
		}
		if next == nil {
			return ""
		}
		m = next
	}
	return m.Value
}

func keyList(spec []fieldSpec) string {
	keys := make([]string, len(spec))
	for i, fs := range spec {
		keys[i] = fs.key
	}
	return strings.Join(keys, ", ")
}

func describeNode(n *yamlv3.Node) string {
	switch n.Kind {
	case yamlv3.MappingNode:
		return "a mapping"
	case yamlv3.SequenceNode:
		return "a sequence"
	case yamlv3.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return "the string " + quote(n.Value)
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.ShortTag(), "!!"), quote(n.Value))
	}
	return "an unexpected node"
}
