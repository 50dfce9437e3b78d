// Package sigstoretest is an in-process Sigstore for tests: a Fulcio-like
// certificate authority issuing GitHub Actions-like keyless certificates,
// sigstore-go's virtual transparency log (pkg/testing/ca), and the trusted
// root naming both, producing the bundles and cosign signature layers
// that cosign, GitHub's attest actions and cosign v2 push to registries.
package sigstoretest
