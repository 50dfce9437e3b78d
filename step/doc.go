// Package step is the verified promotion: it reads a Freight's build-lock
// record, re-checks it against the registry and the source repository, and
// moves each stage's targets to that exact commit and image.
package step
