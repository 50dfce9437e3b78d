package netpolicy

import "testing"

func TestPlainHTTPAllowed(t *testing.T) {
	allowed := []string{"git.internal", "Registry.Internal:5000", "fd00::1", "[fd00::2]:8080"}
	for _, tc := range []struct {
		hostport string
		want     bool
	}{
		{"127.0.0.1:8080", true},
		{"localhost", true},
		{"LOCALHOST:1", true},
		{"[::1]:80", true},
		{"::1", true},
		{"127.1.2.3", true},
		{"git.internal", true},
		{"GIT.internal:8080", true},
		{"registry.internal:5000", true},
		{"registry.internal:5001", false},
		{"registry.internal", false},
		{"[fd00::1]", true},
		{"[fd00::1]:9", true},
		{"[fd00::2]:8080", true},
		{"[fd00::2]:8081", false},
		{"git.internal.evil.example", false},
		{"localhost.evil.example", false},
		{"example.com", false},
		{"", false},
	} {
		if got := PlainHTTPAllowed(tc.hostport, allowed); got != tc.want {
			t.Errorf("PlainHTTPAllowed(%q) = %v, want %v", tc.hostport, got, tc.want)
		}
	}
}
