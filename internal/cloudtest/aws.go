package cloudtest

// AWS as an EKS pod with IRSA sees it: STS's AssumeRoleWithWebIdentity
// (Query protocol, unsigned, the projected service account token as
// WebIdentityToken; https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html)
// returns session credentials, and ECR's GetAuthorizationToken (JSON 1.1
// protocol, X-Amz-Target AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken,
// SigV4-signed with those credentials;
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html)
// returns base64("AWS:<password>") with its expiry.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// AWS is a double of STS and ECR on one loopback server.
type AWS struct {
	// Account and Region are the ECR registry's: the registry host is
	// <Account>.dkr.ecr.<Region>.amazonaws.com.
	Account, Region string
	// RoleARN is the role the web identity token may assume.
	RoleARN string
	// Password is what ECR's token carries for user AWS.
	Password string
	// TokenTTL is how long ECR's tokens last (12 hours in AWS).
	TokenTTL time.Duration

	srv       *httptest.Server
	tokenFile string
	webToken  string

	mu       sync.Mutex
	sessions map[string]aws.Credentials // by access key ID

	stsCalls, ecrCalls atomic.Int64
}

// NewAWS starts the double for one account, region and role.
func NewAWS(t testing.TB, account, region string) *AWS {
	t.Helper()
	a := &AWS{
		Account: account, Region: region,
		RoleARN:  "arn:aws:iam::" + account + ":role/argo-refs",
		Password: "ecr-" + randomHex(16), TokenTTL: 12 * time.Hour,
		webToken: "eyJhbGciOiJSUzI1NiJ9." + randomHex(24) + ".sig",
		sessions: map[string]aws.Credentials{},
	}
	a.tokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(a.tokenFile, []byte(a.webToken), 0o600); err != nil {
		t.Fatal(err)
	}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

// Registry is the ECR registry host of the account and region.
func (a *AWS) Registry() string {
	return a.Account + ".dkr.ecr." + a.Region + ".amazonaws.com"
}

// Env is the environment of a pod with IRSA, pointed at the double: the
// role and token file AWS's webhook sets, the service endpoints, and no
// shared files or instance metadata to fall back on.
func (a *AWS) Env() map[string]string {
	return map[string]string{
		"AWS_ROLE_ARN":                a.RoleARN,
		"AWS_WEB_IDENTITY_TOKEN_FILE": a.tokenFile,
		"AWS_ROLE_SESSION_NAME":       "argo-refs-test",
		"AWS_ENDPOINT_URL_STS":        a.srv.URL,
		"AWS_ENDPOINT_URL_ECR":        a.srv.URL,
		"AWS_CONFIG_FILE":             filepath.Join(filepath.Dir(a.tokenFile), "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(filepath.Dir(a.tokenFile), "no-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
	}
}

// Setenv sets Env for the length of the test.
func (a *AWS) Setenv(t testing.TB) {
	for k, v := range a.Env() {
		t.Setenv(k, v)
	}
}

// STSCalls and ECRCalls count the calls each service answered.
func (a *AWS) STSCalls() int { return int(a.stsCalls.Load()) }

// ECRCalls counts GetAuthorizationToken calls, refused ones included.
func (a *AWS) ECRCalls() int { return int(a.ecrCalls.Load()) }

func (a *AWS) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		a.ecrCalls.Add(1)
		a.ecr(w, r, target, body)
		return
	}
	a.stsCalls.Add(1)
	a.sts(w, r, body)
}

