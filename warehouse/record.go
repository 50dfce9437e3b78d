package warehouse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
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

// Parse decodes and validates one record file. file names the file in error
// messages only. Every error it returns matches ErrInvalidRecord; content
// problems are *FieldError values (several joined with errors.Join).
func Parse(file string, data []byte) (*Record, error) {
	if len(data) > MaxRecordSize {
		return nil, &FieldError{File: file, Problem: fmt.Sprintf("file is %d bytes, larger than the %d-byte limit for a record", len(data), MaxRecordSize)}
	}
	if err := checkEncoding(file, data); err != nil {
		return nil, err
	}
	root, err := checkStructure(file, data)
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
func checkStructure(file string, data []byte) (*yamlv3.Node, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var doc yamlv3.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{File: file, Problem: "is empty; expected a build-lock record mapping"}
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
	if err := checkMapping(file, "", doc.Content[0], recordSpec); err != nil {
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

// scalarAt returns the value at the key path in a mapping checkStructure
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

var (
	hex40    = regexp.MustCompile(`^[0-9a-f]{40}$`)
	hexAny   = regexp.MustCompile(`^[0-9a-fA-F]+$`)
	digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// imageRepoRe is the repository part of the distribution reference
	// grammar: an optional registry host[:port], then lowercase path components.
	imageRepoRe = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	scpLikeRe   = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/].*$`)
)

// Validate checks every invariant of a schema v1 record and returns all the
// problems found, joined with errors.Join, each a *FieldError naming file.
func (r *Record) Validate(file string) error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{File: file, Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if r.SchemaVersion != SchemaV1 {
		add("schemaVersion", "expected %q, found %s", SchemaV1, quote(r.SchemaVersion))
	}
	if p := commitProblem(r.GitCommit); p != "" {
		add("gitCommit", "%s", p)
	}
	if want := ReleaseID(r.GitCommit); r.ReleaseID != want {
		add("releaseId", "expected %q (\"git-\" + gitCommit), found %s", want, quote(r.ReleaseID))
	}
	if p := imageRefProblem(r.Image.Ref, r.ReleaseID); p != "" {
		add("image.ref", "%s", p)
	}
	if !digestRe.MatchString(r.Image.Digest) {
		add("image.digest", "expected \"sha256:\" followed by 64 lowercase hex characters, found %s", quote(r.Image.Digest))
	}
	if r.Packaging.Kind != PackagingHelm && r.Packaging.Kind != PackagingKustomize {
		add("packaging.kind", "expected %q or %q, found %s", PackagingHelm, PackagingKustomize, quote(r.Packaging.Kind))
	}
	if p := sourceRepoProblem(r.Packaging.SourceRepo); p != "" {
		add("packaging.sourceRepo", "%s", p)
	}
	if p := sourcePathProblem(r.Packaging.SourcePath); p != "" {
		add("packaging.sourcePath", "%s", p)
	}
	switch {
	case r.CreatedAt.IsZero():
		add("createdAt", "expected an RFC 3339 UTC time, found none")
	case r.CreatedAt.Location() != time.UTC || r.CreatedAt.Nanosecond() != 0:
		add("createdAt", "expected a UTC time in whole seconds, found %s", quote(r.CreatedAt.Format(time.RFC3339Nano)))
	}
	return errors.Join(errs...)
}

func commitProblem(c string) string {
	const want = "expected a full commit SHA of 40 lowercase hex characters"
	switch {
	case hex40.MatchString(c):
		return ""
	case c == "":
		return want + ", found an empty value"
	case !hexAny.MatchString(c):
		return fmt.Sprintf("%s, found non-hex characters in %s", want, quote(c))
	case len(c) < 40:
		return fmt.Sprintf("%s, found a short SHA of %d characters %s", want, len(c), quote(c))
	case len(c) > 40:
		return fmt.Sprintf("%s, found %d characters %s", want, len(c), quote(c))
	default:
		return fmt.Sprintf("%s, found upper-case hex %s", want, quote(c))
	}
}

func imageRefProblem(ref, releaseID string) string {
	const want = "expected <repository>:" // completed below
	if ref == "" {
		return want + releaseID + ", found an empty value"
	}
	if strings.Contains(ref, "@") {
		return fmt.Sprintf("%s%s without a digest (the digest goes in image.digest), found %s", want, releaseID, quote(ref))
	}
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.Contains(ref[i+1:], "/") {
		return fmt.Sprintf("%s%s, found %s with no tag", want, releaseID, quote(ref))
	}
	repo, tag := ref[:i], ref[i+1:]
	if !imageRepoRe.MatchString(repo) {
		return fmt.Sprintf("%s%s, found %s whose repository %s is not a valid image repository", want, releaseID, quote(ref), quote(repo))
	}
	if tag != releaseID {
		return fmt.Sprintf("expected the tag to equal releaseId %q, found tag %s in %s", releaseID, quote(tag), quote(ref))
	}
	return ""
}

func sourceRepoProblem(s string) string {
	const want = "expected an https://, http://, ssh:// or user@host:path Git URL"
	if s == "" {
		return want + ", found an empty value"
	}
	if !safeChars(s) {
		return fmt.Sprintf("%s of printable ASCII without spaces, found %s", want, quote(netpolicy.RedactURL(s)))
	}
	if scpLikeRe.MatchString(s) && !strings.Contains(s, "://") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Path == "" || u.Path == "/" {
		return fmt.Sprintf("%s with a host and a path, found %s", want, quote(netpolicy.RedactURL(s)))
	}
	switch u.Scheme {
	case "https", "http":
		if u.User != nil {
			return fmt.Sprintf("expected a URL without credentials, found %s", quote(netpolicy.RedactURL(s)))
		}
	case "ssh":
		if _, hasPassword := u.User.Password(); hasPassword {
			return fmt.Sprintf("expected a URL without credentials, found %s", quote(netpolicy.RedactURL(s)))
		}
	default:
		return fmt.Sprintf("%s, found scheme %s in %s", want, quote(u.Scheme), quote(netpolicy.RedactURL(s)))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("%s without query or fragment, found %s", want, quote(netpolicy.RedactURL(s)))
	}
	return ""
}

func sourcePathProblem(p string) string {
	const want = "expected a relative path inside the source repository such as \"k8s/helm\""
	switch {
	case p == "":
		return want + ", found an empty value"
	case !safeChars(p):
		return fmt.Sprintf("%s of printable ASCII without spaces, found %s", want, quote(p))
	case strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%s, found absolute path %s", want, quote(p))
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return fmt.Sprintf("%s, found %s which contains \"..\"", want, quote(p))
		}
	}
	if strings.Contains(p, `\`) {
		return fmt.Sprintf("%s with forward slashes, found %s", want, quote(p))
	}
	return ""
}

// safeChars reports whether s is printable ASCII without spaces, the only
// characters a record's free-form fields may hold: it keeps every field a
// single token that Render can write exactly as Psych does.
func safeChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// quote quotes a found value for an error message, truncated to ~80 characters.
func quote(s string) string {
	const limit = 80
	if utf8.RuneCountInString(s) > limit {
		r := []rune(s)
		return strconv.Quote(string(r[:limit])) + "…"
	}
	return strconv.Quote(s)
}

// Render returns the canonical bytes of r: the layout the Ruby writer gets
// from Psych's YAML.dump without the leading "---" line. Fields come in schema
// order with 2-space nesting, strings are plain unless they would read back as
// another type (then quoted the way Psych quotes them), createdAt is a
// single-quoted RFC 3339 UTC time, and the file ends with a newline.
func (r *Record) Render() []byte {
	b := make([]byte, 0, 512)
	kv := func(indent, key, val string) {
		b = append(b, indent...)
		b = append(b, key...)
		b = append(b, ": "...)
		b = append(b, renderScalar(val)...)
		b = append(b, '\n')
	}
	kv("", "schemaVersion", r.SchemaVersion)
	kv("", "releaseId", r.ReleaseID)
	kv("", "gitCommit", r.GitCommit)
	b = append(b, "image:\n"...)
	kv("  ", "ref", r.Image.Ref)
	kv("  ", "digest", r.Image.Digest)
	b = append(b, "packaging:\n"...)
	kv("  ", "kind", r.Packaging.Kind)
	kv("  ", "sourceRepo", r.Packaging.SourceRepo)
	kv("  ", "sourcePath", r.Packaging.SourcePath)
	kv("", "createdAt", r.CreatedAt.UTC().Format(time.RFC3339))
	return b
}

// renderScalar writes one string value the way Psych's visit_String and
// libyaml's emitter choose its style, for the characters a valid record can
// hold (printable ASCII without spaces). Anything else only occurs in invalid
// records and is written double-quoted with escapes, so it still reads back.
func renderScalar(s string) string {
	switch {
	case s == "":
		return "''"
	case !safeChars(s):
		return strconv.QuoteToASCII(s)
	case s == "<<":
		return singleQuoted(s)
	case s == "y" || s == "Y" || s == "n" || s == "N":
		return `"` + s + `"`
	case !isWordByte(s[0]) && !strings.Contains(s[1:], `"`):
		// Psych: /^[^[:word:]][^"]*$/ is emitted double-quoted.
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	case psychNonString(s) || psychOctalLike.MatchString(s):
		return singleQuoted(s)
	case !plainAllowed(s):
		return singleQuoted(s)
	}
	return s
}

func singleQuoted(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// plainAllowed is libyaml's block-context plain-scalar test, reduced to
// strings without whitespace.
func plainAllowed(s string) bool {
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		return false
	}
	switch s[0] {
	case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		return false
	case '-', '?', ':':
		if len(s) == 1 {
			return false
		}
	}
	return !strings.HasSuffix(s, ":")
}

// Patterns of Psych's ScalarScanner.tokenize (YAML 1.1 types), ASCII only.
var (
	psychOctalLike  = regexp.MustCompile(`^0[0-7]*[89]`)
	psychStrPrefix  = regexp.MustCompile(`^[^\d.:-]?[A-Za-z_\s!@#$%^&*(){}<>|/\\~;=]+`)
	psychTime       = regexp.MustCompile(`^-?\d{4}-\d{1,2}-\d{1,2}(?:[Tt]|\s+)\d{1,2}:\d\d:\d\d(?:\.\d*)?(?:\s*(?:Z|[-+]\d{1,2}:?(?:\d\d)?))?$`)
	psychDate       = regexp.MustCompile(`^\d{4}-(?:1[012]|0\d|\d)-(?:[12]\d|3[01]|0\d|\d)$`)
	psychSpecial    = regexp.MustCompile(`(?i)^(?:\+?\.inf|-\.inf|\.nan)$`)
	psychSexagesInt = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}$`)
	psychSexagesFlt = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}\.[0-9_]*$`)
	psychFloat      = regexp.MustCompile(`^[-+]?([0-9][0-9_,]*)?\.[0-9]*([eE][-+][0-9]+)?$`)
	psychInteger    = regexp.MustCompile(`^(?:[-+]?0b[_,]*[0-1][0-1_,]*|[-+]?0[_,]*[0-7][0-7_,]*|[-+]?(?:0|[1-9](?:[0-9]|,[0-9]|_[0-9])*)|[-+]?0x[_,]*[0-9a-fA-F][0-9a-fA-F_,]*)$`)
	psychBoolNull   = regexp.MustCompile(`(?i)^(?:~|null|yes|true|on|no|false|off)$`)
)

// psychNonString reports whether Psych would read plain s as something other
// than a string, which makes Psych's dumper quote it.
func psychNonString(s string) bool {
	if psychStrPrefix.MatchString(s) {
		return len(s) <= 5 && psychBoolNull.MatchString(s)
	}
	switch {
	case psychTime.MatchString(s):
		return true
	case psychDate.MatchString(s):
		_, err := time.Parse("2006-1-2", s)
		return err == nil
	case psychSpecial.MatchString(s), strings.HasPrefix(s, ":") && len(s) > 1:
		return true
	case psychSexagesInt.MatchString(s), psychSexagesFlt.MatchString(s):
		return true
	case psychFloat.MatchString(s):
		return s != "." && s != "+." && s != "-."
	}
	return psychInteger.MatchString(s)
}
