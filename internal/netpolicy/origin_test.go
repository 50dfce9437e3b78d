package netpolicy

import (
	"net/url"
	"testing"
)

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"https://h/a", "https://h/b?x", true},
		{"https://h/a", "https://H:443/b", true},
		{"http://h/a", "http://h:80/b", true},
		{"https://h/a", "http://h/a", false},
		{"https://h/a", "https://h:8443/a", false},
		{"http://127.0.0.1:1/a", "http://127.0.0.1:2/a", false},
		{"https://h/a", "https://sub.h/a", false},
		{"http://127.0.0.1:1/a", "http://localhost:1/a", false},
	} {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := SameOrigin(a, b); got != tc.want {
			t.Errorf("SameOrigin(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
