package cloud

import (
	"testing"

	ecrapi "github.com/awslabs/amazon-ecr-credential-helper/ecr-login/api"

	"github.com/argo-refs/argo-refs/internal/ambient"
)

// TestECRHostsAgreeWithTheCredentialHelper: ambient.ProviderOf, which the
// step's binary runs without the AWS SDK, takes as ECR exactly the hosts
// the ECR credential helper takes.
func TestECRHostsAgreeWithTheCredentialHelper(t *testing.T) {
	for _, h := range []string{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com",
		"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
		"123456789012.dkr-ecr.eu-west-1.on.aws",
		"123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
		"123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
		"123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
		"123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
		"123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
		"123456789012.dkr.ecr.cn-north-1.on.amazonwebservices.com.cn",
		"12345678901.dkr.ecr.us-east-1.amazonaws.com",
		"123456789012.dkr.ecr.us-east-1.amazonaws.org",
		"123456789012.ecr.us-east-1.amazonaws.com",
		"public.ecr.aws",
		"ghcr.io",
	} {
		_, err := ecrapi.ExtractRegistry(h)
		helper := err == nil && h != "public.ecr.aws"
		p, _ := ambient.ProviderOf(h)
		if (p == ambient.ECR) != helper {
			t.Errorf("%s: ProviderOf says %q, the ECR credential helper %v", h, p, helper)
		}
	}
}
