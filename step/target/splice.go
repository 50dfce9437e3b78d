package target

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	yaml2 "go.yaml.in/yaml/v2"
	yaml "go.yaml.in/yaml/v3"
)

const bom = "\uFEFF"

// numberLike matches what YAML 1.1 or 1.2 could read as a number: decimal,
// float with exponent, base prefixes, underscores and sexagesimal forms.
var numberLike = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$|^[-+]?0[xXoObB][0-9a-fA-F_]+$|^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$`)

// scalarSpan returns the byte range [start, end) of scalar node n in in,
// including its quotes and excluding any tag in front of it.
func scalarSpan(in []byte, n *yaml.Node) (start, end int, err error) {
	switch {
	case n.Anchor != "":
		return 0, 0, fmt.Errorf("scalar at line %d carries anchor &%s (aliases would change with it): %w", n.Line, n.Anchor, ErrUnsupported)
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, 0, fmt.Errorf("scalar at line %d is a block scalar (| or >): %w", n.Line, ErrUnsupported)
	}
	pos, ok := offsetOf(in, n.Line, n.Column)
	if !ok {
		return 0, 0, fmt.Errorf("scalar at line %d column %d lies outside the file: %w", n.Line, n.Column, ErrUnsupported)
	}
	if n.Style&yaml.TaggedStyle != 0 || (pos < len(in) && in[pos] == '!') {
		// Skip the explicit tag (e.g. "!!str ") and keep it.
		for pos < len(in) && in[pos] != ' ' && in[pos] != '\t' && in[pos] != '\n' && in[pos] != '\r' {
			pos++
		}
		for pos < len(in) && (in[pos] == ' ' || in[pos] == '\t') {
			pos++
		}
	}
	switch {
	case n.Style&yaml.SingleQuotedStyle != 0:
		end, err = quotedEnd(in, pos, '\'')
	case n.Style&yaml.DoubleQuotedStyle != 0:
		end, err = quotedEnd(in, pos, '"')
	default:
		if n.Value == "" || strings.ContainsAny(n.Value, "\r\n") {
			return 0, 0, fmt.Errorf("plain scalar at line %d is empty or spans lines: %w", n.Line, ErrUnsupported)
		}
		end = pos + len(n.Value)
		if end > len(in) || string(in[pos:end]) != n.Value {
			return 0, 0, fmt.Errorf("plain scalar at line %d spans lines: %w", n.Line, ErrUnsupported)
		}
		return pos, end, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("scalar at line %d: %w", n.Line, err)
	}
	// The quoted span must decode, on its own, to the value the parser saw.
	var got string
	if uerr := yaml.Unmarshal(in[pos:end], &got); uerr != nil || got != n.Value {
		return 0, 0, fmt.Errorf("quoted scalar at line %d could not be located exactly: %w", n.Line, ErrUnsupported)
	}
	return pos, end, nil
}

// quotedEnd returns the offset just past the quoted scalar opening at pos.
func quotedEnd(in []byte, pos int, q byte) (int, error) {
	if pos >= len(in) || in[pos] != q {
		return 0, fmt.Errorf("expected %c at the scalar's start: %w", q, ErrUnsupported)
	}
	for i := pos + 1; i < len(in); i++ {
		switch {
		case q == '"' && in[i] == '\\':
			i++
		case in[i] == q && q == '\'' && i+1 < len(in) && in[i+1] == '\'':
			i++
		case in[i] == q:
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated %c-quoted scalar: %w", q, ErrUnsupported)
}

// offsetOf converts a 1-based line and column (counted in characters, as
// the YAML parser counts them) to a byte offset in in.
func offsetOf(in []byte, line, col int) (int, bool) {
	i := 0
	if bytes.HasPrefix(in, []byte(bom)) {
		i = len(bom)
	}
	for l := 1; l < line; l++ {
		for {
			if i >= len(in) {
				return 0, false
			}
			if n := breakLen(in[i:]); n > 0 {
				i += n
				break
			}
			i++
		}
	}
	for c := 1; c < col; c++ {
		if i >= len(in) || breakLen(in[i:]) > 0 {
			return 0, false
		}
		_, w := utf8.DecodeRune(in[i:])
		i += w
	}
	return i, true
}

// breakLen is the length of the line break at the start of b (0 if none),
// with the breaks the YAML parser counts: CRLF, CR, LF, NEL, LS, PS.
func breakLen(b []byte) int {
	switch {
	case len(b) == 0:
		return 0
	case b[0] == '\r' && len(b) > 1 && b[1] == '\n':
		return 2
	case b[0] == '\r' || b[0] == '\n':
		return 1
	case len(b) > 1 && b[0] == 0xC2 && b[1] == 0x85:
		return 2
	case len(b) > 2 && b[0] == 0xE2 && b[1] == 0x80 && (b[2] == 0xA8 || b[2] == 0xA9):
		return 3
	}
	return 0
}

// encodeScalar renders value in the style of the scalar it replaces: quoted
// stays quoted the same way; plain stays plain when it reads back as the
// same string, else it is single-quoted (double-quoted when it holds
// characters single quotes cannot carry).
func encodeScalar(value string, style yaml.Style, flow bool) (string, error) {
	if !utf8.ValidString(value) {
		return "", fmt.Errorf("value is not valid UTF-8: %w", ErrInvalid)
	}
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		return doubleQuote(value), nil
	case style&yaml.SingleQuotedStyle != 0:
	case plainOK(value, flow):
		return value, nil
	}
	if !singleOK(value) {
		return doubleQuote(value), nil
	}
	return "'" + strings.ReplaceAll(value, "'", "''") + "'", nil
}

// printable reports whether r may appear unescaped in a one-line scalar.
func printable(r rune) bool {
	switch {
	case r >= 0x20 && r <= 0x7E:
		return true
	case r == 0xFEFF || r == 0x2028 || r == 0x2029:
		return false
	case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

func singleOK(v string) bool {
	for _, r := range v {
		if !printable(r) {
			return false
		}
	}
	return true
}

// plainOK reports whether v, written plain, reads back as the string v,
// both for YAML 1.2 readers (yaml.v3) and YAML 1.1 readers (yaml.v2, which
// sigs.k8s.io/yaml, Argo CD and kustomize use): "true", "yes", "null", "~",
// "123", "1234e567", "0x1F" and dates are not strings there.
func plainOK(v string, flow bool) bool {
	if v == "" || v[0] == ' ' || v[len(v)-1] == ' ' || v[len(v)-1] == ':' ||
		strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`", rune(v[0])) ||
		strings.Contains(v, ": ") || strings.Contains(v, " #") ||
		(flow && strings.ContainsAny(v, ",[]{}:#")) {
		return false
	}
	for _, r := range v {
		if !printable(r) {
			return false
		}
	}
	// Readers differ on numbers too large to parse (yaml.v3 falls back to a
	// string, YAML 1.2 says float): quote anything shaped like a number.
	if numberLike.MatchString(v) {
		return false
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(v), &n); err != nil || len(n.Content) != 1 {
		return false
	}
	if s := n.Content[0]; s.Kind != yaml.ScalarNode || s.ShortTag() != "!!str" || s.Value != v || s.Style != 0 {
		return false
	}
	var old any
	if err := yaml2.Unmarshal([]byte(v), &old); err != nil {
		return false
	}
	s, ok := old.(string)
	return ok && s == v
}

// doubleQuote renders v as a one-line double-quoted YAML scalar.
func doubleQuote(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case printable(r):
			b.WriteRune(r)
		case r <= 0xFF:
			fmt.Fprintf(&b, `\x%02X`, r)
		case r <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			fmt.Fprintf(&b, `\U%08X`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
