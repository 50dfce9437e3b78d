package cloud

// Amazon ECR: the AWS SDK's default credential chain (environment, IRSA's
// web identity token, EKS Pod Identity, shared config, instance role)
// signs ecr:GetAuthorizationToken for the registry's account and region;
// the token is "AWS:<password>" for basic authentication, valid 12 hours.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrapi "github.com/awslabs/amazon-ecr-credential-helper/ecr-login/api"

	"github.com/argo-refs/argo-refs/internal/ambient"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

func fetchECR(ctx context.Context, registry string) (ambient.Credential, error) {
	reg, err := ecrapi.ExtractRegistry(registry)
	if err != nil {
		return ambient.Credential{}, fmt.Errorf("%w: %w", ambient.ErrNoProvider, err)
	}
	// The SDK's own HTTP client, not Options.HTTPClient: only the SDK's
	// can take AWS_CA_BUNDLE's certificates.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(reg.Region))
	if err != nil {
		return ambient.Credential{}, fmt.Errorf("%w: loading the AWS configuration: %w", ambient.ErrDenied, err)
	}
	client := ecr.NewFromConfig(cfg, func(o *ecr.Options) {
		if reg.FIPS {
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}
	})
	// No registry IDs: the token serves every registry the identity may
	// read (AWS deprecated asking for one).
	out, err := client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return ambient.Credential{}, fmt.Errorf("%w: ecr:GetAuthorizationToken: %w", awsClass(err), err)
	}
	for _, d := range out.AuthorizationData {
		if d.AuthorizationToken == nil || d.ExpiresAt == nil {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(*d.AuthorizationToken)
		if err != nil {
			return ambient.Credential{}, fmt.Errorf("%w: ECR's authorization token is not base64", ambient.ErrUnavailable)
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok || user == "" || pass == "" {
			return ambient.Credential{}, fmt.Errorf("%w: ECR's authorization token is not user:password", ambient.ErrUnavailable)
		}
		return ambient.Credential{UserPass: netpolicy.UserPass{Username: user, Password: pass}, Expires: *d.ExpiresAt}, nil
	}
	return ambient.Credential{}, fmt.Errorf("%w: ECR answered without an authorization token for account %s", ambient.ErrUnavailable, reg.ID)
}

// awsClass sorts an AWS SDK error: an HTTP refusal from STS or ECR is
// ambient.ErrDenied; a network failure, throttling or a 5xx is ambient.ErrUnavailable.
func awsClass(err error) error {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return byStatus(re.HTTPStatusCode())
	}
	return ambient.ErrUnavailable
}
