// Package gittest serves bare Git repositories over smart HTTP on 127.0.0.1
// through the real git http-backend, counting requests and bytes, for tests.
package gittest
