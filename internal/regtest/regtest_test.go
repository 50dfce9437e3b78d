package regtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// do sends method to the registry with an optional bearer token or basic
// credentials and returns the response (body closed).
func do(t *testing.T, method, u, bearer string, basic ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func token(t *testing.T, r *Registry, scope string, basic ...string) string {
	t.Helper()
	q := url.Values{"service": {Service}, "scope": {scope}}
	resp := do(t, http.MethodGet, r.URL()+"/token?"+q.Encode(), "", basic...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: status %d", resp.StatusCode)
	}
	var body struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" || body.ExpiresIn <= 0 {
		t.Fatalf("token body: %+v, %v", body, err)
	}
	return body.Token
}

func TestGate(t *testing.T) {
	r := New(t, WithCredentials("u", "p"), WithTokenTTL(time.Hour))
	dg := r.PushImage(t, "team/app:v1", map[string]string{"k": "v"})
	r.PushImage(t, "other:v1", nil)
	manifest := r.URL() + "/v2/team/app/manifests/v1"

	resp := do(t, http.MethodHead, manifest, "")
	wantChallenge := `Bearer realm="` + r.URL() + `/token",service="regtest",scope="repository:team/app:pull"`
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != wantChallenge {
		t.Fatalf("no token: %d %q, want 401 %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), wantChallenge)
	}
	if resp := do(t, http.MethodGet, r.URL()+"/token?service=regtest&scope=repository:team/app:pull", "", "u", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong credentials: status %d, want 401", resp.StatusCode)
	}
	tok := token(t, r, "repository:team/app:pull", "u", "p")
	resp = do(t, http.MethodHead, manifest, tok)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != dg {
		t.Errorf("with token: %d digest %q, want 200 %s", resp.StatusCode, resp.Header.Get("Docker-Content-Digest"), dg)
	}
	if resp := do(t, http.MethodHead, r.URL()+"/v2/other/manifests/v1", tok); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("token for another repository: status %d, want 401", resp.StatusCode)
	}
	if resp := do(t, http.MethodDelete, manifest, tok); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("delete with a pull token: status %d, want 401", resp.StatusCode)
	}
	if resp := do(t, http.MethodGet, r.URL()+"/v2/", tok); resp.StatusCode != http.StatusOK {
		t.Errorf("ping with token: status %d, want 200", resp.StatusCode)
	}
	if got := r.TokenRequests(); got != 2 {
		t.Errorf("TokenRequests = %d, want 2", got)
	}
	if got := r.ManifestRequests(); got != 4 {
		t.Errorf("ManifestRequests = %d, want 4", got)
	}
	if r.Ref("a:b") != r.Host+"/a:b" || !strings.HasPrefix(r.Host, "127.0.0.1:") {
		t.Errorf("Ref = %q, Host = %q", r.Ref("a:b"), r.Host)
	}
	r.DeleteTag(t, "team/app:v1")
	if resp := do(t, http.MethodHead, manifest, tok); resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted tag: status %d, want 404", resp.StatusCode)
	}
}

func TestTokenExpires(t *testing.T) {
	r := New(t, WithTokenTTL(10*time.Millisecond))
	r.PushImage(t, "app:v1", nil)
	tok := token(t, r, "repository:app:pull") // anonymous
	time.Sleep(20 * time.Millisecond)
	if resp := do(t, http.MethodHead, r.URL()+"/v2/app/manifests/v1", tok); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired token: status %d, want 401", resp.StatusCode)
	}
}

func TestFaults(t *testing.T) {
	r := New(t, WithMiddleware(FailManifests(2, http.StatusTooManyRequests, "3")), WithMiddleware(StripDigest()))
	r.PushImage(t, "app:v1", nil) // helpers bypass faults
	tok := token(t, r, "repository:app:pull")
	u := r.URL() + "/v2/app/manifests/v1"
	for i := range 2 {
		resp := do(t, http.MethodHead, u, tok)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "3" {
			t.Errorf("request %d: %d Retry-After %q, want 429 and 3", i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	resp := do(t, http.MethodHead, u, tok)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != "" {
		t.Errorf("after the burst: %d digest %q, want 200 and no digest header", resp.StatusCode, resp.Header.Get("Docker-Content-Digest"))
	}
}

func TestPushIndex(t *testing.T) {
	r := New(t)
	dg := r.PushIndex(t, "multi:v1")
	tok := token(t, r, "repository:multi:pull")
	req, _ := http.NewRequest(http.MethodGet, r.URL()+"/v2/multi/manifests/v1", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var idx struct {
		MediaType string `json:"mediaType"`
		Manifests []struct {
			Platform struct{ OS, Architecture string } `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Docker-Content-Digest") != dg || idx.MediaType != "application/vnd.oci.image.index.v1+json" || len(idx.Manifests) != 2 ||
		idx.Manifests[0].Platform.Architecture != "amd64" || idx.Manifests[1].Platform.Architecture != "arm64" {
		t.Errorf("index: digest %q (want %s), %+v", resp.Header.Get("Docker-Content-Digest"), dg, idx)
	}
}
