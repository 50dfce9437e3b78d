// Package cloud asks the clouds for registry credentials with their own
// SDKs: AWS's default chain and ECR, Google's application default
// credentials, Microsoft Entra Workload ID and ACR's token exchange. It is
// linked only into argo-refs-cloud-auth.
package cloud
