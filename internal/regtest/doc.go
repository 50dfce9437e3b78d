// Package regtest serves a real OCI registry on 127.0.0.1 behind a bearer
// token gate that behaves like ghcr.io's, for tests.
package regtest
