package step

// A validator for the part of JSON Schema draft 2020-12 that
// schema/config.json uses, so that the binary need not compile a general
// JSON Schema implementation and its meta-schemas on every run. It follows
// github.com/santhosh-tekuri/jsonschema/v6, which validated the config
// before, in what it reports: schema_test.go checks the two agree on a
// corpus of configs. compileSchema refuses every keyword it does not
// implement, so the schema cannot silently use one. It parses the schema
// with its own small JSON parser, a few times faster than encoding/json;
// configs are still decoded with encoding/json, as the library did.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// draft202012 is the only dialect compileSchema accepts in $schema.
const draft202012 = "https://json-schema.org/draft/2020-12/schema"

// keyword names a schema keyword a violation is about.
type keyword string

// The assertion keywords the validator implements.
const (
	kwType                 keyword = "type"
	kwEnum                 keyword = "enum"
	kwRequired             keyword = "required"
	kwAdditionalProperties keyword = "additionalProperties"
	kwMinLength            keyword = "minLength"
	kwMaxLength            keyword = "maxLength"
	kwPattern              keyword = "pattern"
	kwOneOf                keyword = "oneOf"
)

// jsonTypes are the type names of JSON Schema, in the order the library
// reported a type keyword's wanted types.
var jsonTypes = []string{"null", "boolean", "number", "integer", "string", "array", "object"}

// compiledSchema is schema/config.json compiled for validation.
type compiledSchema struct {
	root *schemaNode
}

// schemaNode is one compiled schema object.
type schemaNode struct {
	// loc is the node's JSON pointer inside the schema document.
	loc string
	// types lists the allowed types in jsonTypes order; empty allows any.
	types []string
	// enum, when not nil, lists the allowed values.
	enum []any
	// ref is the schema $ref points to, or nil.
	ref *schemaNode
	// properties holds the schemas of named object members.
	properties map[string]*schemaNode
	// noAdditional refuses members properties does not name;
	// additional, when not nil, validates them instead.
	noAdditional bool
	additional   *schemaNode
	// required lists the members an object must have, in schema order.
	required []string
	// minLength and maxLength bound a string's length in runes; -1 when
	// absent.
	minLength, maxLength int
	// pattern, when not nil, must match a string.
	pattern *regexp.Regexp
	// items validates every array element.
	items *schemaNode
	// oneOf lists schemas of which exactly one must accept the value.
	oneOf []*schemaNode
}

// violation is one failed assertion, like a leaf of the library's
// validation error tree.
type violation struct {
	// loc is the instance location as JSON pointer tokens.
	loc []string
	// kw is the failing keyword of node.
	kw   keyword
	node *schemaNode
	// value is the instance value at loc.
	value any
	// names holds the missing members (required) or the unknown ones
	// (additionalProperties).
	names []string
	// length is a string's length in runes (minLength, maxLength).
	length int
}

