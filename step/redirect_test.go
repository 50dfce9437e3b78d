package step

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// TestGitRedirectToAnotherOriginIsRefused: a GitOps server that redirects
// to another origin (the same IP on another port, or another host name)
// never gets our credentials: go-git would pair the redirected endpoint
// with them for every later request and push there. The step fails,
// terminal, naming the redirect; the other origin sees no request at all;
// nothing is pushed.
func TestGitRedirectToAnotherOriginIsRefused(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	// The other origin serves the same repository without asking for
	// credentials (it adds the Git server's itself) and counts the
	// requests that arrive with ours.
	var withCredentials atomic.Int64
	upstream, _ := url.Parse(f.git.URL)
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			withCredentials.Add(1)
		}
		r.SetBasicAuth(gitUser, secret)
		proxy.ServeHTTP(w, r)
	}))
	defer other.Close()
	for name, target := range map[string]string{
		"same IP, other port": other.URL,
		"other host":          strings.Replace(other.URL, "127.0.0.1", "localhost", 1),
	} {
		t.Run(name, func(t *testing.T) {
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusFound)
			}))
			defer front.Close()
			frontURL := front.URL + "/gitops.git"
			sc := f.context("staging")
			ref := sc.Freight.Items[whKey]
			ref.Commits[0].RepoURL = frontURL
			sc.Freight.Items[whKey] = ref
			withCredentials.Store(0)
			f.git.ResetStats()
			res := f.hostileRun(t, sc, f.config(t, map[string]any{"repoURL": frontURL}))
			if n := withCredentials.Load(); n != 0 {
				t.Errorf("the other origin got %d requests carrying our credentials", n)
			}
			wantFailed(t, res, gitrepo.ErrRedirect, "redirect")
			if n := f.git.Stats().Requests; n != 0 {
				t.Errorf("the other origin was asked %d times", n)
			}
		})
	}
}
