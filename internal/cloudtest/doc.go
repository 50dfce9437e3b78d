// Package cloudtest runs doubles of the cloud services that hand out
// registry credentials, each answering as its provider documents the API:
// AWS STS AssumeRoleWithWebIdentity and ECR GetAuthorizationToken (every
// ECR call's SigV4 signature checked), the Compute Engine metadata server,
// and Microsoft Entra ID's token endpoint with ACR's token exchange.
package cloudtest
