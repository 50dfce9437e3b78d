package netpolicy

import (
	"errors"
	"net/http"
	"testing"
)

func TestSkip(t *testing.T) {
	h, err := NewTLSSkipHosts([]string{"Registry.Example.com", "git.example.com:8443", "[::1]:5000", "10.0.0.7"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"registry.example.com":      true,
		"registry.example.com:443":  true,
		"REGISTRY.example.com:5000": true,
		"git.example.com:8443":      true,
		"git.example.com":           false,
		"git.example.com:443":       false,
		"[::1]:5000":                true,
		"[::1]:5001":                false,
		"::1":                       false,
		"10.0.0.7:443":              true,
		"example.com":               false,
		"evil-registry.example.com": false,
		"registry.example.com.evil": false,
	} {
		if got := h.Skip(host); got != want {
			t.Errorf("Skip(%q) = %v, want %v", host, got, want)
		}
	}
	if TLSSkipHosts(nil).Skip("registry.example.com") {
		t.Error("an empty set skips nothing")
	}
	for _, bad := range []string{"", " ", "https://h", "h/path", "user@h"} {
		if _, err := NewTLSSkipHosts([]string{bad}); err == nil {
			t.Errorf("NewTLSSkipHosts(%q) accepted", bad)
		}
	}
}

func TestTransportNeedsAnHTTPTransportToSkip(t *testing.T) {
	other := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("x") })
	if _, err := TLSTransport(other, TLSSkipHosts{"h": true}); err == nil {
		t.Fatal("a custom transport cannot be copied; want an error")
	}
	if _, err := TLSTransport(other, nil); err != nil {
		t.Fatalf("nothing to skip needs no copy: %v", err)
	}
	base := &http.Transport{}
	rt, err := TLSTransport(base, TLSSkipHosts{"h": true})
	if err != nil {
		t.Fatal(err)
	}
	tr := rt.(*transport)
	if base.TLSClientConfig != nil && base.TLSClientConfig.InsecureSkipVerify {
		t.Fatal("the base transport stopped verifying")
	}
	if !tr.unverified.(*http.Transport).TLSClientConfig.InsecureSkipVerify {
		t.Fatal("the copy for listed hosts verifies")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
