package step

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/githubtest"
	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/step/kargo"
)

// appFixture is a fixture whose Git server also serves GitHub's App token
// endpoint under /api/v3 (as a GitHub Enterprise Server does) and, as
// GitHub does, takes an installation token as the password of user
// x-access-token: its Git requests need the token goodToken.
func appFixture(t *testing.T, goodToken string) (*fixture, *githubtest.Server, string) {
	t.Helper()
	gh := githubtest.New(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	gh.AddApp(githubtest.App{Issuer: "Iv1.argorefs", InstallationID: "77", Key: &key.PublicKey, NextTokens: []string{"ghs_revoked", goodToken}})
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/v3/") {
				gh.Handler().ServeHTTP(w, r)
				return
			}
			if u, p, ok := r.BasicAuth(); !ok || u != "x-access-token" || p != goodToken {
				w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
				http.Error(w, "Invalid username or token", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	f := newFixture(t, fixtureOpt{gitMW: mw, noGitAuth: true})
	return f, gh, pemKey
}

// TestGitHubAppCredentials: Kargo's GitHub App keys mint an installation
// token (the double checks the JWT's signature and claims), the token is
// reused by later runs of the same Runner, one the Git host refuses is
// replaced once, and neither the key nor a token shows anywhere.
func TestGitHubAppCredentials(t *testing.T) {
	const good = "ghs_goodInstallationToken"
	f, gh, pemKey := appFixture(t, good)
	cfg := map[string]any{"credentials": map[string]any{
		"git":      map[string]any{"githubAppClientID": "Iv1.argorefs", "githubAppInstallationID": "77", "githubAppPrivateKey": pemKey},
		"registry": map[string]any{"username": regUser, "password": secret, "registry": f.registryHost()},
	}}
	// The first token minted is refused by the Git host: the run mints
	// another and goes on.
	res := f.run(t, KindPromote, "staging", cfg)
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if got := gh.Minted(); len(got) != 2 || got[1] != good {
		t.Fatalf("minted %v, want the refused token and a second one", got)
	}
	// The next run of the same Runner reuses the good token.
	wantStatus(t, f.run(t, KindVerify, "staging", cfg), kargo.StatusSucceeded, false)
	if n := len(gh.Minted()); n != 2 {
		t.Fatalf("%d tokens minted after a second run, want 2", n)
	}
	keyBody := strings.Split(pemKey, "\n")[1]
	for _, s := range []string{res.Message, f.logs.String(), gittestLog(res)} {
		for _, leak := range append([]string{good, "ghs_revoked", keyBody}, gh.JWTs()...) {
			if strings.Contains(s, leak) || strings.Contains(s, base64.StdEncoding.EncodeToString([]byte("x-access-token:"+leak))) {
				t.Fatalf("a token, JWT or the key shows: %q", leaktest.Find(s, "x-access-token", leak))
			}
		}
	}
}

// gittestLog is what a Result shows a person: its message and outputs.
func gittestLog(res Result) string {
	var sb strings.Builder
	sb.WriteString(res.Message)
	for k, v := range res.Output {
		sb.WriteString(k)
		sb.WriteString(strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(v), "\n", " "), "\t", " ")))
	}
	return sb.String()
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