// propertyNames lists the node's named properties, sorted.
func (n *schemaNode) propertyNames() []string {
	names := make([]string, 0, len(n.properties))
	for name := range n.properties {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// oneOfRequired lists, in schema order, the required members of the
// node's oneOf branches: for a target, the target kinds.
func (n *schemaNode) oneOfRequired() []string {
	var names []string
	for _, b := range n.oneOf {
		names = append(names, b.required...)
	}
	return names
}

// decodeJSON decodes one JSON value as the library's UnmarshalJSON did:
// numbers as json.Number, nothing but white space after the value.
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil || err != io.EOF {
		return nil, errors.New("invalid character after top-level value")
	}
	return v, nil
}

// validate returns every violation of the schema by inst, a value
// decodeJSON returned; none when inst is valid.
func (cs *compiledSchema) validate(inst any) []violation {
	var out []violation
	cs.root.validate(inst, make([]string, 0, 8), &out)
	return out
}

// validate appends v's violations of n to out; loc is v's location. Like
// the library, a wrong type or a value outside enum is the only violation
// reported for a value against a schema; every other failed keyword is
// reported.
func (n *schemaNode) validate(v any, loc []string, out *[]violation) {
	add := func(kw keyword, names []string, length int) {
		*out = append(*out, violation{loc: slices.Clone(loc), kw: kw, node: n, value: v, names: names, length: length})
	}
	if len(n.types) > 0 && !slices.ContainsFunc(n.types, func(t string) bool { return hasType(v, t) }) {
		add(kwType, nil, 0)
		return
	}
	if n.enum != nil && !slices.ContainsFunc(n.enum, func(e any) bool { return jsonEqual(v, e) }) {
		add(kwEnum, nil, 0)
		return
	}
	if n.ref != nil {
		n.ref.validate(v, loc, out)
	}
	switch v := v.(type) {
	case map[string]any:
		var missing []string
		for _, name := range n.required {
			if _, ok := v[name]; !ok {
				missing = append(missing, name)
			}
		}
		if missing != nil {
			add(kwRequired, missing, 0)
		}
		var unknown []string
		for name, val := range v {
			if p, ok := n.properties[name]; ok {
				p.validate(val, append(loc, name), out)
			} else if n.additional != nil {
				n.additional.validate(val, append(loc, name), out)
			} else if n.noAdditional {
				unknown = append(unknown, name)
			}
		}
		if unknown != nil {
			sort.Strings(unknown)
			add(kwAdditionalProperties, unknown, 0)
		}
	case []any:
		if n.items != nil {
			for i, item := range v {
				n.items.validate(item, append(loc, strconv.Itoa(i)), out)
			}
		}
	case string:
		if n.minLength >= 0 || n.maxLength >= 0 {
			length := utf8.RuneCountInString(v)
			if n.minLength >= 0 && length < n.minLength {
				add(kwMinLength, nil, length)
			}
			if n.maxLength >= 0 && length > n.maxLength {
				add(kwMaxLength, nil, length)
			}
		}
		if n.pattern != nil && !n.pattern.MatchString(v) {
			add(kwPattern, nil, 0)
		}
	}
	if len(n.oneOf) > 0 {
		matched := 0
		for _, b := range n.oneOf {
			if b.accepts(v) {
				matched++
				if matched > 1 {
					break
				}
			}
		}
		if matched != 1 {
			add(kwOneOf, nil, 0)
		}
	}
}

// accepts reports whether v is valid against n.
func (n *schemaNode) accepts(v any) bool {
	var out []violation
	n.validate(v, nil, &out)
	return len(out) == 0
}

// jsonType is the JSON type of a decoded value as the library named it: a
// number is "number" even when it is integral.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return ""
}

// hasType reports whether v is of JSON Schema type t; "integer" accepts a
// number with no fractional part, such as 1.0 or 1e3.
func hasType(v any, t string) bool {
	got := jsonType(v)
	if got == t {
		return true
	}
	if t == "integer" && got == "number" {
		r, ok := new(big.Rat).SetString(fmt.Sprint(v))
		return ok && r.IsInt()
	}
	return false
}

// jsonEqual reports whether two decoded JSON values are equal; numbers
// compare by value.
func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !jsonEqual(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		return ok && slices.EqualFunc(a, b, jsonEqual)
	case json.Number, float64:
		if jsonType(b) != "number" {
			return false
		}
		ra, ok1 := new(big.Rat).SetString(fmt.Sprint(a))
		rb, ok2 := new(big.Rat).SetString(fmt.Sprint(b))
		return ok1 && ok2 && ra.Cmp(rb) == 0
	case nil, bool, string:
		return a == b
	}
	return false
}

// --- compiling ---

// schemaCompiler compiles one schema document.
type schemaCompiler struct {
	doc     any
	nodes   map[string]*schemaNode // by JSON pointer
	regexps map[string]*regexp.Regexp
}

// compileSchema compiles a schema document. It refuses every keyword the
// validator does not implement, a $ref outside the document, and a $ref or
// oneOf cycle that would never reach a value.
func compileSchema(raw []byte) (*compiledSchema, error) {
	doc, err := decodeJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing the schema: %w", err)
	}
	c := &schemaCompiler{doc: doc, nodes: map[string]*schemaNode{}, regexps: map[string]*regexp.Regexp{}}
	root, err := c.compile(doc, "")
	if err != nil {
		return nil, err
	}
	if err := c.checkCycles(); err != nil {
		return nil, err
	}
	return &compiledSchema{root: root}, nil
}

