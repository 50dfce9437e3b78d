// Package render renders a stage's manifests the way Argo CD does, from
// files held in memory: a Helm chart with Helm's own loader and engine (as
// `helm template`), a Kustomize directory with krusty. It is linked only
// into argo-refs-render, so that promotions without a render do not pay
// for Helm and Kustomize.
package render
