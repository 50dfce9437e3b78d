package ambient

import (
	"errors"
	"testing"
)

func TestProviderOf(t *testing.T) {
	for host, want := range map[string]Provider{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com":          ECR,
		"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com": ECR,
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn":      ECR,
		"123456789012.DKR.ECR.eu-west-1.AMAZONAWS.COM":          ECR,
		"europe-west1-docker.pkg.dev":                           GAR,
		"us-docker.pkg.dev":                                     GAR,
		"gcr.io":                                                GAR,
		"eu.gcr.io":                                             GAR,
		"argorefs.azurecr.io":                                   ACR,
		"ghcr.io":                                               "",
		"docker.io":                                             "",
		"public.ecr.aws":                                        "",
		"registry.example.com":                                  "",
		"evil.com/.gcr.io":                                      "",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com:5000":     "",
		"gcr.io.evil.com":                                       "",
		"azurecr.io.evil.com":                                   "",
		"notdocker.pkg.dev.evil.com":                            "",
	} {
		got, err := ProviderOf(host)
		if got != want || (want == "") != errors.Is(err, ErrNoProvider) {
			t.Errorf("ProviderOf(%q) = %q, %v; want %q", host, got, err, want)
		}
	}
}
