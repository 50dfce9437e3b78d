// Package trust decides whether an image digest meets a stage's policy:
// signed by whom the policy requires, and attested to have been built by
// an allowed builder from the record's source repository and commit, as
// Sigstore bundles and cosign signatures prove it (verified with
// sigstore-go). It is linked only into argo-refs-trust, so that a
// promotion without a policy pays nothing for it.
package trust