// at names a schema location in errors.
func at(ptr string) string {
	if ptr == "" {
		return "schema root"
	}
	return "schema " + ptr
}

// compile compiles the schema object v found at ptr, once.
func (c *schemaCompiler) compile(v any, ptr string) (*schemaNode, error) {
	if n, ok := c.nodes[ptr]; ok {
		return n, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: is a %s; want a schema object", at(ptr), jsonType(v))
	}
	n := &schemaNode{loc: ptr, minLength: -1, maxLength: -1}
	c.nodes[ptr] = n
	for _, k := range sortedKeys(m) {
		if err := c.keyword(n, k, m[k], ptr); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// keyword compiles keyword kw with value val into n, found at ptr.
func (c *schemaCompiler) keyword(n *schemaNode, kw string, val any, ptr string) error {
	kptr := childPointer(ptr, kw)
	bad := func(want string) error {
		return fmt.Errorf("%s: %s is a %s; want %s", at(ptr), kw, jsonType(val), want)
	}
	switch kw {
	case "description", "title":
		if _, ok := val.(string); !ok {
			return bad("a string")
		}
	case "$schema":
		if ptr != "" {
			return fmt.Errorf("%s: $schema is supported only at the root", at(ptr))
		}
		if s, _ := val.(string); strings.TrimSuffix(s, "#") != draft202012 {
			return fmt.Errorf("%s: $schema %v is not supported; want %s", at(ptr), val, draft202012)
		}
	case "$id":
		if ptr != "" {
			return fmt.Errorf("%s: $id is supported only at the root", at(ptr))
		}
		if _, ok := val.(string); !ok {
			return bad("a string")
		}
	case "$defs":
		defs, ok := val.(map[string]any)
		if !ok {
			return bad("an object")
		}
		for _, name := range sortedKeys(defs) {
			if _, err := c.compile(defs[name], childPointer(kptr, name)); err != nil {
				return err
			}
		}
	case "$ref":
		s, ok := val.(string)
		if !ok {
			return bad("a string")
		}
		target, tptr, err := c.resolve(s)
		if err != nil {
			return fmt.Errorf("%s: $ref %q: %w", at(ptr), s, err)
		}
		if n.ref, err = c.compile(target, tptr); err != nil {
			return err
		}
	case "type":
		var names []string
		switch t := val.(type) {
		case string:
			names = []string{t}
		case []any:
			for _, e := range t {
				s, ok := e.(string)
				if !ok {
					return bad("a string or an array of strings")
				}
				names = append(names, s)
			}
		default:
			return bad("a string or an array of strings")
		}
		if len(names) == 0 {
			return fmt.Errorf("%s: type lists no type", at(ptr))
		}
		for _, s := range names {
			if !slices.Contains(jsonTypes, s) {
				return fmt.Errorf("%s: type %q is not a JSON Schema type", at(ptr), s)
			}
		}
		for _, t := range jsonTypes {
			if slices.Contains(names, t) {
				n.types = append(n.types, t)
			}
		}
	case "enum":
		vals, ok := val.([]any)
		if !ok || len(vals) == 0 {
			return bad("a non-empty array")
		}
		n.enum = vals
	case "properties":
		props, ok := val.(map[string]any)
		if !ok {
			return bad("an object")
		}
		n.properties = make(map[string]*schemaNode, len(props))
		for _, name := range sortedKeys(props) {
			p, err := c.compile(props[name], childPointer(kptr, name))
			if err != nil {
				return err
			}
			n.properties[name] = p
		}
	case "additionalProperties":
		switch a := val.(type) {
		case bool:
			n.noAdditional = !a
		default:
			s, err := c.compile(a, kptr)
			if err != nil {
				return err
			}
			n.additional = s
		}
	case "required":
		names, ok := val.([]any)
		if !ok {
			return bad("an array of strings")
		}
		for _, e := range names {
			s, ok := e.(string)
			if !ok {
				return bad("an array of strings")
			}
			if slices.Contains(n.required, s) {
				return fmt.Errorf("%s: required lists %q twice", at(ptr), s)
			}
			n.required = append(n.required, s)
		}
	case "minLength", "maxLength":
		l, err := nonNegativeInt(val)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", at(ptr), kw, err)
		}
		if kw == "minLength" {
			n.minLength = l
		} else {
			n.maxLength = l
		}
	case "pattern":
		s, ok := val.(string)
		if !ok {
			return bad("a string")
		}
		re, ok := c.regexps[s]
		if !ok {
			var err error
			if re, err = regexp.Compile(s); err != nil {
				return fmt.Errorf("%s: pattern: %w", at(ptr), err)
			}
			c.regexps[s] = re
		}
		n.pattern = re
	case "items":
		s, err := c.compile(val, kptr)
		if err != nil {
			return err
		}
		n.items = s
	case "oneOf":
		branches, ok := val.([]any)
		if !ok || len(branches) == 0 {
			return bad("a non-empty array of schemas")
		}
		for i, b := range branches {
			s, err := c.compile(b, kptr+"/"+strconv.Itoa(i))
			if err != nil {
				return err
			}
			n.oneOf = append(n.oneOf, s)
		}
	default:
		return fmt.Errorf("%s: keyword %q is not supported by the config schema validator", at(ptr), kw)
	}
	return nil
}

// resolve finds the target of a $ref, which must be a JSON pointer into
// the document ("#/$defs/name"), and returns it with its canonical pointer.
func (c *schemaCompiler) resolve(ref string) (any, string, error) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, "", errors.New("only references inside the document (#/...) are supported")
	}
	frag, err := url.PathUnescape(frag)
	if err != nil {
		return nil, "", fmt.Errorf("unescaping: %w", err)
	}
	if frag != "" && !strings.HasPrefix(frag, "/") {
		return nil, "", errors.New("anchors are not supported; use a JSON pointer")
	}
	cur, ptr := c.doc, ""
	for _, tok := range strings.Split(frag, "/")[1:] {
		if strings.Contains(tok, "~") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		}
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, "", fmt.Errorf("no %q in the document", tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, "", fmt.Errorf("no element %q in the document", tok)
			}
			cur = v[i]
		default:
			return nil, "", fmt.Errorf("no %q in the document", tok)
		}
		ptr = childPointer(ptr, tok)
	}
	return cur, ptr, nil
}

