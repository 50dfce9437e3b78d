package step

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

func TestCompileSchemaRefusesWhatItDoesNotImplement(t *testing.T) {
	for _, tt := range []struct {
		name, schema, want string
	}{
		{"unknown keyword at the root", `{"type": "object", "minProperties": 1}`, `schema root: keyword "minProperties" is not supported`},
		{"format in a property", `{"properties": {"a": {"type": "string", "format": "email"}}}`, `schema /properties/a: keyword "format" is not supported`},
		{"const in a $def", `{"$defs": {"x": {"const": 1}}}`, `schema /$defs/x: keyword "const" is not supported`},
		{"minimum in items", `{"items": {"type": "integer", "minimum": 0}}`, `schema /items: keyword "minimum" is not supported`},
		{"allOf in a oneOf branch", `{"oneOf": [{"required": ["a"]}, {"allOf": [{}]}]}`, `schema /oneOf/1: keyword "allOf" is not supported`},
		{"patternProperties in additionalProperties", `{"additionalProperties": {"patternProperties": {}}}`, `schema /additionalProperties: keyword "patternProperties" is not supported`},
		{"$comment", `{"$comment": "x"}`, `schema root: keyword "$comment" is not supported`},
		{"unevaluatedProperties", `{"unevaluatedProperties": false}`, `keyword "unevaluatedProperties" is not supported`},
		{"a boolean subschema", `{"items": true}`, `schema /items: is a boolean; want a schema object`},
		{"another draft", `{"$schema": "http://json-schema.org/draft-07/schema#"}`, `$schema http://json-schema.org/draft-07/schema# is not supported`},
		{"$id below the root", `{"properties": {"a": {"$id": "x"}}}`, `schema /properties/a: $id is supported only at the root`},
		{"a reference outside the document", `{"$ref": "other.json#/a"}`, `only references inside the document`},
		{"an anchor reference", `{"$ref": "#a"}`, `anchors are not supported`},
		{"a reference to nothing", `{"$defs": {}, "$ref": "#/$defs/none"}`, `schema root: $ref "#/$defs/none": no "none" in the document`},
		{"a reference cycle", `{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"oneOf": [{"$ref": "#/$defs/a"}]}}}`, `cycle that never reaches a value`},
		{"a bad pattern", `{"pattern": "a("}`, `schema root: pattern: error parsing regexp`},
		{"a negative maxLength", `{"maxLength": -1}`, `maxLength: -1 is not a non-negative integer`},
		{"a fractional minLength", `{"minLength": 1.5}`, `minLength: 1.5 is not a non-negative integer`},
		{"an unknown type", `{"type": "int"}`, `type "int" is not a JSON Schema type`},
		{"required twice", `{"required": ["a", "a"]}`, `required lists "a" twice`},
		{"an empty enum", `{"enum": []}`, `enum is a array; want a non-empty array`},
		{"a non-string description", `{"description": 1}`, `description is a number; want a string`},
		{"not JSON", `{"type": `, `parsing the schema: unexpected EOF`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileSchema([]byte(tt.schema))
			if err == nil {
				t.Fatalf("compileSchema(%s) succeeded; want an error containing %q", tt.schema, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("compileSchema(%s) = %v; want it to contain %q", tt.schema, err, tt.want)
			}
		})
	}
}

