// Package images resolves OCI image tags to digests and checks that a tag
// still points at the digest a build-lock record holds.
package images
