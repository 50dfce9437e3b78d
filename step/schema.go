package step

// Validating a step config against schema/config.json, with
// github.com/santhosh-tekuri/jsonschema/v6, and turning what it finds into
// problems a Stage author can act on: the JSON pointer of the value, what is
// wrong in words, "did you mean" for a misspelt key, and never a credential
// value.

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/suggest"
)

// configSchema is schema/config.json compiled, with its document kept to
// look up what a finding refers to (the allowed keys of an object, the
// target kinds of a oneOf).
type configSchema struct {
	compiled *jsonschema.Schema
	doc      map[string]any
}

// loadSchema compiles the schema once per process (about 15 ms; serve pays
// it once, a custom step once per run). The result is never modified.
var loadSchema = sync.OnceValues(func() (*configSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ConfigSchema))
	if err != nil {
		return nil, fmt.Errorf("reading schema/config.json: %w", err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("reading schema/config.json: not an object")
	}
	id, _ := m["$id"].(string)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(id, doc); err != nil {
		return nil, fmt.Errorf("adding schema/config.json: %w", err)
	}
	s, err := c.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("compiling schema/config.json: %w", err)
	}
	return &configSchema{compiled: s, doc: m}, nil
})

// validate checks raw against the schema. It returns the problems found,
// or one problem when raw is not a single JSON value.
func (cs *configSchema) validate(raw []byte) []problem {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []problem{{"", "not valid JSON: " + err.Error()}}
	}
	err = cs.compiled.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []problem{{"", "validating: " + err.Error()}}
	}
	var ps []problem
	cs.collect(ve, inst, &ps)
	return ps
}

// collect turns the leaves of the library's error tree into problems. A
// failed oneOf is one problem (which target kinds were set), not the
// findings of each of its branches.
func (cs *configSchema) collect(e *jsonschema.ValidationError, inst any, ps *[]problem) {
	ptr := jsonPointer(e.InstanceLocation)
	add := func(ptr, msg string) { *ps = append(*ps, problem{ptr, msg}) }
	// A value under /credentials may be the secret itself: never echo it.
	secret := strings.HasPrefix(ptr, "/credentials")
	node := cs.node(e.SchemaURL)
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		allowed := sortedKeys(asObject(node["properties"]))
		if secret {
			add(ptr, fmt.Sprintf("%d unknown key(s); allowed: %s", len(k.Properties), strings.Join(allowed, ", ")))
			return
		}
		for _, name := range k.Properties {
			if hint, ok := kargoSpellings[name]; ok && ptr == "" {
				add("/"+escapePointer(name), hint)
				continue
			}
			add(ptr+"/"+escapePointer(name), unknownKeyMessage(name, allowed))
		}
	case *kind.Required:
		for _, name := range k.Missing {
			add(ptr+"/"+escapePointer(name), "required key is missing")
		}
	case *kind.OneOf:
		kinds := cs.oneOfRequired(node)
		var set []string
		if obj, ok := valueAt(inst, e.InstanceLocation).(map[string]any); ok {
			for _, name := range kinds {
				if _, ok := obj[name]; ok {
					set = append(set, name)
				}
			}
		}
		want := "set exactly one of " + strings.Join(kinds, ", ")
		if len(set) == 0 {
			add(ptr, "no target kind; "+want)
		} else {
			add(ptr, fmt.Sprintf("several target kinds (%s); %s", strings.Join(set, ", "), want))
		}
	case *kind.Type:
		add(ptr, fmt.Sprintf("wrong type: got %s, want %s", k.Got, strings.Join(k.Want, " or ")))
	case *kind.Pattern:
		hint, ok := patternHints[k.Want]
		if !ok {
			hint = "does not match pattern " + k.Want
		}
		if secret {
			add(ptr, "value "+hint)
		} else {
			add(ptr, strconv.Quote(netpolicy.RedactURL(k.Got))+" "+hint)
		}
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprintf("%q", w)
		}
		if s, ok := k.Got.(string); ok && !secret {
			add(ptr, fmt.Sprintf("got %q, want one of %s", s, strings.Join(want, ", ")))
		} else {
			add(ptr, "want one of "+strings.Join(want, ", "))
		}
	case *kind.MinLength:
		if k.Want == 1 {
			add(ptr, "must not be empty")
		} else {
			add(ptr, fmt.Sprintf("too short: %d characters, want at least %d", k.Got, k.Want))
		}
	case *kind.MaxLength:
		add(ptr, fmt.Sprintf("too long: %d characters, want at most %d", k.Got, k.Want))
	default:
		if len(e.Causes) == 0 {
			add(ptr, "fails the schema's "+strings.Join(e.ErrorKind.KeywordPath(), "/"))
		}
		for _, c := range e.Causes {
			cs.collect(c, inst, ps)
		}
	}
}

