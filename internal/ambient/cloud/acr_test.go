package cloud

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/ambient"
	"github.com/argo-refs/argo-refs/internal/cloudtest"
)

func TestACRWithWorkloadID(t *testing.T) {
	const registry = "argorefs.azurecr.io"
	entra := cloudtest.NewEntra(t)
	x := entra.NewACRExchange(registry, 3*time.Hour)
	srv := httptest.NewServer(x.Middleware(http.NotFoundHandler()))
	t.Cleanup(srv.Close)
	env := entra.Env()
	opts := Options{
		HTTPClient: &http.Client{Transport: cloudtest.Transport(map[string]string{registry: strings.TrimPrefix(srv.URL, "http://")}, entra.TLSConfig())},
		Getenv:     func(k string) string { return env[k] },
		PlainHTTP:  func(h string) bool { return h == registry },
	}
	src := ambient.New(ambient.Options{Fetch: Fetcher(opts)})
	c, err := src.Get(context.Background(), registry)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if c.Username != "00000000-0000-0000-0000-000000000000" || c.Password != x.RefreshToken {
		t.Errorf("credential = %v, want the all-zero user and the refresh token", c)
	}
	if !c.Expires.Equal(x.Expires) {
		t.Errorf("expires %s, want the token's exp %s", c.Expires, x.Expires)
	}
	if _, err := src.Get(context.Background(), registry); err != nil || entra.TokenCalls() != 1 || x.Calls() != 1 {
		t.Errorf("second Get: err %v, Entra %d, exchange %d calls; want the kept credential", err, entra.TokenCalls(), x.Calls())
	}

	t.Run("no Workload ID in the environment", func(t *testing.T) {
		_, err := ambient.New(ambient.Options{Fetch: Fetcher(Options{Getenv: func(string) string { return "" }})}).Get(context.Background(), registry)
		if !errors.Is(err, ambient.ErrDenied) || !strings.Contains(err.Error(), "AZURE_FEDERATED_TOKEN_FILE") {
			t.Errorf("err = %v, want ambient.ErrDenied naming the variables", err)
		}
	})
	t.Run("a token for another application", func(t *testing.T) {
		bad := map[string]string{}
		for k, v := range env {
			bad[k] = v
		}
		bad["AZURE_CLIENT_ID"] = "00000000-1111-4000-8000-000000000000"
		o := opts
		o.Getenv = func(k string) string { return bad[k] }
		_, err := ambient.New(ambient.Options{Fetch: Fetcher(o)}).Get(context.Background(), registry)
		if !errors.Is(err, ambient.ErrDenied) {
			t.Errorf("err = %v, want ambient.ErrDenied", err)
		}
	})
}
