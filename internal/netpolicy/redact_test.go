package netpolicy

import (
	"net/url"
	"strings"
	"testing"
)

// secret is what every leak test uses: each character that ends a URL's
// host part early, or that escaping changes.
const secret = "pa/ss?wo#rd@%+x"

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"https://user:tok@github.com/org/repo.git", "https://REDACTED@github.com/org/repo.git"},
		{"https://user:" + secret + "@github.com/org/repo.git", "https://REDACTED@github.com/org/repo.git"},
		{"https://" + secret + "@github.com/org/repo.git", "https://REDACTED@github.com/org/repo.git"},
		{"https://u:p@host:8443/x?ref=abc&timeout=120s", "https://REDACTED@host:8443/x?ref=abc&timeout=120s"},
		{"https://host/x?token=abc&ref=main", "https://host/x?token=REDACTED&ref=main"},
		{"https://host/v2/x/blobs/sha?X-Amz-Signature=s1g&X-Amz-Date=1", "https://host/v2/x/blobs/sha?X-Amz-Signature=REDACTED&X-Amz-Date=1"},
		{"https://us er:p@ho st/x", "https://REDACTED@ho st/x"},
		{"https://user:pa55@host:bad/x.git", "https://REDACTED@host:bad/x.git"},
		{"https://tok%zz/x", "https://REDACTED/x"},
		{"git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		{"deploy:tok@github.com:org/repo.git", "REDACTED@github.com:org/repo.git"},
		{"github.com/org/repo//k8s?ref=abc", "github.com/org/repo//k8s?ref=abc"},
		{"github.com/o/r//p?ref=a@b", "github.com/o/r//p?ref=a@b"},
		{"ssh://git@github.com/o/r", "ssh://git@github.com/o/r"},
		{"tok@github.com:o/r.git", "REDACTED@github.com:o/r.git"},
		{"", ""},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactSecrets(t *testing.T) {
	text := "failed: " + secret + " / " + url.QueryEscape(secret) + " / " + url.PathEscape(secret)
	got := RedactSecrets(text, secret, "", "ab")
	if strings.Contains(got, "ss?wo") || strings.Contains(got, "ss%3Fwo") {
		t.Errorf("Secrets left a form of the secret: %q", got)
	}
	if !strings.HasPrefix(got, "failed: ") {
		t.Errorf("Secrets changed the rest: %q", got)
	}
}

// FuzzRedactURL: whatever the user, password, host and path, the output of RedactURL
// never holds the password (nor its escaped forms) of a URL built from
// them.
func FuzzRedactURL(f *testing.F) {
	f.Add("https", "user", secret, "github.com", "/org/repo.git?ref=main")
	f.Add("http", "", "tok", "127.0.0.1:8080", "/a@b/c")
	f.Add("https", "u", "p@ss/w?rd#", "h", "")
	f.Fuzz(func(t *testing.T, scheme, user, pass, host, rest string) {
		if len(pass) < 4 || strings.Contains(scheme+user+host+rest, pass) {
			return // a password that is also elsewhere cannot be told apart
		}
		for _, in := range []string{
			scheme + "://" + user + ":" + pass + "@" + host + rest,
			scheme + "://" + pass + "@" + host + rest,
			scheme + "://" + user + ":" + url.PathEscape(pass) + "@" + host + rest,
		} {
			out := RedactURL(in)
			// What the output adds itself (the scheme's "://", the mask)
			// may happen to spell a short password; look past it.
			seen := strings.ReplaceAll(strings.TrimPrefix(out, scheme+"://"), Mask, "")
			seen = strings.Replace(seen, "@"+host, "", 1) // the separator and the host are public
			for _, form := range []string{pass, url.PathEscape(pass), url.QueryEscape(pass)} {
				if len(form) >= 4 && strings.Contains(seen, form) && !strings.Contains(scheme+user+host+rest, form) {
					t.Fatalf("RedactURL(%q) = %q holds the password", in, out)
				}
			}
		}
	})
}
