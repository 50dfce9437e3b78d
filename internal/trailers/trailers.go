// Package trailers writes and reads the machine-readable trailers argo-refs
// puts on the commits it makes, in git's trailer format (the last
// paragraph of the message, one "Key: value" line each, as git
// interpret-trailers reads them), so that Git is the audit log.
package trailers

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The keys argo-refs writes.
const (
	KargoProject         = "Kargo-Project"
	KargoStage           = "Kargo-Stage"
	KargoPromotion       = "Kargo-Promotion"
	KargoFreight         = "Kargo-Freight"
	PromotedBy           = "Promoted-By"
	SourceCommit         = "Source-Commit"
	PreviousSourceCommit = "Previous-Source-Commit"
	Image                = "Image"
	BuildLock            = "Build-Lock"
	// ImageSignedBy is the identity (or key) whose signature of the image
	// the stage's image policy verified; ImageBuiltBy the builder its
	// verified provenance names.
	ImageSignedBy = "Image-Signed-By"
	ImageBuiltBy  = "Image-Built-By"
)

// maxValue bounds a value written (a Kargo name is at most 253 bytes; an
// image reference with its digest a few hundred).
const maxValue = 1024

// Trailer is one key and value.
type Trailer struct {
	Key, Value string
}

// Append returns message with trailers added as its last paragraph, in
// order. Empty values are left out; a value is made one line (control
// characters become spaces) and bounded. A message whose last paragraph
// is already trailers gets the new ones in the same paragraph.
func Append(message string, ts ...Trailer) string {
	var lines []string
	for _, t := range ts {
		v := clean(t.Value)
		if v == "" || !validKey(t.Key) {
			continue
		}
		lines = append(lines, t.Key+": "+v)
	}
	msg := strings.TrimRight(message, "\n \t")
	if len(lines) == 0 {
		return msg + "\n"
	}
	sep := "\n\n"
	if len(Parse(msg)) > 0 && strings.Contains(msg, "\n\n") {
		sep = "\n"
	}
	return msg + sep + strings.Join(lines, "\n") + "\n"
}

// Parse returns the trailers of message: the "Key: value" lines of its
// last paragraph, when that paragraph is not the subject and every line
// of it is a trailer (git also takes a paragraph that is mostly
// trailers; argo-refs writes only whole ones). Keys keep their case.
func Parse(message string) []Trailer {
	msg := strings.TrimRight(strings.ReplaceAll(message, "\r\n", "\n"), "\n \t")
	i := strings.LastIndex(msg, "\n\n")
	if i < 0 {
		return nil // the subject alone has no trailers
	}
	var out []Trailer
	for _, line := range strings.Split(msg[i+2:], "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !validKey(k) {
			return nil
		}
		out = append(out, Trailer{Key: k, Value: strings.TrimSpace(v)})
	}
	return out
}

// Get returns the last value of key (compared without case, as git does)
// in ts, or "".
func Get(ts []Trailer, key string) string {
	for i := len(ts) - 1; i >= 0; i-- {
		if strings.EqualFold(ts[i].Key, key) {
			return ts[i].Value
		}
	}
	return ""
}

// validKey accepts git's trailer tokens: letters, digits and dashes.
func validKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, r := range k {
		if !(r == '-' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

func clean(v string) string {
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, v)
	v = strings.Join(strings.Fields(v), " ")
	if len(v) > maxValue {
		cut := maxValue
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	return v
}
