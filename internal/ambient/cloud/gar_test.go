package cloud

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/ambient"
	"github.com/argo-refs/argo-refs/internal/cloudtest"
)

func TestGARWithWorkloadIdentity(t *testing.T) {
	md := cloudtest.NewGCEMetadata(t)
	md.Setenv(t)
	src := ambient.New(ambient.Options{Fetch: Fetcher(Options{})})
	c, err := src.Get(context.Background(), "europe-west1-docker.pkg.dev")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if c.Username != "oauth2accesstoken" || c.Password != md.Token {
		t.Errorf("credential = %v, want oauth2accesstoken and the metadata server's token", c)
	}
	if d := time.Until(c.Expires); d < 55*time.Minute || d > time.Hour {
		t.Errorf("expires in %s, want about 1h", d)
	}
	// Another Google registry host is another cache entry.
	if _, err := src.Get(context.Background(), "gcr.io"); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Get(context.Background(), "gcr.io"); err != nil || md.TokenCalls() != 2 {
		t.Errorf("err %v, token calls %d; want 2 (one per registry, then kept)", err, md.TokenCalls())
	}
}

func TestGARMetadataServerDown(t *testing.T) {
	md := cloudtest.NewGCEMetadata(t)
	md.Setenv(t)
	md.Close()
	_, err := ambient.New(ambient.Options{Fetch: Fetcher(Options{HTTPClient: &http.Client{Timeout: 2 * time.Second}})}).Get(context.Background(), "us-docker.pkg.dev")
	if !errors.Is(err, ambient.ErrUnavailable) {
		t.Errorf("err = %v, want ambient.ErrUnavailable", err)
	}
}
