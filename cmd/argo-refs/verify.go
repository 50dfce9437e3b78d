package main

import "github.com/argo-refs/argo-refs/step"

// verifyCmd runs the read-only verification step once.
func verifyCmd() *command {
	return stepCommand(step.KindVerify, stepCommandText{
		name:    "verify",
		summary: "Verify a Freight's build-lock against the registry and the source repository; change nothing.",
		example: "argo-refs verify --config stage.yaml --stage staging --gitops-commit 1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
	})
}
