// Package githubtest is a double of GitHub's REST API for what CI reports
// on a commit, for tests: "Get the combined status for a specific
// reference" (GET /repos/{owner}/{repo}/commits/{ref}/status, paged with
// per_page and page, state failure if any context is error or failure,
// pending if there is none or one is pending, else success) and "List
// check runs for a Git reference" (GET …/check-runs, paged by the Link
// header; by default filter=latest, the most recent run of each name), as
// docs.github.com documents them (REST API version
// 2022-11-28): 404 for an unknown commit, 401 for a bad token, and the
// rate-limit answers (403 with x-ratelimit-remaining 0 and
// x-ratelimit-reset, or 429 with retry-after).
package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server serves the double on 127.0.0.1 until the test ends.
type Server struct {
	// URL is the API's base URL.
	URL string

	mu          sync.Mutex
	commits     map[string]*commit // "owner/repo@sha"
	token       string
	limited     int // requests still to answer rate-limited
	limitReset  time.Time
	secondary   bool
	requests    int
	authHeaders []string
	apps        []*App
	minted      []string
	jwts        []string
	now         func() time.Time
}

// SetClock makes the token endpoint judge JWTs and date tokens by now.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

type commit struct {
	statuses  map[string]Status // by context: the latest wins
	checkRuns []CheckRun
}

// Status is a commit status as the API returns it.
type Status struct {
	Context   string `json:"context"`
	State     string `json:"state"`
	TargetURL string `json:"target_url"`
}

// CheckRun is a check run as the API returns it.
type CheckRun struct {
	Name       string  `json:"name"`
	Status     string  `json:"status"`
	Conclusion *string `json:"conclusion"`
	HTMLURL    string  `json:"html_url"`
	DetailsURL string  `json:"details_url"`
}

// New starts a server.
func New(t testing.TB) *Server {
	s := &Server{commits: map[string]*commit{}, now: time.Now}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Handler serves the API, for a test that mounts it under another
// server (as a GitHub Enterprise Server serves it under /api/v3).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// RequireToken makes every request need "Authorization: Bearer tok".
func (s *Server) RequireToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = tok
}

// RateLimit answers the next n requests as rate-limited: primary (403,
// x-ratelimit-remaining 0, reset at reset) or, with secondary, 429 with
// retry-after.
func (s *Server) RateLimit(n int, reset time.Time, secondary bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited, s.limitReset, s.secondary = n, reset, secondary
}

// Requests is the number of requests served.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// AuthHeaders are the Authorization headers received, in order.
func (s *Server) AuthHeaders() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.authHeaders...)
}

func (s *Server) commit(owner, repo, sha string) *commit {
	k := owner + "/" + repo + "@" + sha
	c, ok := s.commits[k]
	if !ok {
		c = &commit{statuses: map[string]Status{}}
		s.commits[k] = c
	}
	return c
}

// AddCommit makes a commit known, with nothing reported on it yet.
func (s *Server) AddCommit(owner, repo, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commit(owner, repo, sha)
}

// SetStatus posts a commit status; a later one for the context replaces it.
func (s *Server) SetStatus(owner, repo, sha, context, state, targetURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commit(owner, repo, sha).statuses[context] = Status{Context: context, State: state, TargetURL: targetURL}
}

// AddCheckRun adds a check run; conclusion "" means none yet (null).
func (s *Server) AddCheckRun(owner, repo, sha, name, status, conclusion, htmlURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cr := CheckRun{Name: name, Status: status, HTMLURL: htmlURL, DetailsURL: htmlURL}
	if conclusion != "" {
		cr.Conclusion = &conclusion
	}
	c := s.commit(owner, repo, sha)
	c.checkRuns = append(c.checkRuns, cr)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.authHeaders = append(s.authHeaders, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	fail := func(code int, msg string) {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
	}
	if s.limited > 0 {
		s.limited--
		if s.secondary {
			w.Header().Set("Retry-After", "60")
			fail(http.StatusTooManyRequests, "You have exceeded a secondary rate limit.")
			return
		}
		w.Header().Set("X-RateLimit-Limit", "60")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(s.limitReset.Unix(), 10))
		fail(http.StatusForbidden, "API rate limit exceeded.")
		return
	}
	if s.token != "" && !strings.Contains(r.URL.Path, "/app/installations/") && r.Header.Get("Authorization") != "Bearer "+s.token {
		fail(http.StatusUnauthorized, "Bad credentials")
		return
	}
	// /repos/{owner}/{repo}/commits/{ref}/{status|check-runs}, under
	// /api/v3 as on a GitHub Enterprise Server.
	parts := strings.Split(strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api/v3"), "/"), "/")
	if len(parts) == 4 && parts[0] == "app" && parts[1] == "installations" && parts[3] == "access_tokens" {
		s.serveAppToken(w, r, parts[2])
		return
	}
	if r.Method != http.MethodGet || len(parts) != 6 || parts[0] != "repos" || parts[3] != "commits" {
		fail(http.StatusNotFound, "Not Found")
		return
	}
	c, ok := s.commits[parts[1]+"/"+parts[2]+"@"+parts[4]]
	if !ok {
		fail(http.StatusNotFound, "No commit found for SHA: "+parts[4])
		return
	}
	perPage, page := 30, 1
	if n, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && n > 0 {
		perPage = min(n, 100)
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 0 {
		page = n
	}
	switch parts[5] {
	case "status":
		contexts := make([]string, 0, len(c.statuses))
		for k := range c.statuses {
			contexts = append(contexts, k)
		}
		sort.Strings(contexts)
		state := "success"
		if len(contexts) == 0 {
			state = "pending"
		}
		all := make([]Status, 0, len(contexts))
		for _, k := range contexts {
			st := c.statuses[k]
			all = append(all, st)
			switch {
			case st.State == "error" || st.State == "failure":
				state = "failure"
			case st.State == "pending" && state != "failure":
				state = "pending"
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"state": state, "total_count": len(all), "statuses": pageOf(all, page, perPage), "sha": parts[4]})
	case "check-runs":
		all := c.checkRuns
		if r.URL.Query().Get("filter") != "all" {
			// filter=latest: the most recent run of each name.
			all = nil
			seen := map[string]bool{}
			for i := len(c.checkRuns) - 1; i >= 0; i-- {
				if cr := c.checkRuns[i]; !seen[cr.Name] {
					seen[cr.Name] = true
					all = append(all, cr)
				}
			}
		}
		runs := pageOf(all, page, perPage)
		if page*perPage < len(all) {
			next := fmt.Sprintf("%s%s?per_page=%d&page=%d", s.URL, r.URL.Path, perPage, page+1)
			w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s>; rel="last"`, next, next))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"total_count": len(all), "check_runs": runs})
	default:
		fail(http.StatusNotFound, "Not Found")
	}
}

func pageOf[T any](all []T, page, perPage int) []T {
	lo := (page - 1) * perPage
	if lo >= len(all) {
		return []T{}
	}
	return all[lo:min(lo+perPage, len(all))]
}
