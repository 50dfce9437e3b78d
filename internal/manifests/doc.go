// Package manifests renders the Kubernetes manifests that install argo-refs
// as a kargo-extended StepPlugin: the plugin.yaml and its discovery ConfigMap.
package manifests
