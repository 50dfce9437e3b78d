package cloudtest

// Microsoft Entra ID as an AKS pod with Workload ID sees it, and ACR's
// token exchange:
//   - OpenID discovery at <authority>/<tenant>/v2.0/.well-known/openid-configuration
//     names the token endpoint
//     (https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc);
//   - the token endpoint takes the client credentials grant with the
//     projected service account token as a client assertion
//     (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#third-case-access-token-request-with-a-federated-credential);
//   - the registry's POST /oauth2/exchange takes grant_type=access_token,
//     service and the Entra access_token, and answers with an ACR refresh
//     token (https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md).

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Entra is a double of Microsoft Entra ID's token service, over TLS (the
// Azure libraries refuse an authority without it).
type Entra struct {
	TenantID, ClientID string
	// AccessToken is what the token endpoint hands out.
	AccessToken string

	srv        *httptest.Server
	tokenFile  string
	assertion  string
	tokenCalls atomic.Int64
}

// NewEntra starts the double.
func NewEntra(t testing.TB) *Entra {
	t.Helper()
	e := &Entra{
		TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", ClientID: "6a2f3e2d-0000-4000-8000-" + randomHex(6),
		AccessToken: "eyJ0eXAiOiJKV1QifQ." + randomHex(24) + ".entra",
		assertion:   "eyJhbGciOiJSUzI1NiJ9." + randomHex(24) + ".projected",
	}
	e.tokenFile = filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(e.tokenFile, []byte(e.assertion), 0o600); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewTLSServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

// Env is what AKS's Workload ID webhook sets in a pod, pointed at the double.
func (e *Entra) Env() map[string]string {
	return map[string]string{
		"AZURE_CLIENT_ID":            e.ClientID,
		"AZURE_TENANT_ID":            e.TenantID,
		"AZURE_FEDERATED_TOKEN_FILE": e.tokenFile,
		"AZURE_AUTHORITY_HOST":       e.srv.URL + "/",
	}
}

// TLSConfig trusts the double's certificate.
func (e *Entra) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(e.srv.Certificate())
	return &tls.Config{RootCAs: pool}
}

// TokenCalls counts the token requests answered.
func (e *Entra) TokenCalls() int { return int(e.tokenCalls.Load()) }

func (e *Entra) serve(w http.ResponseWriter, r *http.Request) {
	base := e.srv.URL + "/" + e.TenantID
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/"+e.TenantID+"/v2.0/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"issuer":                                base + "/v2.0",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		})
	case r.Method == http.MethodPost && r.URL.Path == "/"+e.TenantID+"/oauth2/v2.0/token":
		e.tokenCalls.Add(1)
		if err := r.ParseForm(); err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		f := r.PostForm
		switch {
		case f.Get("grant_type") != "client_credentials":
			oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "want client_credentials")
		case f.Get("client_id") != e.ClientID:
			oauthError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: application not found")
		case f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || f.Get("client_assertion") != e.assertion:
			oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS700024: client assertion is not the federated token")
		case !slices.Contains(strings.Fields(f.Get("scope")), "https://containerregistry.azure.net/.default"):
			oauthError(w, http.StatusBadRequest, "invalid_scope", "want the ACR scope")
		default:
			writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": e.AccessToken})
		}
	default:
		http.NotFound(w, r)
	}
}

// ACRExchange is the registry's /oauth2/exchange for registry: it takes
// e's access token and answers RefreshToken, a JWT that expires after ttl.
// Wrap a test registry's handler with Middleware.
type ACRExchange struct {
	Registry     string
	RefreshToken string
	Expires      time.Time

	entra *Entra
	calls atomic.Int64
}

// NewACRExchange mints the refresh token the exchange will hand out.
func (e *Entra) NewACRExchange(registry string, ttl time.Duration) *ACRExchange {
	exp := time.Now().Add(ttl).Truncate(time.Second)
	enc := base64.RawURLEncoding.EncodeToString
	claims := fmt.Sprintf(`{"jti":%q,"sub":"%s","grant_type":"refresh_token","aud":%q,"exp":%d}`, randomHex(8), e.ClientID, registry, exp.Unix())
	tok := enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte(randomHex(32)))
	return &ACRExchange{Registry: registry, RefreshToken: tok, Expires: exp, entra: e}
}

// Calls counts the exchanges answered.
func (x *ACRExchange) Calls() int { return int(x.calls.Load()) }

// Middleware serves POST /oauth2/exchange and passes every other request on.
func (x *ACRExchange) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/exchange" {
			next.ServeHTTP(w, r)
			return
		}
		x.calls.Add(1)
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			oauthError(w, http.StatusBadRequest, "invalid_request", "POST a form")
			return
		}
		f := r.PostForm
		switch {
		case f.Get("grant_type") != "access_token":
			oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "want access_token")
		case f.Get("service") != x.Registry:
			oauthError(w, http.StatusBadRequest, "invalid_request", "service is not this registry")
		case f.Get("access_token") != x.entra.AccessToken:
			oauthError(w, http.StatusUnauthorized, "invalid_grant", "the access token was not issued by this tenant")
		case f.Get("tenant") != "" && f.Get("tenant") != x.entra.TenantID:
			oauthError(w, http.StatusUnauthorized, "invalid_grant", "wrong tenant")
		default:
			writeJSON(w, http.StatusOK, map[string]string{"refresh_token": x.RefreshToken})
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc, "error_codes": []int{70000}, "timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z")})
}
