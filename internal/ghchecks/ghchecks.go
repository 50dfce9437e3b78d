// Package ghchecks reads what CI reported on a commit through GitHub's REST
// API: the combined commit status (what Drone and other services post) and
// the check runs (GitHub Actions, Apps), every page of both, bounded in
// size, with GitHub's rate-limit answers turned into a retryable error that
// says when to try again.
package ghchecks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// DefaultAPIURL is github.com's REST API.
const DefaultAPIURL = "https://api.github.com"

// Limits on what is read: GitHub's page size is at most 100, and a commit
// with more than 1,000 statuses or check runs is not one CI reports on.
const (
	perPage      = 100
	maxPages     = 10
	maxPageBytes = 4 << 20
)

// Errors a Client returns, for errors.Is.
var (
	// ErrNotFound: the repository or the commit is unknown (or the token
	// may not see it).
	ErrNotFound = errors.New("commit not found on GitHub")
	// ErrRateLimited: GitHub refused for now; RateLimitError says until when.
	ErrRateLimited = errors.New("GitHub API rate limit")
	// ErrUnauthorized: the token was refused.
	ErrUnauthorized = errors.New("GitHub API refused the credentials")
)

// RateLimitError is a rate-limited answer: primary (x-ratelimit-remaining
// 0, until x-ratelimit-reset) or secondary (retry-after).
type RateLimitError struct {
	Until time.Time
}

// Error says until when.
func (e *RateLimitError) Error() string {
	if e.Until.IsZero() {
		return ErrRateLimited.Error() + " reached"
	}
	return fmt.Sprintf("%s reached; it resets at %s", ErrRateLimited, e.Until.UTC().Format(time.RFC3339))
}

// Is reports ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Status is one context of the combined status.
type Status struct {
	Context   string `json:"context"`
	State     string `json:"state"` // error, failure, pending, success
	TargetURL string `json:"target_url"`
}

// CheckRun is one check run.
type CheckRun struct {
	Name       string `json:"name"`
	Status     string `json:"status"`     // queued, in_progress, completed, …
	Conclusion string `json:"conclusion"` // success, failure, neutral, cancelled, skipped, timed_out, action_required, stale; "" until completed
	HTMLURL    string `json:"html_url"`
	DetailsURL string `json:"details_url"`
}

// Report is what CI reported on one commit.
type Report struct {
	// State is the combined status: success, pending or failure.
	State     string
	Statuses  []Status
	CheckRuns []CheckRun
}

// Client asks one GitHub API (github.com's or an Enterprise Server's).
type Client struct {
	// APIURL is the API's base URL; empty means DefaultAPIURL.
	APIURL string
	// Token, when set, is sent as a bearer token, to APIURL's origin only.
	Token string
	// HTTP is the client; nil means one with a 30 s timeout.
	HTTP *http.Client
}

// Commit returns what CI reported on commit of owner/repo.
func (c *Client) Commit(ctx context.Context, owner, repo, commit string) (*Report, error) {
	base := strings.TrimSuffix(c.APIURL, "/")
	if base == "" {
		base = DefaultAPIURL
	}
	prefix := fmt.Sprintf("%s/repos/%s/%s/commits/%s", base, url.PathEscape(owner), url.PathEscape(repo), url.PathEscape(commit))
	rep := &Report{}
	// The combined status pages with ?page= (its total_count counts the
	// contexts); its state is the same on every page.
	for page := 1; ; page++ {
		var body struct {
			State      string   `json:"state"`
			TotalCount int      `json:"total_count"`
			Statuses   []Status `json:"statuses"`
		}
		if _, err := c.get(ctx, fmt.Sprintf("%s/status?per_page=%d&page=%d", prefix, perPage, page), &body); err != nil {
			return nil, err
		}
		rep.State = body.State
		rep.Statuses = append(rep.Statuses, body.Statuses...)
		if len(body.Statuses) < perPage || len(rep.Statuses) >= body.TotalCount {
			break
		}
		if page == maxPages {
			return nil, fmt.Errorf("reading the combined status of %s: more than %d statuses", commit, maxPages*perPage)
		}
	}
	// Check runs page by the Link header; filter=latest (the default,
	// said here) gives the most recent run of each check.
	next := fmt.Sprintf("%s/check-runs?filter=latest&per_page=%d", prefix, perPage)
	for page := 1; next != ""; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("reading the check runs of %s: more than %d pages", commit, maxPages)
		}
		var body struct {
			TotalCount int        `json:"total_count"`
			CheckRuns  []CheckRun `json:"check_runs"`
		}
		h, err := c.get(ctx, next, &body)
		if err != nil {
			return nil, err
		}
		rep.CheckRuns = append(rep.CheckRuns, body.CheckRuns...)
		next = nextLink(h.Get("Link"))
		if next != "" && !sameOrigin(next, base) {
			return nil, fmt.Errorf("reading the check runs of %s: the next page is on another origin (%s)", commit, netpolicy.RedactURL(next))
		}
	}
	return rep, nil
}

