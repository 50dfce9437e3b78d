// Package plugin serves the promotion step to kargo-extended as a StepPlugin sidecar over HTTP.
package plugin
