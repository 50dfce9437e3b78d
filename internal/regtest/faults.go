package regtest

import (
	"net/http"
	"sync/atomic"
)

// FailManifests answers the first n manifest requests with status (and a
// Retry-After header when retryAfter is not empty) instead of serving them;
// n < 0 fails every one. Use it with WithMiddleware.
func FailManifests(n int, status int, retryAfter string) func(http.Handler) http.Handler {
	return FailRequests(IsManifestRequest, n, status, retryAfter)
}

// FailRequests answers the first n requests that match with status (and
// Retry-After when retryAfter is not empty); n < 0 fails every match.
func FailRequests(match func(*http.Request) bool, n int, status int, retryAfter string) func(http.Handler) http.Handler {
	var seen atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if match(req) && (n < 0 || seen.Add(1) <= int64(n)) {
				if retryAfter != "" {
					w.Header().Set("Retry-After", retryAfter)
				}
				writeError(w, status, "UNAVAILABLE", http.StatusText(status))
				return
			}
			next.ServeHTTP(w, req)
		})
	}
}

// StripDigest drops the Docker-Content-Digest header from manifest
// responses, as some registries and proxies do.
func StripDigest() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if IsManifestRequest(req) {
				w = &stripWriter{ResponseWriter: w, header: "Docker-Content-Digest"}
			}
			next.ServeHTTP(w, req)
		})
	}
}

type stripWriter struct {
	http.ResponseWriter
	header string
	done   bool
}

func (s *stripWriter) WriteHeader(code int) {
	if !s.done {
		s.done = true
		s.ResponseWriter.Header().Del(s.header)
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *stripWriter) Write(b []byte) (int, error) {
	if !s.done {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}
