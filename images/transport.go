package images

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// errPlainHTTP refuses plain HTTP to a host that is neither loopback nor
// allowed by Options.InsecureHosts. It is never retried.
type errPlainHTTP struct{ host string }

func (e *errPlainHTTP) Error() string {
	return fmt.Sprintf("refusing plain http to %s: only loopback hosts and allowed insecure hosts may use it", e.host)
}

// schemePolicy is the bottom transport layer. It speaks plain HTTP to the
// hosts allowed to use it (go-containerregistry would try https first and race
// a fallback) and refuses plain HTTP to every other host, including the
// RFC 1918 and .local hosts go-containerregistry would fall back to HTTP for.
type schemePolicy struct {
	inner     http.RoundTripper
	plainHTTP func(host string) bool
	userAgent string
}

func (p *schemePolicy) RoundTrip(req *http.Request) (*http.Response, error) {
	allowed := p.plainHTTP(req.URL.Host)
	if req.URL.Scheme == "http" && !allowed {
		return nil, &errPlainHTTP{host: req.URL.Host}
	}
	toHTTP := req.URL.Scheme == "https" && allowed
	addUA := p.userAgent != "" && req.Header.Get("User-Agent") == ""
	if toHTTP || addUA {
		// A RoundTripper must not modify the caller's request.
		req = req.Clone(req.Context())
		if toHTTP {
			req.URL.Scheme = "http"
		}
		if addUA {
			req.Header.Set("User-Agent", p.userAgent)
		}
	}
	resp, err := p.inner.RoundTrip(req)
	if err != nil && toHTTP {
		// The URL in the caller's error says https; say what was dialled.
		return nil, fmt.Errorf("over plain http: %w", err)
	}
	return resp, err
}

// errFallbackRefused marks the refused http racer of a ping.
var errFallbackRefused = errors.New("no plain http fallback: the scheme follows the insecure-host policy")

// pingCause drops the refused http racer from a ping error, which otherwise
// reads "<https error>; <refused http fallback>", and keeps the real cause.
func pingCause(err error) error {
	if !errors.Is(err, errFallbackRefused) {
		return err
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr
	}
	var uerr *url.Error
	if errors.As(err, &uerr) && !errors.Is(uerr, errFallbackRefused) {
		return uerr
	}
	return err
}

// noFallback wraps the transport go-containerregistry pings with. For
// loopback and private hosts the ping races an https attempt against a plain
// http one; schemePolicy already decides the scheme (it sends the https
// attempt over plain HTTP where allowed), so the http racer is refused here,
// above the retry layer, and the ping costs one request per attempt.
type noFallback struct{ inner http.RoundTripper }

func (n noFallback) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		return nil, errFallbackRefused
	}
	return n.inner.RoundTrip(req)
}

// defaultBaseTransport is used when Options.Transport is nil: the standard
// transport with bounded dial, TLS and header waits. The caller's context
// bounds the whole call.
func defaultBaseTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.MaxIdleConnsPerHost = 4
	// A client serves one step run; a long-running server (serve) must not
	// keep every finished run's idle connections, and their goroutines,
	// for the default 90s.
	t.IdleConnTimeout = 5 * time.Second
	return t
}

// Stats counts the HTTP attempts a Client made, for tests and diagnostics.
type Stats struct {
	// Requests is every HTTP attempt sent, retries included.
	Requests int64
	// Retries is the attempts that repeated an earlier one.
	Retries int64
}

type counters struct {
	requests atomic.Int64
	retries  atomic.Int64
}

// newRetryTransport returns the single retry layer: a go-retryablehttp
// round-tripper that retries connection errors, 408, 429 and 5xx (not 501)
// with capped exponential backoff and jitter, waits what Retry-After asks, and
// gives up at once when Retry-After asks for more than waitMax (the registry
// is telling us it will not recover soon). 401, 403 and 404 are final.
func newRetryTransport(base http.RoundTripper, retryMax int, waitMin, waitMax time.Duration, cnt *counters, log *slog.Logger) http.RoundTripper {
	c := &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: base, CheckRedirect: dropAuthAcrossOrigins},
		RetryMax:     retryMax,
		RetryWaitMin: waitMin,
		RetryWaitMax: waitMax,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, attempt int) {
			cnt.requests.Add(1)
			if attempt > 0 {
				cnt.retries.Add(1)
				log.DebugContext(req.Context(), "retrying registry request",
					"method", req.Method, "url", netpolicy.RedactURL(req.URL.String()), "attempt", attempt+1)
			}
		},
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			if ctx.Err() != nil {
				if resp != nil {
					// Hand the response back rather than a response and an
					// error, which net/http would log and leak.
					return false, nil
				}
				return false, ctx.Err()
			}
			if err != nil {
				var plain *errPlainHTTP
				var cert *netpolicy.TLSError
				if errors.As(err, &plain) || errors.As(err, &cert) {
					return false, nil
				}
				// Certificate, scheme and redirect-loop errors do not heal.
				return retryablehttp.DefaultRetryPolicy(ctx, nil, err)
			}
			switch {
			case resp.StatusCode == http.StatusTooManyRequests,
				resp.StatusCode == http.StatusRequestTimeout,
				resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
			default:
				return false, nil
			}
			if d, ok := retryAfter(resp, time.Now()); ok && d > waitMax {
				log.DebugContext(ctx, "registry asks to wait longer than allowed; giving up",
					"status", resp.StatusCode, "retryAfter", d.String(), "max", waitMax.String())
				return false, nil
			}
			return true, nil
		},
		Backoff: backoff,
		// Hand the last response (a 429 or 5xx) back unchanged so that the
		// status is classified above; connection errors come back as errors.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return &retryablehttp.RoundTripper{Client: c}
}

// dropAuthAcrossOrigins is the redirect policy of the one HTTP client
// under go-containerregistry: a redirect that leaves the origin of the
// first request (scheme, host or port) goes without the Authorization
// header. net/http drops it only when the host name changes, so a registry
// could send our token to another port of its host. Redirects stop after 10.
func dropAuthAcrossOrigins(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if !netpolicy.SameOrigin(via[0].URL, req.URL) {
		req.Header.Del("Authorization")
	}
	return nil
}

// backoff is the wait before retry number attempt+1: what Retry-After asks
// for when the registry sent one, else min·2^attempt capped at max, with
// jitter in its upper half so that clients do not retry in step.
func backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if d, ok := retryAfter(resp, time.Now()); ok {
		return d
	}
	wait := hi
	if attempt < 32 && lo<<attempt > 0 && lo<<attempt < hi {
		wait = lo << attempt
	}
	return wait/2 + rand.N(wait/2+1)
}

// retryAfter parses the Retry-After header of a 429 or 503 response, in
// seconds or as an HTTP date.
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
