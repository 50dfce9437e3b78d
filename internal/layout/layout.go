// Package layout holds the code-dot-org GitOps layout that the demo and the
// benchmark repositories share: the codeai ApplicationSet, whose git-files
// generator reads apps/codeai/deployments/*/deployment.yaml and renders the
// chart at each stage's targetRevision with the envType and stage values.
package layout

import "fmt"

// ApplicationSet returns the codeai ApplicationSet for a GitOps repository
// and a source repository (the chart at k8s/helm).
func ApplicationSet(gitopsURL, sourceURL string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: codeai
  namespace: argocd
spec:
  generators:
    - git:
        repoURL: %[1]s
        revision: main
        files:
          - path: apps/codeai/deployments/*/deployment.yaml
  template:
    metadata:
      name: codeai-{{path.basename}}
    spec:
      project: default
      sources:
        - repoURL: %[2]s
          targetRevision: '{{targetRevision}}'
          path: k8s/helm
          helm:
            releaseName: '{{path.basename}}'
            valueFiles:
              - $values/apps/codeai/envTypes/{{envType}}.values.yaml
              - $values/apps/codeai/deployments/{{path.basename}}/values.yaml
        - repoURL: %[1]s
          targetRevision: main
          ref: values
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{namespace}}'
`, gitopsURL, sourceURL)
}
