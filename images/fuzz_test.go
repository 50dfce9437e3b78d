package images

import (
	"errors"
	"testing"
)

// FuzzParseReference checks that ParseReference never panics, fails only with
// ErrInvalidReference, and that what it accepts prints back to a reference
// that parses to the same thing.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"ghcr.io/org/repo:tag", "alpine", "org/repo:1", "localhost:5000/r:t",
		"127.0.0.1:5000/a/b@sha256:" + hex64, "ghcr.io/o/r:t@sha256:" + hex64,
		"[::1]:5000/r:t", "", "a@b@c", "https://x/y:z", "UPPER:tag", "r:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("ParseReference(%q) error %v does not wrap ErrInvalidReference", s, err)
			}
			return
		}
		again, err := ParseReference(ref.String())
		if err != nil {
			t.Fatalf("ParseReference(%q) = %q, which does not parse: %v", s, ref.String(), err)
		}
		if again.String() != ref.String() || again.Name() != ref.Name() || tagOf(again) != tagOf(ref) {
			t.Fatalf("round trip of %q: %q/%q then %q/%q", s, ref.String(), ref.Name(), again.String(), again.Name())
		}
	})
}
