// Package helperbin is how argo-refs runs its helper binaries
// (argo-refs-render, argo-refs-cloud-auth, argo-refs-trust), found next to
// the running executable or on PATH, and how a helper answers: one JSON
// request on stdin, one JSON answer on stdout.
package helperbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Path returns configured when set, else the helper called name (Find);
// when there is none, an error wrapping notFound that says what it is
// needed for and where the argo-refs image has it.
func Path(configured, name, neededFor string, notFound error) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if p, ok := Find(name); ok {
		return p, nil
	}
	return "", fmt.Errorf("%w next to argo-refs or on PATH, needed for %s (the argo-refs image has it at /%s)", notFound, neededFor, name)
}

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