// get GETs u and decodes its JSON body into v.
func (c *Client) get(ctx context.Context, u string, v any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("asking GitHub: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "argo-refs")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking GitHub %s: %w", netpolicy.RedactURL(u), err) // the token is in a header, never in the URL
	}
	defer resp.Body.Close()
	what := netpolicy.RedactURL(u)
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusUnprocessableEntity:
		return nil, fmt.Errorf("%s: %w (HTTP %d)", what, ErrNotFound, resp.StatusCode)
	case rateLimited(resp):
		return nil, fmt.Errorf("%s: %w", what, &RateLimitError{Until: limitUntil(resp.Header)})
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%s: %w (HTTP %d)", what, ErrUnauthorized, resp.StatusCode)
	default:
		return nil, fmt.Errorf("%s: HTTP %d", what, resp.StatusCode)
	}
	if resp.ContentLength > maxPageBytes {
		return nil, fmt.Errorf("%s: an answer of %d bytes, over the %d-byte limit", what, resp.ContentLength, maxPageBytes)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", what, err)
	}
	if len(data) > maxPageBytes {
		return nil, fmt.Errorf("%s: an answer over the %d-byte limit", what, maxPageBytes)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("%s: not GitHub's JSON: %w", what, err)
	}
	return resp.Header, nil
}

func (c *Client) httpClient() *http.Client {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	cp := *hc
	// A redirect to another origin goes without the token, and is refused:
	// GitHub's API does not send one.
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && !netpolicy.SameOrigin(req.URL, via[0].URL) {
			return fmt.Errorf("a redirect to another origin (%s) is not followed", netpolicy.OriginOf(req.URL))
		}
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		return nil
	}
	return &cp
}

// rateLimited tells GitHub's rate-limit answers (403 or 429 with
// x-ratelimit-remaining 0, or with retry-after) from a plain 403.
func rateLimited(resp *http.Response) bool {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return false
	}
	return resp.StatusCode == http.StatusTooManyRequests || resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("Retry-After") != ""
}

func limitUntil(h http.Header) time.Time {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil {
		return time.Now().Add(time.Duration(s) * time.Second)
	}
	if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
		return time.Unix(s, 0)
	}
	return time.Time{}
}

var linkNext = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

// nextLink returns the rel="next" URL of a Link header, or "".
func nextLink(h string) string {
	if m := linkNext.FindStringSubmatch(h); m != nil {
		return m[1]
	}
	return ""
}

func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && netpolicy.SameOrigin(ua, ub)
}

// RepoFromURL returns owner and repo of a GitHub repository URL
// (https://github.com/owner/repo[.git]) on host.
func RepoFromURL(raw, host string) (owner, repo string, err error) {
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Hostname(), host) {
		return "", "", fmt.Errorf("%s is not a repository on %s", netpolicy.RedactURL(raw), host)
	}
	parts := strings.Split(strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", fmt.Errorf("%s is not https://%s/<owner>/<repo>", netpolicy.RedactURL(raw), host)
	}
	return parts[0], parts[1], nil
}
