// Package commitsign signs Git commits the way git itself does, so that
// git verify-commit, GitHub and Argo CD accept them: an armored OpenPGP
// detached signature (gpg.format=openpgp) or an SSH signature in the git
// namespace (gpg.format=ssh), over the commit without its signature.
package commitsign
