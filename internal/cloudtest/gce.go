package cloudtest

// The Compute Engine metadata server as a GKE pod with Workload Identity
// sees it (https://cloud.google.com/compute/docs/metadata/querying-metadata):
// every request must carry Metadata-Flavor: Google and every answer
// carries it back; the default service account's token is
// /computeMetadata/v1/instance/service-accounts/default/token, JSON with
// access_token, expires_in and token_type. Clients find it through
// GCE_METADATA_HOST.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// GCEMetadata is a double of the metadata server.
type GCEMetadata struct {
	// Token is the access token it hands out; ExpiresIn its lifetime in
	// seconds.
	Token     string
	ExpiresIn int
	// Project is the project ID it reports.
	Project string

	srv        *httptest.Server
	dir        string
	tokenCalls atomic.Int64
}

// NewGCEMetadata starts the double.
func NewGCEMetadata(t testing.TB) *GCEMetadata {
	t.Helper()
	m := &GCEMetadata{Token: "ya29." + randomHex(24), ExpiresIn: 3599, Project: "argo-refs-test", dir: t.TempDir()}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

// Env points Google's libraries at the double, with no key file or gcloud
// configuration to find first.
func (m *GCEMetadata) Env() map[string]string {
	return map[string]string{
		"GCE_METADATA_HOST":              strings.TrimPrefix(m.srv.URL, "http://"),
		"GOOGLE_APPLICATION_CREDENTIALS": "",
		"CLOUDSDK_CONFIG":                filepath.Join(m.dir, "gcloud"),
		"HOME":                           m.dir,
	}
}

// Setenv sets Env for the length of the test.
func (m *GCEMetadata) Setenv(t testing.TB) {
	for k, v := range m.Env() {
		t.Setenv(k, v)
	}
}

// TokenCalls counts the token requests answered.
func (m *GCEMetadata) TokenCalls() int { return int(m.tokenCalls.Load()) }

func (m *GCEMetadata) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Metadata-Flavor", "Google")
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "Missing required header \"Metadata-Flavor\": \"Google\"", http.StatusForbidden)
		return
	}
	switch r.URL.Path {
	case "/computeMetadata/v1/instance/service-accounts/default/token":
		m.tokenCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": m.Token, "expires_in": m.ExpiresIn, "token_type": "Bearer"})
	case "/computeMetadata/v1/project/project-id":
		w.Header().Set("Content-Type", "application/text")
		_, _ = w.Write([]byte(m.Project))
	case "/computeMetadata/v1/instance/service-accounts/default/email":
		w.Header().Set("Content-Type", "application/text")
		_, _ = w.Write([]byte("argo-refs@" + m.Project + ".iam.gserviceaccount.com"))
	case "/computeMetadata/v1/universe/universe-domain", "/computeMetadata/v1/universe/universe_domain":
		w.Header().Set("Content-Type", "application/text")
		_, _ = w.Write([]byte("googleapis.com"))
	default:
		http.NotFound(w, r)
	}
}

// Close stops the server: a metadata server that is not there (yet), as
// on a GKE node that has just started.
func (m *GCEMetadata) Close() { m.srv.Close() }
