// Package helperbin is how argo-refs runs its helper binaries
// (argo-refs-render, argo-refs-cloud-auth, argo-refs-trust), found next to
// the running executable or on PATH, and how a helper answers: one JSON
// request on stdin, one JSON answer on stdout.
package helperbin

import (
	"os"
	"os/exec"
	"path/filepath"
)

// Find returns the path of the helper called name, or false.
func Find(name string) (string, bool) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, true
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	return "", false
}