// node returns the schema object at the fragment of a schema location
// (".../config.json#/$defs/target"), or nil.
func (cs *configSchema) node(schemaURL string) map[string]any {
	_, frag, _ := strings.Cut(schemaURL, "#")
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	var tokens []string
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok != "" {
			tokens = append(tokens, strings.NewReplacer("~1", "/", "~0", "~").Replace(tok))
		}
	}
	return asObject(valueAt(cs.doc, tokens))
}

// oneOfRequired lists, in schema order, the keys the branches of node's
// oneOf require: the target kinds.
func (cs *configSchema) oneOfRequired(node map[string]any) []string {
	var kinds []string
	branches, _ := node["oneOf"].([]any)
	for _, b := range branches {
		req, _ := asObject(b)["required"].([]any)
		for _, r := range req {
			if s, ok := r.(string); ok {
				kinds = append(kinds, s)
			}
		}
	}
	return kinds
}

// valueAt returns the value at a JSON pointer's (unescaped) tokens inside a
// decoded JSON document, or nil.
func valueAt(v any, tokens []string) any {
	for _, tok := range tokens {
		switch c := v.(type) {
		case map[string]any:
			v = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// patternHints explain the schema's patterns in words.
var patternHints = map[string]string{
	`^[0-9a-f]{40}$`:                                                             "is not a full commit SHA (40 lowercase hex digits)",
	`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`:                                           "is not a Kubernetes resource name",
	`^[A-Za-z0-9][A-Za-z0-9._-]*$`:                                               "is not a single name (letters, digits, '.', '_', '-')",
	`^[^<>\x00-\x1f]+$`:                                                          "must not contain '<', '>' or control characters",
	`^[^<>@\s]+@[^<>@\s]+$`:                                                      "is not an email address",
	`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`:                                  `is not a Go duration such as "90s" or "5m"`,
	`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`:                        "is not a host or host:port",
	`^[Hh][Tt][Tt][Pp][Ss]?://[^/@\s?#]+(/[^\s?#]*)?$`:                           "is not an http(s) URL without user information, query or fragment",
	`^[A-Za-z0-9][A-Za-z0-9._/+-]*$`:                                             "is not a branch name (letters, digits, '.', '_', '/', '+', '-'; no refs/heads/)",
	`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?/[a-z0-9]+([._/-][a-z0-9]+)*$`: "is not an image repository such as ghcr.io/org/app (the registry host, then the path, in lower case, without tag or digest)",
	relPathPattern:                                                               "is not a clean relative path (no leading '/', no empty, '.' or '..' segments, no backslash)",
}

const relPathSegment = `(?:[^./\\\x00-\x1f][^/\\\x00-\x1f]*|\.[^./\\\x00-\x1f][^/\\\x00-\x1f]*|\.\.[^/\\\x00-\x1f]+)`
const relPathPattern = `^` + relPathSegment + `(?:/` + relPathSegment + `)*$`

// kargoSpellings are keys a Kargo user writes out of habit (Kargo's
// built-in steps take them), with what argo-refs takes instead.
var kargoSpellings = map[string]string{
	"insecureSkipTLSVerify": "is Kargo's spelling; argo-refs verifies every certificate except those of the hosts listed: write insecureSkipTLSVerifyHosts: [<host> or <host:port>, ...]",
}

// unknownKeyMessage says a key is unknown, suggesting the closest allowed
// key when it is a plausible typo.
func unknownKeyMessage(name string, allowed []string) string {
	if best, ok := suggest.Closest(name, allowed); ok {
		return fmt.Sprintf("unknown key; did you mean %q?", best)
	}
	return "unknown key; allowed: " + strings.Join(allowed, ", ")
}

func jsonPointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		sb.WriteString(escapePointer(t))
	}
	return sb.String()
}

func escapePointer(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}