// checkCycles refuses a chain of $ref and oneOf that leads back to a
// schema without descending into the value: validating would never end.
func (c *schemaCompiler) checkCycles() error {
	const (
		unseen = iota
		active
		done
	)
	state := make(map[*schemaNode]int, len(c.nodes))
	var visit func(n *schemaNode) error
	visit = func(n *schemaNode) error {
		switch state[n] {
		case active:
			return fmt.Errorf("%s: $ref/oneOf cycle that never reaches a value", at(n.loc))
		case done:
			return nil
		}
		state[n] = active
		next := slices.Clone(n.oneOf)
		if n.ref != nil {
			next = append(next, n.ref)
		}
		for _, m := range next {
			if err := visit(m); err != nil {
				return err
			}
		}
		state[n] = done
		return nil
	}
	for _, ptr := range sortedKeys(c.nodes) {
		if err := visit(c.nodes[ptr]); err != nil {
			return err
		}
	}
	return nil
}

// nonNegativeInt reads a schema's non-negative integer, such as 4 or 4.0.
func nonNegativeInt(v any) (int, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("is a %s; want a non-negative integer", jsonType(v))
	}
	r, ok := new(big.Rat).SetString(num.String())
	if !ok || !r.IsInt() || r.Sign() < 0 || !r.Num().IsInt64() || r.Num().Int64() > 1<<31 {
		return 0, fmt.Errorf("%s is not a non-negative integer", num)
	}
	return int(r.Num().Int64()), nil
}

// childPointer appends tok to the JSON pointer ptr, escaping it only when
// needed (escapePointer's replacer is too costly for every keyword).
func childPointer(ptr, tok string) string {
	if strings.ContainsAny(tok, "~/") {
		tok = escapePointer(tok)
	}
	return ptr + "/" + tok
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
