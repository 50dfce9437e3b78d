// Package step is the verified promotion: it reads a Freight's build-lock
// record, re-checks it against the registry and the source repository, and
// moves each stage's targets to that exact commit and image. A config is
// parsed (ParseConfig) and resolved against one promotion into a Plan
// (Config.Resolve); a Runner runs plans and keeps what runs may share, and
// Run is one run with a Runner of its own. The three runtimes (serve, the
// custom step, docker run) all call it.
package step
