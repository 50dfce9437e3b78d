package netpolicy

// The one credential type. It redacts itself wherever it could be shown, so
// a stray %v, a slog attribute or a JSON dump cannot leak the password.

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// UserPass is a user name and password (or token). Formatting it with fmt,
// logging it with slog or marshalling it to JSON never shows the password.
type UserPass struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// RegistryCredentials are credentials for one registry host, sent to no
// other: not to a host a record names, not across a redirect.
type RegistryCredentials struct {
	UserPass
	// Registry is the host (or host:port) they are for.
	Registry string `json:"registry,omitempty"`
	// Ambient means no stored user name or password: the credentials come
	// from the cloud identity the process runs with (internal/ambient),
	// for Registry only.
	Ambient bool `json:"ambient,omitempty"`
}

// redactedPassword replaces a credential's password wherever it is shown.
const redactedPassword = "redacted"

// redactedCopy is u with a non-empty password replaced by redactedPassword.
func (u UserPass) redactedCopy() UserPass {
	if u.Password != "" {
		u.Password = redactedPassword
	}
	return u
}

// String returns the user name and a redacted password.
func (u UserPass) String() string {
	return fmt.Sprintf("{Username:%s Password:%s}", u.Username, u.redactedCopy().Password)
}

// GoString returns a Go-syntax form with the password redacted.
func (u UserPass) GoString() string {
	return fmt.Sprintf("netpolicy.UserPass{Username:%q, Password:%q}", u.Username, u.redactedCopy().Password)
}

// Format makes every fmt verb print the redacted form.
func (u UserPass) Format(f fmt.State, verb rune) { formatRedacted(f, verb, u) }

// MarshalJSON encodes the user name and a redacted password.
func (u UserPass) MarshalJSON() ([]byte, error) {
	type plain UserPass
	return json.Marshal(plain(u.redactedCopy()))
}

// LogValue makes slog print the redacted form.
func (u UserPass) LogValue() slog.Value { return slog.StringValue(u.String()) }

// String returns the registry, the user name and a redacted password.
func (c RegistryCredentials) String() string {
	if c.Ambient {
		return fmt.Sprintf("{Registry:%s Ambient:true}", c.Registry)
	}
	return fmt.Sprintf("{Registry:%s Username:%s Password:%s}", c.Registry, c.Username, c.redactedCopy().Password)
}

// GoString returns a Go-syntax form with the password redacted.
func (c RegistryCredentials) GoString() string {
	return fmt.Sprintf("netpolicy.RegistryCredentials{Registry:%q, Username:%q, Password:%q, Ambient:%t}", c.Registry, c.Username, c.redactedCopy().Password, c.Ambient)
}

// Format makes every fmt verb print the redacted form.
func (c RegistryCredentials) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c) }

// MarshalJSON encodes the registry, the user name and a redacted password,
// or the registry and ambient for ambient credentials.
func (c RegistryCredentials) MarshalJSON() ([]byte, error) {
	if c.Ambient && c.UserPass == (UserPass{}) {
		return json.Marshal(struct {
			Registry string `json:"registry,omitempty"`
			Ambient  bool   `json:"ambient"`
		}{c.Registry, true})
	}
	return json.Marshal(struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Registry string `json:"registry,omitempty"`
		Ambient  bool   `json:"ambient,omitempty"`
	}{c.Username, c.redactedCopy().Password, c.Registry, c.Ambient})
}

// LogValue makes slog print the redacted form.
func (c RegistryCredentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Token is a bearer token (a GitHub API token). Formatting it, logging it
// or marshalling it to JSON never shows it.
type Token struct {
	Value string `json:"token"`
}

// String returns a mask, or "" for an empty token.
func (t Token) String() string {
	if t.Value == "" {
		return ""
	}
	return redactedPassword
}

// GoString returns a Go-syntax form with the token redacted.
func (t Token) GoString() string { return fmt.Sprintf("netpolicy.Token{Value:%q}", t.String()) }

// Format makes every fmt verb print the redacted form.
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t) }

// MarshalJSON encodes the redacted form.
func (t Token) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Value string `json:"token"`
	}{t.String()})
}

// LogValue makes slog print the redacted form.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Secret is a secret string from a config, such as a signing key. It
// decodes from JSON as a plain string; formatting it, logging it or
// encoding it to JSON shows only whether it is set.
type Secret string

// String returns a mask, or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redactedPassword
}

// GoString returns a Go-syntax form with the secret redacted.
func (s Secret) GoString() string { return fmt.Sprintf("netpolicy.Secret(%q)", s.String()) }

// Format makes every fmt verb print the redacted form.
func (s Secret) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s) }

// MarshalJSON encodes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue makes slog print the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// redactedStringer is a credential whose String and GoString are redacted.
type redactedStringer interface {
	fmt.Stringer
	fmt.GoStringer
}

// formatRedacted is the Format every credential type shares: %#v prints the
// redacted GoString, every other verb the redacted String.
func formatRedacted(f fmt.State, verb rune, c redactedStringer) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(c.GoString()))
		return
	}
	_, _ = f.Write([]byte(c.String()))
}
