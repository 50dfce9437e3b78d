package images

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/ambient/cloud"
	"github.com/argo-refs/argo-refs/internal/cloudtest"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/regtest"
)

// cloudOptions serves test registries under cloud registries' host names:
// the client dials the registry for that host and speaks plain HTTP to it.
func cloudOptions(routes map[string]*regtest.Registry, entra *cloudtest.Entra, registry string, log *bytes.Buffer) Options {
	opts := fastOptions()
	to := map[string]string{}
	for host, reg := range routes {
		to[host] = reg.Host
		opts.InsecureHosts = append(opts.InsecureHosts, host)
	}
	opts.Transport = cloudtest.Transport(to, entraRoots(entra))
	opts.Credentials = &Credentials{Ambient: true, Registry: registry}
	co := cloud.Options{HTTPClient: &http.Client{Transport: opts.Transport}, PlainHTTP: func(h string) bool { _, ok := routes[h]; return ok }}
	if entra != nil {
		env := entra.Env()
		co.Getenv = func(k string) string { return env[k] }
	}
	opts.AmbientFetch = cloud.Fetcher(co)
	if log != nil {
		opts.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return opts
}

func entraRoots(e *cloudtest.Entra) *tls.Config {
	if e == nil {
		return nil
	}
	return e.TLSConfig()
}

// authLog records the Authorization headers a registry's token endpoint saw.
type authLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *authLog) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.seen = append(l.seen, r.Header.Get("Authorization"))
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (l *authLog) any() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.seen {
		if a != "" {
			return true
		}
	}
	return false
}

func TestAmbientECR(t *testing.T) {
	aws := cloudtest.NewAWS(t, "123456789012", "eu-west-1")
	aws.Setenv(t)
	reg := regtest.New(t, regtest.WithCredentials("AWS", aws.Password), regtest.WithTokenTTL(time.Hour))
	want := reg.PushImage(t, "app:v1", nil)
	var other authLog
	elsewhere := regtest.New(t, regtest.WithCredentials("AWS", aws.Password), regtest.WithMiddleware(other.middleware))
	elsewhere.PushImage(t, "app:v1", nil)
	const otherHost = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
	aws.TokenTTL = 10 * time.Minute

	var log bytes.Buffer
	c := newClient(t, cloudOptions(map[string]*regtest.Registry{aws.Registry(): reg, otherHost: elsewhere}, nil, aws.Registry(), &log))
	now := time.Now()
	c.now = func() time.Time { return now }
	ref := aws.Registry() + "/app:v1"
	if _, err := c.Verify(testCtx(t), ref, want); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if aws.STSCalls() != 1 || aws.ECRCalls() != 1 {
		t.Errorf("STS %d, ECR %d calls; want 1 and 1", aws.STSCalls(), aws.ECRCalls())
	}
	if _, err := c.Verify(testCtx(t), ref, want); err != nil || reg.TokenRequests() != 1 {
		t.Errorf("warm Verify: err %v, token requests %d; want the kept token", err, reg.TokenRequests())
	}
	// The registry's token lasts an hour, ECR's password 10 minutes: the
	// transport is not kept past the password's life less the margin.
	now = now.Add(5*time.Minute + time.Second)
	if _, err := c.Verify(testCtx(t), ref, want); err != nil || reg.TokenRequests() != 2 {
		t.Errorf("Verify past the password's renewal: err %v, token requests %d; want a new token", err, reg.TokenRequests())
	}

	// An image in another registry (what a record could name) gets no
	// credentials, and the cloud is not asked for them.
	_, err := c.Verify(testCtx(t), otherHost+"/app:v1", want)
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Verify elsewhere: %v, want ErrUnauthorized (anonymous)", err)
	}
	if other.any() {
		t.Error("the other registry was sent an Authorization header")
	}
	if aws.ECRCalls() != 1 {
		t.Errorf("ECR calls = %d; the other registry's account must not be asked", aws.ECRCalls())
	}
	if strings.Contains(log.String(), aws.Password) || strings.Contains(err.Error(), aws.Password) {
		t.Errorf("the ECR password shows:\n%s\n%v", log.String(), err)
	}
}

func TestAmbientGAR(t *testing.T) {
	md := cloudtest.NewGCEMetadata(t)
	md.Setenv(t)
	const host = "europe-west1-docker.pkg.dev"
	reg := regtest.New(t, regtest.WithCredentials("oauth2accesstoken", md.Token))
	want := reg.PushImage(t, "proj/repo/app:v1", nil)
	var log bytes.Buffer
	c := newClient(t, cloudOptions(map[string]*regtest.Registry{host: reg}, nil, host, &log))
	if _, err := c.Verify(testCtx(t), host+"/proj/repo/app:v1", want); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if md.TokenCalls() != 1 {
		t.Errorf("metadata token calls = %d, want 1", md.TokenCalls())
	}
	if strings.Contains(log.String(), md.Token) {
		t.Errorf("the access token shows in the log:\n%s", log.String())
	}
}

func TestAmbientACR(t *testing.T) {
	const host = "argorefs.azurecr.io"
	entra := cloudtest.NewEntra(t)
	x := entra.NewACRExchange(host, 3*time.Hour)
	reg := regtest.New(t, regtest.WithCredentials("00000000-0000-0000-0000-000000000000", x.RefreshToken), regtest.WithMiddleware(x.Middleware))
	want := reg.PushImage(t, "app:v1", nil)
	c := newClient(t, cloudOptions(map[string]*regtest.Registry{host: reg}, entra, host, nil))
	if _, err := c.Verify(testCtx(t), host+"/app:v1", want); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if entra.TokenCalls() != 1 || x.Calls() != 1 {
		t.Errorf("Entra %d, exchange %d calls; want 1 and 1", entra.TokenCalls(), x.Calls())
	}
}

func TestAmbientRefusedIsTerminalOutageIsNot(t *testing.T) {
	aws := cloudtest.NewAWS(t, "123456789012", "us-east-1")
	aws.Setenv(t)
	reg := regtest.New(t, regtest.WithCredentials("AWS", aws.Password))
	want := reg.PushImage(t, "app:v1", nil)
	routes := map[string]*regtest.Registry{aws.Registry(): reg}

	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/not-trusted")
	_, err := newClient(t, cloudOptions(routes, nil, aws.Registry(), nil)).Verify(testCtx(t), aws.Registry()+"/app:v1", want)
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("refused role: %v, want ErrUnauthorized", err)
	}
	t.Setenv("AWS_ROLE_ARN", aws.RoleARN)
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://"+regtest.RefusingHost(t))
	_, err = newClient(t, cloudOptions(routes, nil, aws.Registry(), nil)).Verify(testCtx(t), aws.Registry()+"/app:v1", want)
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("STS down: %v, want ErrUnavailable", err)
	}
}

func TestAmbientOptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		creds Credentials
		want  string
	}{
		{"no registry", Credentials{Ambient: true}, "ambient credentials need the registry they are for"},
		{"not a cloud registry", Credentials{Ambient: true, Registry: "ghcr.io"}, "ghcr.io is not an Amazon ECR"},
		{"and a password", Credentials{Ambient: true, Registry: "gcr.io", UserPass: netpolicy.UserPass{Username: "u", Password: secret}}, "take no username or password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := fastOptions()
			opts.Credentials = &tc.creds
			_, err := New(opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), secret) {
				t.Errorf("New: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
