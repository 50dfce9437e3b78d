package netpolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/leaktest"
)

func TestCredentialsNeverShowTheirPassword(t *testing.T) {
	up := UserPass{Username: "ci", Password: leaktest.Secret}
	rc := RegistryCredentials{UserPass: up, Registry: "ghcr.io"}
	tok := Token{Value: leaktest.Secret}
	key := Secret(leaktest.Secret)
	for _, v := range []any{up, &up, rc, &rc, []any{up}, map[string]any{"c": rc}, tok, &tok, []Token{tok}, key, &key, struct{ K Secret }{key}} {
		var out []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "creds", v)
		slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "creds", v)
		out = append(out, logged.String())
		for _, o := range out {
			if f := leaktest.Find(o, "ci", leaktest.Secret); f != "" || strings.Contains(o, "P@ss") {
				t.Errorf("%T printed its password: %s", v, o)
			}
		}
		if hasUser := !strings.Contains(fmt.Sprintf("%T", v), "Token") && !strings.Contains(fmt.Sprintf("%T", v), "Secret"); hasUser && !strings.Contains(out[0], "ci") {
			t.Errorf("%T lost its user name: %s", v, out[0])
		}
	}
	if got := fmt.Sprint(rc); !strings.Contains(got, "ghcr.io") {
		t.Errorf("RegistryCredentials %q does not name its registry", got)
	}
}

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    *UserPass
		wantErr string
	}{
		{"none", nil, nil, ""},
		{"user and password", map[string]string{EnvGitUsername: "u", EnvGitPassword: leaktest.Secret}, &UserPass{"u", leaktest.Secret}, ""},
		{"password is a token", map[string]string{EnvGitPassword: leaktest.Secret}, &UserPass{GitHubTokenUser, leaktest.Secret}, ""},
		{"github token", map[string]string{EnvGitHubToken: leaktest.Secret}, &UserPass{GitHubTokenUser, leaktest.Secret}, ""},
		{"password wins over token", map[string]string{EnvGitPassword: "p", EnvGitHubToken: leaktest.Secret}, &UserPass{GitHubTokenUser, "p"}, ""},
		// A user name alone is a mistake: never fall back to another
		// credential (publish once did, to GITHUB_TOKEN).
		{"user alone", map[string]string{EnvGitUsername: "u", EnvGitHubToken: leaktest.Secret}, nil, "environment has GIT_USERNAME but no GIT_PASSWORD"},
	} {
		got, err := GitFromEnv(env(tc.env))
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: GitFromEnv error %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("%s: GitFromEnv = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}

	rc, err := RegistryFromEnv(env(map[string]string{EnvRegistryUsername: "u", EnvRegistryPassword: leaktest.Secret, EnvRegistryHost: "ghcr.io"}))
	if err != nil || rc == nil || rc.Username != "u" || rc.Password != leaktest.Secret || rc.Registry != "ghcr.io" {
		t.Errorf("RegistryFromEnv = %v, %v", rc, err)
	}
	for _, m := range []map[string]string{{EnvRegistryUsername: "u"}, {EnvRegistryPassword: leaktest.Secret}} {
		if rc, err := RegistryFromEnv(env(m)); err == nil || rc != nil || strings.Contains(err.Error(), leaktest.Secret) {
			t.Errorf("RegistryFromEnv(%v) = %v, %v; want an error without the leaktest.Secret", m, rc, err)
		}
	}
	if rc, err := RegistryFromEnv(env(nil)); rc != nil || err != nil {
		t.Errorf("RegistryFromEnv(empty) = %v, %v", rc, err)
	}
}
