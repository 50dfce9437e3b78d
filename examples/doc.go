// Package examples holds copyable Kargo, Argo CD, kargo-extended, Akuity and
// GitHub Actions manifests for argo-refs; its tests check that they parse,
// validate and fit together. It has no Go API.
package examples
