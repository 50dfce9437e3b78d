package githubapp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/githubapp"
	"github.com/argo-refs/argo-refs/internal/githubtest"
)

func keyPEM(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

// TestTokensAreMintedCachedAndRenewed: the endpoint double checks the JWT's
// signature and claims; a token is reused until shortly before it expires,
// and a refused one is replaced on the next call.
func TestTokensAreMintedCachedAndRenewed(t *testing.T) {
	key, pemKey := keyPEM(t)
	gh := githubtest.New(t)
	gh.AddApp(githubtest.App{Issuer: "Iv1.client", InstallationID: "42", Key: &key.PublicKey, TTL: time.Hour})
	now := time.Now()
	clock := func() time.Time { return now }
	gh.SetClock(clock)
	app, err := githubapp.New("Iv1.client", "42", pemKey, githubapp.Options{APIURL: gh.URL, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := app.Token(ctx)
	if err != nil || first != "ghs_1" {
		t.Fatalf("Token = %q, %v", first, err)
	}
	now = now.Add(50 * time.Minute) // 10 minutes left: still good
	if tok, _ := app.Token(ctx); tok != first || len(gh.Minted()) != 1 {
		t.Fatalf("a fresh token was not reused: %q, minted %v", tok, gh.Minted())
	}
	now = now.Add(6 * time.Minute) // 4 minutes left: renewed
	if tok, _ := app.Token(ctx); tok != "ghs_2" {
		t.Fatalf("an expiring token was not renewed: %q", tok)
	}
	app.Refused("ghs_2")
	if tok, _ := app.Token(ctx); tok != "ghs_3" {
		t.Fatalf("a refused token was reused: %q", tok)
	}
	for _, j := range gh.JWTs() {
		if strings.Count(j, ".") != 2 {
			t.Fatalf("not a JWT: %q", j)
		}
	}
}

func TestRefusals(t *testing.T) {
	key, pemKey := keyPEM(t)
	_, otherPEM := keyPEM(t)
	gh := githubtest.New(t)
	gh.AddApp(githubtest.App{Issuer: "123", InstallationID: "42", Key: &key.PublicKey})
	for name, tc := range map[string]struct{ issuer, inst, pem string }{
		"another key":          {"123", "42", otherPEM},
		"another issuer":       {"124", "42", pemKey},
		"another installation": {"123", "43", pemKey},
	} {
		app, err := githubapp.New(tc.issuer, tc.inst, tc.pem, githubapp.Options{APIURL: gh.URL})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Token(context.Background()); !errors.Is(err, githubapp.ErrRefused) || strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("%s: %v, want ErrRefused without the key", name, err)
		}
	}
	// A JWT living longer than GitHub allows is refused by the double: the
	// claims are checked, not only the signature.
	app, _ := githubapp.New("123", "42", pemKey, githubapp.Options{APIURL: gh.URL, Now: func() time.Time { return time.Now().Add(-20 * time.Minute) }})
	if _, err := app.Token(context.Background()); !errors.Is(err, githubapp.ErrRefused) {
		t.Errorf("an expired JWT: %v", err)
	}
	if _, err := githubapp.New("123", "42", "not a key", githubapp.Options{}); err == nil || strings.Contains(err.Error(), "not a key") {
		t.Errorf("bad key: %v", err)
	}
	if _, err := githubapp.New("123", "forty-two", pemKey, githubapp.Options{}); err == nil {
		t.Error("a non-numeric installation ID was accepted")
	}
}
