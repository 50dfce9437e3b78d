// Package faults is a fault-injecting reverse proxy on 127.0.0.1 that sits in
// front of a real server in tests: it delays, fails, stalls and resets
// requests that match programmable rules.
package faults

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Action is what a rule does to a matching request.
type Action int

// The faults a rule can inject.
const (
	// Status answers with Rule.Code (and Retry-After when set) without
	// reaching the backend.
	Status Action = iota
	// Delay waits Rule.Delay, then forwards the request.
	Delay
	// ResetBefore closes the connection without forwarding the request.
	ResetBefore
	// ResetAfter forwards the request, lets the backend finish (a push
	// lands), then closes the connection without answering: the answer is
	// lost.
	ResetAfter
	// Truncate forwards the request and sends only the first Rule.Bytes bytes
	// of the answer before closing the connection.
	Truncate
	// Stall holds the request until the client gives up.
	Stall
)

// Rule injects one kind of fault into matching requests.
type Rule struct {
	// Method and PathContains select requests; empty matches all.
	Method       string
	PathContains string
	// Times is how many matching requests the rule affects; 0 means all.
	Times int
	// Skip lets this many matching requests through untouched first.
	Skip int

	Action     Action
	Code       int
	RetryAfter time.Duration
	Delay      time.Duration
	Bytes      int
}

// Proxy forwards to one backend and applies its rules in order; the first
// rule that matches and still has budget acts.
type Proxy struct {
	// URL is the proxy's base URL, http://127.0.0.1:port.
	URL string

	backend *url.URL
	rp      *httputil.ReverseProxy
	srv     *httptest.Server

	mu       sync.Mutex
	rules    []*ruleState
	requests int
	injected int
}

type ruleState struct {
	Rule
	seen, used int
}

// New starts a proxy in front of backend (a base URL) and stops it when the
// test ends.
func New(t testing.TB, backend string) *Proxy {
	t.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatalf("faults: parsing backend %q: %v", backend, err)
	}
	p := &Proxy{backend: u}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.rp.ErrorLog = nil
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Host is the proxy's host:port.
func (p *Proxy) Host() string { return strings.TrimPrefix(p.URL, "http://") }

// Add appends rules.
func (p *Proxy) Add(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rules {
		p.rules = append(p.rules, &ruleState{Rule: r})
	}
}

// Clear removes every rule.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Requests is how many requests reached the proxy.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Injected is how many requests a rule acted on.
func (p *Proxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected
}

// InjectedWhere is how many requests the rules whose PathContains holds
// part acted on.
func (p *Proxy) InjectedWhere(part string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, rs := range p.rules {
		if strings.Contains(rs.PathContains, part) {
			n += rs.used
		}
	}
	return n
}

func (p *Proxy) match(r *http.Request) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	for _, rs := range p.rules {
		if rs.Method != "" && rs.Method != r.Method {
			continue
		}
		if rs.PathContains != "" && !strings.Contains(r.URL.Path+"?"+r.URL.RawQuery, rs.PathContains) {
			continue
		}
		rs.seen++
		if rs.seen <= rs.Skip || (rs.Times > 0 && rs.used >= rs.Times) {
			continue
		}
		rs.used++
		p.injected++
		rule := rs.Rule
		return &rule
	}
	return nil
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	rule := p.match(r)
	if rule == nil {
		p.rp.ServeHTTP(w, r)
		return
	}
	switch rule.Action {
	case Status:
		if rule.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(rule.RetryAfter.Round(time.Second)/time.Second)))
		}
		http.Error(w, http.StatusText(rule.Code), rule.Code)
	case Delay:
		select {
		case <-time.After(rule.Delay):
			p.rp.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	case ResetBefore:
		reset(w)
	case ResetAfter:
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		reset(w)
	case Truncate:
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		conn := hijack(w)
		if conn == nil {
			return
		}
		var head bytes.Buffer
		head.WriteString("HTTP/1.1 " + strconv.Itoa(rec.Code) + " " + http.StatusText(rec.Code) + "\r\n")
		for k, vs := range rec.Header() {
			for _, v := range vs {
				head.WriteString(k + ": " + v + "\r\n")
			}
		}
		head.WriteString("Content-Length: " + strconv.Itoa(rec.Body.Len()) + "\r\n\r\n")
		body := rec.Body.Bytes()
		if rule.Bytes < len(body) {
			body = body[:rule.Bytes]
		}
		_, _ = conn.Write(append(head.Bytes(), body...))
		closeHard(conn)
	case Stall:
		// Read the whole body first: the server notices a client that
		// went away (and cancels r.Context) only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}
}

func hijack(w http.ResponseWriter) net.Conn {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return nil
	}
	return conn
}

// reset closes the client's connection with a TCP RST.
func reset(w http.ResponseWriter) {
	if conn := hijack(w); conn != nil {
		closeHard(conn)
	}
}

func closeHard(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
