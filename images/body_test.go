package images

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/regtest"
)

// TestAnHTMLPageIsNotAMovedTag: a registry (or a proxy, a captive portal)
// answering 200 text/html is unavailable, retryable, never a verdict that
// the tag moved (the digest of the HTML page).
func TestAnHTMLPageIsNotAMovedTag(t *testing.T) {
	reg := regtest.New(t, regtest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if regtest.IsManifestRequest(r) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = w.Write([]byte("<html><body>Please log in to the Wi-Fi</body></html>"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	want := reg.PushImage(t, "app:v1", nil)
	_, err := newClient(t, fastOptions()).Verify(testCtx(t), reg.Ref("app:v1"), want)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTagMoved) {
		t.Fatalf("Verify = %v, want ErrUnavailable and not ErrTagMoved", err)
	}
	if !strings.Contains(err.Error(), "text/html") {
		t.Errorf("error %v does not say what came back", err)
	}
}

// TestALyingDigestHeaderIsNotTrusted: a registry whose Docker-Content-Digest
// names the recorded digest while the tag serves another manifest is
// found out by hashing what it serves; the revision label is read through
// the recorded digest, so a moved tag cannot lend its label.
func TestALyingDigestHeaderIsNotTrusted(t *testing.T) {
	var recorded string
	reg := regtest.New(t, regtest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if regtest.IsManifestRequest(r) {
				w = &headerOverride{ResponseWriter: w, key: "Docker-Content-Digest", value: recorded}
			}
			next.ServeHTTP(w, r)
		})
	}))
	recorded = reg.PushImage(t, "app:v1", map[string]string{RevisionLabel: "good-commit"})
	moved := reg.PushImage(t, "app:v1", map[string]string{RevisionLabel: "good-commit", "rebuilt": "yes"})
	c := newClient(t, fastOptions())
	_, err := c.Verify(testCtx(t), reg.Ref("app:v1"), recorded)
	if !errors.Is(err, ErrTagMoved) || !strings.Contains(err.Error(), moved) {
		t.Fatalf("Verify = %v, want ErrTagMoved naming %s", err, moved)
	}
	rev, err := c.Revision(testCtx(t), reg.Ref("app")+"@"+recorded)
	if err != nil || rev != "good-commit" {
		t.Fatalf("Revision through the recorded digest = %q, %v", rev, err)
	}
}

// headerOverride sets one header on the response, whatever the handler says.
type headerOverride struct {
	http.ResponseWriter
	key, value string
	done       bool
}

func (h *headerOverride) WriteHeader(code int) {
	if !h.done {
		h.done = true
		h.ResponseWriter.Header().Set(h.key, h.value)
	}
	h.ResponseWriter.WriteHeader(code)
}

func (h *headerOverride) Write(b []byte) (int, error) {
	if !h.done {
		h.WriteHeader(http.StatusOK)
	}
	return h.ResponseWriter.Write(b)
}
