// Package relpath is the one rule for a path inside a repository that a
// user or a record gives: the step config's paths, publish's --dir.
package relpath

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Check accepts a clean, slash-separated path relative to the repository
// root that cannot leave it: not empty, not absolute, no backslash or
// control character, no empty, "." or ".." segment.
func Check(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.HasPrefix(p, "/") || path.IsAbs(p):
		return fmt.Errorf("%q is absolute; want a path relative to the repository root", p)
	case strings.ContainsAny(p, "\\"):
		return fmt.Errorf("%q contains a backslash; paths are separated by '/'", p)
	case strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("%q contains a control character", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q is not clean; want %q", p, path.Clean(p))
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return fmt.Errorf("%q leaves the repository through \"..\"", p)
		}
	}
	return nil
}
