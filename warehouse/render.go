package warehouse

// Writing a record: the canonical bytes, byte for byte what the Ruby
// writer's Psych YAML.dump gives.

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

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
