package cloud

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/ambient"
	"github.com/argo-refs/argo-refs/internal/cloudtest"
)

func TestECRWithIRSA(t *testing.T) {
	aws := cloudtest.NewAWS(t, "123456789012", "eu-west-1")
	aws.Setenv(t)
	now := time.Now()
	src := ambient.New(ambient.Options{Fetch: Fetcher(Options{}), Now: func() time.Time { return now }})

	c, err := src.Get(context.Background(), aws.Registry())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if c.Username != "AWS" || c.Password != aws.Password {
		t.Errorf("credential = %v, want AWS and the token's password", c)
	}
	if d := time.Until(c.Expires); d < 11*time.Hour || d > 13*time.Hour {
		t.Errorf("expires in %s, want about 12h", d)
	}
	if aws.STSCalls() != 1 || aws.ECRCalls() != 1 {
		t.Errorf("calls: STS %d, ECR %d; want 1 and 1", aws.STSCalls(), aws.ECRCalls())
	}

	// Kept while it has more than ambient.RenewBefore left, then renewed.
	if _, err := src.Get(context.Background(), aws.Registry()); err != nil || aws.ECRCalls() != 1 {
		t.Errorf("second Get: err %v, ECR calls %d; want the kept credential", err, aws.ECRCalls())
	}
	now = c.Expires.Add(-ambient.RenewBefore)
	if _, err := src.Get(context.Background(), aws.Registry()); err != nil || aws.ECRCalls() != 2 {
		t.Errorf("Get near expiry: err %v, ECR calls %d; want a new token", err, aws.ECRCalls())
	}
}

func TestECRRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(a *cloudtest.AWS, t *testing.T)
		want  error
	}{
		{"role the token may not assume", func(a *cloudtest.AWS, t *testing.T) { t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/other") }, ambient.ErrDenied},
		{"a token STS did not issue", func(a *cloudtest.AWS, t *testing.T) {
			other := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(other, []byte("eyJ.forged.token"), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", other)
		}, ambient.ErrDenied},
		{"STS down", func(a *cloudtest.AWS, t *testing.T) { t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1") }, ambient.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := cloudtest.NewAWS(t, "123456789012", "us-east-1")
			a.Setenv(t)
			registry := a.Registry()
			tc.setup(a, t)
			_, err := ambient.New(ambient.Options{Fetch: Fetcher(Options{})}).Get(context.Background(), registry)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
