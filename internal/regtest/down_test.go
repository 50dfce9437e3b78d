package regtest

import (
	"errors"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

func TestDownDropsConnectionsAndKeepsThePort(t *testing.T) {
	r := New(t)
	if resp := do(t, http.MethodGet, r.URL()+"/v2/", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("before Down: status %d, want 401", resp.StatusCode)
	}
	r.Down()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < 3; i++ {
		resp, err := client.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request %d after Down answered %d", i, resp.StatusCode)
		}
	}
	// The port is still held: nobody else can listen on it.
	if ln, err := net.Listen("tcp", r.Host); err == nil {
		ln.Close()
		t.Fatalf("the port %s of a registry that is down could be taken", r.Host)
	}
}

func TestRefusingHostRefuses(t *testing.T) {
	host := RefusingHost(t)
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", host, 5*time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("dial %d of %s connected", i, host)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %d: %v, want connection refused", i, err)
		}
	}
	if ln, err := net.Listen("tcp", host); err == nil {
		ln.Close()
		t.Fatalf("the refusing port %s could be taken", host)
	}
}
