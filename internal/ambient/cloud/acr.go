package cloud

// Azure Container Registry: a Microsoft Entra access token from Workload
// ID (the federated token file and the variables AKS's webhook sets),
// exchanged at the registry's /oauth2/exchange for an ACR refresh token,
// which docker login takes as the password of the all-zero user.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/golang-jwt/jwt/v5"

	"github.com/argo-refs/argo-refs/internal/ambient"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// The environment of Microsoft Entra Workload ID, as AKS's webhook sets it.
const (
	EnvAzureClientID      = "AZURE_CLIENT_ID"
	EnvAzureTenantID      = "AZURE_TENANT_ID"
	EnvAzureTokenFile     = "AZURE_FEDERATED_TOKEN_FILE"
	EnvAzureAuthorityHost = "AZURE_AUTHORITY_HOST"
)

const (
	// acrScope is the Entra scope ACR's token exchange accepts.
	acrScope = "https://containerregistry.azure.net/.default"
	// acrUser is the user name that goes with an ACR refresh token.
	acrUser = "00000000-0000-0000-0000-000000000000"
	// acrFallbackLifetime is assumed for a refresh token without an exp
	// claim (they last three hours).
	acrFallbackLifetime = time.Hour
)

func fetchACR(ctx context.Context, opts Options, registry string) (ambient.Credential, error) {
	env := opts.Getenv
	clientID, tenantID, tokenFile := env(EnvAzureClientID), env(EnvAzureTenantID), env(EnvAzureTokenFile)
	if clientID == "" || tenantID == "" || tokenFile == "" {
		return ambient.Credential{}, fmt.Errorf("%w: Microsoft Entra Workload ID needs %s, %s and %s in the environment (AKS sets them for a pod whose service account is labelled azure.workload.identity/use)",
			ambient.ErrDenied, EnvAzureClientID, EnvAzureTenantID, EnvAzureTokenFile)
	}
	copts := azcore.ClientOptions{Transport: opts.HTTPClient, Retry: policy.RetryOptions{MaxRetries: -1}}
	if h := env(EnvAzureAuthorityHost); h != "" {
		copts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: h}
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: copts, ClientID: clientID, TenantID: tenantID, TokenFilePath: tokenFile,
		// The authority comes from the pod's environment (AKS's webhook),
		// not from anything a record or a config names.
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return ambient.Credential{}, fmt.Errorf("%w: setting up Workload ID: %w", ambient.ErrDenied, err)
	}
	aad, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{acrScope}})
	if err != nil {
		return ambient.Credential{}, fmt.Errorf("%w: getting a Microsoft Entra token: %w", azureClass(err), err)
	}
	scheme := "https://"
	if opts.PlainHTTP(registry) {
		scheme = "http://"
	}
	client, err := azcontainerregistry.NewAuthenticationClient(scheme+registry, &azcontainerregistry.AuthenticationClientOptions{ClientOptions: copts})
	if err != nil {
		return ambient.Credential{}, fmt.Errorf("%w: setting up ACR's token exchange: %w", ambient.ErrUnavailable, err)
	}
	resp, err := client.ExchangeAADAccessTokenForACRRefreshToken(ctx, azcontainerregistry.PostContentSchemaGrantTypeAccessToken, registry,
		&azcontainerregistry.AuthenticationClientExchangeAADAccessTokenForACRRefreshTokenOptions{AccessToken: &aad.Token, Tenant: &tenantID})
	if err != nil {
		return ambient.Credential{}, fmt.Errorf("%w: exchanging the Entra token at %s: %w", azureClass(err), registry, err)
	}
	if resp.RefreshToken == nil || *resp.RefreshToken == "" {
		return ambient.Credential{}, fmt.Errorf("%w: %s answered without a refresh token", ambient.ErrUnavailable, registry)
	}
	return ambient.Credential{
		UserPass: netpolicy.UserPass{Username: acrUser, Password: *resp.RefreshToken},
		Expires:  jwtExpiry(*resp.RefreshToken, opts.Now().Add(acrFallbackLifetime)),
	}, nil
}

// jwtExpiry reads the exp claim of a token the registry issued (it is not
// ours to verify, only to know when to renew it); fallback when it has
// none.
func jwtExpiry(token string, fallback time.Time) time.Time {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil || claims.ExpiresAt == nil {
		return fallback
	}
	return claims.ExpiresAt.Time
}

// azureClass sorts an Azure SDK error: a refusal by Entra ID or the
// registry is ambient.ErrDenied, anything else ambient.ErrUnavailable.
func azureClass(err error) error {
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) && af.RawResponse != nil {
		return byStatus(af.RawResponse.StatusCode)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return byStatus(re.StatusCode)
	}
	return ambient.ErrUnavailable
}