func TestCompileSchemaAcceptsEveryImplementedKeyword(t *testing.T) {
	cs, err := compileSchema([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	if cs.root.ref == nil || cs.root.properties["n"].ref == nil || cs.root.properties["n"].ref.loc != "/$defs/n" {
		t.Errorf("$ref not resolved: %+v", cs.root)
	}
	if _, err := loadSchema(); err != nil {
		t.Fatalf("loading ConfigSchema: %v", err)
	}
}

// testSchema uses every keyword the validator implements, some in forms the
// config schema does not use (type lists, integer, enum of non-strings, an
// additionalProperties schema, $ref with siblings).
const testSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://example.com/test.json",
  "title": "t",
  "$ref": "#/$defs/base",
  "type": ["object", "null"],
  "required": ["n"],
  "additionalProperties": {"type": ["string", "integer"], "maxLength": 3},
  "properties": {
    "n": {"$ref": "#/$defs/n", "description": "ref with siblings", "minLength": 2},
    "i": {"type": "integer"},
    "num": {"type": "number"},
    "e": {"enum": [null, 1, "a", true, [1, "x"], {"k": 2.0}]},
    "a": {"type": "array", "items": {"$ref": "#"}},
    "strs": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 4}},
    "u": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "number", "enum": [1.5, 2]}]},
    "t": {"oneOf": [{"required": ["x"]}, {"required": ["y"]}], "type": "object"},
    "a~b/c": {"type": "boolean"}
  },
  "$defs": {
    "base": {"description": "applies to the root too", "properties": {"b": {"type": "boolean"}}},
    "n": {"type": "string", "pattern": "é", "maxLength": 5}
  }
}`

// testInstances are validated against testSchema by both validators.
var testInstances = []string{
	`null`, `1`, `"x"`, `[]`, `{}`, `true`,
	`{"n": "é"}`, `{"n": "ééééé"}`, `{"n": "éééééé"}`, `{"n": "abcdef"}`, `{"n": 1}`, `{"n": null}`,
	`{"n": "é", "i": 1}`, `{"n": "é", "i": 1.0}`, `{"n": "é", "i": 1e2}`, `{"n": "é", "i": 1.5}`, `{"n": "é", "i": -0}`, `{"n": "é", "i": "1"}`,
	`{"n": "é", "num": 1}`, `{"n": "é", "num": 1.5e300}`, `{"n": "é", "num": null}`,
	`{"n": "é", "e": null}`, `{"n": "é", "e": 1.0}`, `{"n": "é", "e": 10e-1}`, `{"n": "é", "e": "a"}`, `{"n": "é", "e": "b"}`, `{"n": "é", "e": false}`,
	`{"n": "é", "e": [1, "x"]}`, `{"n": "é", "e": [1.0, "x"]}`, `{"n": "é", "e": ["x", 1]}`, `{"n": "é", "e": {"k": 2}}`, `{"n": "é", "e": {"k": 2, "l": 1}}`,
	`{"n": "é", "a": [null, 1, {"n": "é"}, {"n": 2, "zz": true}, {}]}`,
	`{"n": "é", "strs": ["ab", "a", "abcde", "AB", 1, "ééé"]}`,
	`{"n": "é", "u": "s"}`, `{"n": "é", "u": 1}`, `{"n": "é", "u": 1.5}`, `{"n": "é", "u": 2}`, `{"n": "é", "u": 2.5}`, `{"n": "é", "u": null}`,
	`{"n": "é", "t": {}}`, `{"n": "é", "t": {"x": 1}}`, `{"n": "é", "t": {"x": 1, "y": 2}}`, `{"n": "é", "t": []}`,
	`{"n": "é", "a~b/c": 1, "x/y": "long", "~": 1.5, "ok": "abc", "int": 7, "b": "yes"}`,
	`{"n": "é", "b": true, "extra": null}`,
}

func TestValidatorAgreesWithLibraryOnTestSchema(t *testing.T) {
	lib := libraryCompile(t, []byte(testSchema))
	cs, err := compileSchema([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	invalid := 0
	for _, raw := range testInstances {
		if compareWithLibrary(t, lib, cs, []byte(raw)) {
			invalid++
		}
	}
	if invalid < len(testInstances)/2 || invalid == len(testInstances) {
		t.Errorf("%d of %d instances invalid; want a mix", invalid, len(testInstances))
	}
}

func TestValidatorAgreesWithLibraryOnConfigs(t *testing.T) {
	lib := libraryCompile(t, ConfigSchema)
	cs, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	corpus := configCorpus(t)
	invalid := 0
	for _, raw := range corpus {
		if compareWithLibrary(t, lib, cs, raw) {
			invalid++
		}
	}
	t.Logf("%d configs, %d of them invalid", len(corpus), invalid)
	if invalid < len(corpus)/2 || invalid == len(corpus) {
		t.Errorf("corpus of %d configs has %d invalid ones; want a mix", len(corpus), invalid)
	}
}

// FuzzValidatorAgreesWithLibrary looks for configs on which the validator
// and the library disagree.
func FuzzValidatorAgreesWithLibrary(f *testing.F) {
	for _, raw := range configSeeds(f) {
		f.Add(raw)
	}
	lib := libraryCompile(f, ConfigSchema)
	cs, err := loadSchema()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		compareWithLibrary(t, lib, cs, raw)
	})
}

// libraryCompile compiles a schema with github.com/santhosh-tekuri/jsonschema
// as step did before it had its own validator.
func libraryCompile(tb testing.TB, raw []byte) *jsonschema.Schema {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		tb.Fatal(err)
	}
	id, _ := doc.(map[string]any)["$id"].(string)
	c := jsonschema.NewCompiler()
	if err := c.AddResource(id, doc); err != nil {
		tb.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// compareWithLibrary validates raw with both validators and fails t unless
// they find the same violations: same instance pointers, same schema
// locations, same keywords and the same got/want details. It reports
// whether raw is invalid.
func compareWithLibrary(t *testing.T, lib *jsonschema.Schema, cs *compiledSchema, raw []byte) bool {
	t.Helper()
	libInst, libErr := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	inst, err := decodeJSON(raw)
	if libErr != nil || err != nil {
		if libErr == nil || err == nil || libErr.Error() != err.Error() {
			t.Errorf("decoding %q: library error %v, validator error %v", raw, libErr, err)
		}
		return true
	}
	var want []string
	if verr := lib.Validate(libInst); verr != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(verr, &ve) {
			t.Fatalf("library: %v", verr)
		}
		want = libraryFindings(ve, nil)
	}
	got := validatorFindings(cs.validate(inst))
	sort.Strings(want)
	sort.Strings(got)
	want, got = slices.Compact(want), slices.Compact(got)
	if !slices.Equal(got, want) {
		t.Errorf("validating %s:\nvalidator:\n\t%s\nlibrary:\n\t%s", raw, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	return len(want) > 0
}

// libraryFindings flattens the library's error tree into its leaves, as
// ParseConfig used to, one line each.
func libraryFindings(e *jsonschema.ValidationError, out []string) []string {
	_, frag, _ := strings.Cut(e.SchemaURL, "#")
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	line := func(kw, detail string) []string {
		return append(out, fmt.Sprintf("%s schema=%s %s %s", jsonPointer(e.InstanceLocation), frag, kw, detail))
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		return line("type", fmt.Sprintf("got=%s want=%v", k.Got, k.Want))
	case *kind.Enum:
		return line("enum", fmt.Sprintf("got=%v want=%v", k.Got, k.Want))
	case *kind.Required:
		return line("required", fmt.Sprint(k.Missing))
	case *kind.AdditionalProperties:
		names := slices.Clone(k.Properties)
		sort.Strings(names)
		return line("additionalProperties", fmt.Sprint(names))
	case *kind.MinLength:
		return line("minLength", fmt.Sprintf("got=%d want=%d", k.Got, k.Want))
	case *kind.MaxLength:
		return line("maxLength", fmt.Sprintf("got=%d want=%d", k.Got, k.Want))
	case *kind.Pattern:
		return line("pattern", fmt.Sprintf("got=%q want=%s", k.Got, k.Want))
	case *kind.OneOf:
		// ParseConfig does not look at the causes of a failed oneOf.
		return line("oneOf", "")
	}
	if len(e.Causes) == 0 {
		return line(fmt.Sprintf("%T", e.ErrorKind), e.Error())
	}
	for _, c := range e.Causes {
		out = libraryFindings(c, out)
	}
	return out
}

// validatorFindings formats violations as libraryFindings formats the
// library's errors.
func validatorFindings(vs []violation) []string {
	var out []string
	for _, v := range vs {
		var detail string
		switch v.kw {
		case kwType:
			detail = fmt.Sprintf("got=%s want=%v", jsonType(v.value), v.node.types)
		case kwEnum:
			detail = fmt.Sprintf("got=%v want=%v", v.value, v.node.enum)
		case kwRequired, kwAdditionalProperties:
			detail = fmt.Sprint(v.names)
		case kwMinLength:
			detail = fmt.Sprintf("got=%d want=%d", v.length, v.node.minLength)
		case kwMaxLength:
			detail = fmt.Sprintf("got=%d want=%d", v.length, v.node.maxLength)
		case kwPattern:
			detail = fmt.Sprintf("got=%q want=%s", v.value, v.node.pattern)
		}
		out = append(out, fmt.Sprintf("%s schema=%s %s %s", jsonPointer(v.loc), v.node.loc, v.kw, detail))
	}
	return out
}

// configSeeds are the configs of the step's tests and fuzz corpus, plus
// some aimed at the schema's keywords.
func configSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	files, err := filepath.Glob("testdata/config/*.json")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no testdata configs: %v", err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, raw)
	}
	fuzzFiles, err := filepath.Glob("testdata/fuzz/FuzzParseConfig/*")
	if err != nil || len(fuzzFiles) == 0 {
		tb.Fatalf("no fuzz corpus: %v", err)
	}
	for _, name := range fuzzFiles {
		raw, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		_, lit, _ := strings.Cut(string(raw), "[]byte(")
		s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")))
		if err != nil {
			tb.Fatalf("reading %s: %v", name, err)
		}
		seeds = append(seeds, []byte(s))
	}
	const ok = `"repoURL": "https://h/r", "buildLockDir": "b"`
	for _, s := range []string{
		`{}`, `null`, `[]`, `"x"`, `1`, `1.0`, `true`, ``, `{`, `{} {}`, `{}x`, `[1,]`, "\"\xff\"", `{"repoURL": `,
		`{"repoURL":"https://h/r","buildLockDir":"b","targets":[{"deploymentFile":{"setImage":false}},{"application":{"path":"a"}}],"message":"{{if .Stage}}{{slice .GitCommit 0 7}}{{end}}"}`,
		`{"repoUrl": "https://h/r", "buildLockDir": "b"}`,
		`{` + ok + `, "bogus": true, "a/b~c": 1, "Branch": "x"}`,
		`{` + ok + `, "targets": {}, "skipCI": "yes", "timeout": 300, "checks": {"imageDigest": 1, "sourceCommit": null, "x": 1}}`,
		`{` + ok + `, "targets": [{"kustomization": {}, "application": {"path": "a.yaml"}}]}`,
		`{` + ok + `, "targets": [{"kustomization": {}, "application": {"path": "a.yaml"}, "deploymentFile": {}}]}`,
		`{` + ok + `, "targets": [{}, null, 1, "x", [], {"deploymentFile": null}, {"application": {}}, {"application": {"path": 1}}]}`,
		`{` + ok + `, "targets": [{"deploymentFile": {"kee": "x", "foo": 1, "key": "", "imageKey": 1, "path": "/a", "valuesFile": "a//b"}}]}`,
		`{` + ok + `, "targets": [{"kustomization": {"imageName": "", "pinDigest": "yes", "path": "."}}]}`,
		`{` + ok + `, "commit": "4F1C2B9E8D7A6B5C4D3E2F1A0B9C8D7E6F5A4B3C", "timeout": "5 minutes", "warehouse": "-x"}`,
		`{` + ok + `, "warehouse": "` + strings.Repeat("é", 300) + `"}`,
		`{` + ok + `, "warehouse": "` + strings.Repeat("é", 253) + `", "app": "` + strings.Repeat("a", 254) + `"}`,
		`{` + ok + `, "message": "` + strings.Repeat("€", 4096) + `"}`,
		`{` + ok + `, "message": "` + strings.Repeat("€", 4097) + `"}`,
		`{` + ok + `, "message": "", "author": {"name": "", "email": ""}}`,
		`{` + ok + `, "author": {"name": "a <b>", "email": "a b@c", "x": 1}}`,
		`{` + ok + `, "author": {"name": "名前", "email": "ü@ü"}}`,
		`{` + ok + `, "packaging": {"kind": "docker", "sourceRepo": "git@github.com:o/r", "sourcePath": "../x"}}`,
		`{` + ok + `, "packaging": {"kind": 1}}`,
		`{` + ok + `, "packaging": {"kind": null, "extra": {}}}`,
		`{` + ok + `, "packaging": []}`,
		`{"repoURL": "https://user:hunter2@github.com/o/r.git", "buildLockDir": "warehouses/../secrets"}`,
		`{"repoURL": "ftp://h/r", "buildLockDir": "b/", "extra": 1}`,
		`{` + ok + `, "credentials": {"git": {"username": "u"}, "registry": {"username": "u", "password": ""}}}`,
		`{` + ok + `, "credentials": {"git": {"username": "u", "password": "p", "hunter2": 1}, "registry": "s3cret"}}`,
		`{` + ok + `, "credentials": {"git": null, "registry": {"username": 1, "password": ["hunter2"]}, "other": {}}}`,
		`{` + ok + `, "credentials": "hunter2"}`,
		`{` + ok + `, "targetBranch": "review/x", "generateTargetBranch": true, "branch": "-x"}`,
		`{` + ok + `, "targetBranch": "", "generateTargetBranch": 1, "branch": "a..b"}`,
		`{` + ok + `, "insecureHTTPHosts": [1, "bad host", "h:123456", "[::1]:80", "h"], "insecureSkipTLSVerifyHosts": "h"}`,
		`{` + ok + `, "insecureSkipTLSVerifyHosts": [null, "` + strings.Repeat("h", 262) + `"]}`,
		`{` + ok + `, "timeout": 1e3, "skipCI": 1.0, "app": -0}`,
		`{"repoURL": 1, "repoURL": "https://h/r", "buildLockDir": "b", "buildLockDir": null}`,
		`{"repoURL": null, "buildLockDir": ["b"]}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// configCorpus is configSeeds plus, for each seed that is a JSON object,
// variants with every value in turn replaced by values of every type,
// every member in turn removed, and an unknown member added to every
// object.
func configCorpus(tb testing.TB) [][]byte {
	tb.Helper()
	seeds := configSeeds(tb)
	corpus := slices.Clone(seeds)
	replacements := []any{nil, true, json.Number("1"), json.Number("1.5"), "", "x", strings.Repeat("é", 300), []any{}, []any{"a"}, map[string]any{}, map[string]any{"bogus": json.Number("1")}}
	for _, raw := range seeds {
		doc, err := decodeJSON(raw)
		if _, ok := doc.(map[string]any); err != nil || !ok {
			continue
		}
		var walk func(v any, replace func(any), remove func())
		emit := func() {
			b, err := json.Marshal(doc)
			if err != nil {
				tb.Fatal(err)
			}
			corpus = append(corpus, b)
		}
		walk = func(v any, replace func(any), remove func()) {
			if replace != nil {
				for _, r := range replacements {
					replace(r)
					emit()
				}
				replace(v)
			}
			if remove != nil {
				remove()
				emit()
				replace(v)
			}
			switch v := v.(type) {
			case map[string]any:
				v["bogus"] = json.Number("1")
				emit()
				delete(v, "bogus")
				for _, k := range sortedKeys(v) {
					val := v[k]
					walk(val, func(r any) { v[k] = r }, func() { delete(v, k) })
				}
			case []any:
				for i, val := range v {
					walk(val, func(r any) { v[i] = r }, nil)
				}
			}
		}
		walk(doc, nil, nil)
	}
	return corpus
}
