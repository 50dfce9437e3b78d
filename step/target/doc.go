// Package target edits the files a promotion moves (deployment files, Argo CD
// Applications, kustomizations) so that only the bytes of the changed scalars
// differ.
package target