func (a *AWS) sts(w http.ResponseWriter, r *http.Request, body []byte) {
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	if err := r.ParseForm(); err != nil {
		stsError(w, http.StatusBadRequest, "MalformedInput", err.Error())
		return
	}
	f := r.PostForm
	switch {
	case f.Get("Action") != "AssumeRoleWithWebIdentity" || f.Get("Version") != "2011-06-15":
		stsError(w, http.StatusBadRequest, "InvalidAction", "want AssumeRoleWithWebIdentity of 2011-06-15")
	case f.Get("RoleArn") != a.RoleARN:
		stsError(w, http.StatusForbidden, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	case f.Get("WebIdentityToken") != a.webToken:
		stsError(w, http.StatusBadRequest, "InvalidIdentityToken", "the token is not the projected service account token")
	default:
		c := aws.Credentials{AccessKeyID: "ASIA" + strings.ToUpper(randomHex(8)), SecretAccessKey: randomHex(20), SessionToken: randomHex(32)}
		a.mu.Lock()
		a.sessions[c.AccessKeyID] = c
		a.mu.Unlock()
		type creds struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		}
		var resp struct {
			XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
			Result  struct {
				Credentials     creds `xml:"Credentials"`
				AssumedRoleUser struct {
					Arn           string `xml:"Arn"`
					AssumedRoleID string `xml:"AssumedRoleId"`
				} `xml:"AssumedRoleUser"`
				SubjectFromWebIdentityToken string `xml:"SubjectFromWebIdentityToken"`
			} `xml:"AssumeRoleWithWebIdentityResult"`
			RequestID string `xml:"ResponseMetadata>RequestId"`
		}
		resp.Result.Credentials = creds{c.AccessKeyID, c.SecretAccessKey, c.SessionToken, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
		resp.Result.AssumedRoleUser.Arn = strings.Replace(a.RoleARN, ":iam::", ":sts::", 1) + "/" + f.Get("RoleSessionName")
		resp.Result.AssumedRoleUser.AssumedRoleID = "AROA" + strings.ToUpper(randomHex(8)) + ":" + f.Get("RoleSessionName")
		resp.Result.SubjectFromWebIdentityToken = "system:serviceaccount:kargo:argo-refs"
		resp.RequestID = randomHex(8)
		w.Header().Set("Content-Type", "text/xml")
		_ = xml.NewEncoder(w).Encode(resp)
	}
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, code, msg, randomHex(8))
}

// authHeader is SigV4's Authorization header, e.g.
// AWS4-HMAC-SHA256 Credential=ASIA…/20261206/us-east-1/ecr/aws4_request, SignedHeaders=…, Signature=….
var authHeader = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$`)

func (a *AWS) ecr(w http.ResponseWriter, r *http.Request, target string, body []byte) {
	if target != "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		ecrError(w, http.StatusBadRequest, "UnknownOperationException", "want GetAuthorizationToken in JSON 1.1")
		return
	}
	if err := a.checkSignature(r, body); err != nil {
		ecrError(w, http.StatusForbidden, "InvalidSignatureException", err.Error())
		return
	}
	var in struct {
		RegistryIDs []string `json:"registryIds"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		ecrError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	// registryIds is deprecated: the token serves every registry the
	// identity may read. One given must be this account's.
	if len(in.RegistryIDs) > 1 || (len(in.RegistryIDs) == 1 && in.RegistryIDs[0] != a.Account) {
		ecrError(w, http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf("not authorized for registries %v", in.RegistryIDs))
		return
	}
	token := base64.StdEncoding.EncodeToString([]byte("AWS:" + a.Password))
	out := map[string]any{"authorizationData": []any{map[string]any{
		"authorizationToken": token,
		"expiresAt":          float64(time.Now().Add(a.TokenTTL).Unix()),
		"proxyEndpoint":      "https://" + a.Registry(),
	}}}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

// checkSignature re-signs the request with the session's secret, over the
// headers the client says it signed, and compares the signatures.
func (a *AWS) checkSignature(r *http.Request, body []byte) error {
	m := authHeader.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return fmt.Errorf("no SigV4 Authorization header")
	}
	keyID, region, service, signed, sig := m[1], m[3], m[4], m[5], m[6]
	if region != a.Region || service != "ecr" {
		return fmt.Errorf("signed for %s in %s, want ecr in %s", service, region, a.Region)
	}
	a.mu.Lock()
	creds, ok := a.sessions[keyID]
	a.mu.Unlock()
	if !ok {
		return fmt.Errorf("unknown access key %s", keyID)
	}
	if r.Header.Get("X-Amz-Security-Token") != creds.SessionToken {
		return fmt.Errorf("wrong session token")
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %v", err)
	}
	clone, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	for _, h := range strings.Split(signed, ";") {
		if h != "host" {
			clone.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	clone.Header.Del("X-Amz-Date")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, clone, hex.EncodeToString(sum[:]), service, region, when); err != nil {
		return err
	}
	if got := authHeader.FindStringSubmatch(clone.Header.Get("Authorization")); got == nil || got[6] != sig {
		return fmt.Errorf("signature does not match")
	}
	return nil
}

func ecrError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
