// Package ambient gets image registry credentials from the cloud identity
// the process runs with, instead of a stored password: Amazon ECR (IRSA,
// EKS Pod Identity, instance roles), Google Artifact Registry and Container
// Registry (Workload Identity, metadata server, application default
// credentials) and Azure Container Registry (Microsoft Entra Workload ID).
package ambient
