package githubtest

// The token endpoint of GitHub Apps, "Create an installation access token
// for an app" (POST /app/installations/{installation_id}/access_tokens):
// the request must carry the App's JWT, signed RS256 with the App's key,
// issued by its client ID (or App ID), with an iat no later than now plus a
// minute of drift and an exp at most ten minutes after iat and not past.
// It answers 201 with a token and its expires_at, and 401 otherwise.

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// App is a GitHub App the server knows.
type App struct {
	Issuer         string
	InstallationID string
	Key            *rsa.PublicKey
	// TTL is how long minted tokens live; zero means an hour.
	TTL time.Duration
	// NextTokens, when set, are the tokens to hand out in turn; afterwards
	// tokens are ghs_1, ghs_2, ….
	NextTokens []string
}

// AddApp makes the server mint tokens for app.
func (s *Server) AddApp(app App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps = append(s.apps, &app)
}

// Minted are the tokens handed out, in order.
func (s *Server) Minted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.minted...)
}

// JWTs are the bearer JWTs the token endpoint received, in order.
func (s *Server) JWTs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.jwts...)
}

// serveAppToken answers the token endpoint; s.mu is held.
func (s *Server) serveAppToken(w http.ResponseWriter, r *http.Request, installation string) {
	fail := func(msg string) {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
	}
	if r.Method != http.MethodPost {
		fail("Not Found")
		return
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		fail("A JSON web token could not be decoded")
		return
	}
	s.jwts = append(s.jwts, raw)
	now := s.now()
	for _, app := range s.apps {
		if app.InstallationID != installation {
			continue
		}
		var claims jwt.RegisteredClaims
		_, err := jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
			if t.Method != jwt.SigningMethodRS256 {
				return nil, fmt.Errorf("alg %v", t.Header["alg"])
			}
			return app.Key, nil
		}, jwt.WithIssuer(app.Issuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(time.Minute), jwt.WithTimeFunc(s.now))
		if err != nil {
			fail("'Issuer' claim or signature is invalid: " + err.Error())
			return
		}
		if claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > 10*time.Minute {
			fail("'Expiration time' claim ('exp') is too far in the future")
			return
		}
		tok := fmt.Sprintf("ghs_%d", len(s.minted)+1)
		if len(app.NextTokens) > 0 {
			tok, app.NextTokens = app.NextTokens[0], app.NextTokens[1:]
		}
		s.minted = append(s.minted, tok)
		ttl := app.TTL
		if ttl == 0 {
			ttl = time.Hour
		}
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_at": now.Add(ttl).UTC().Format(time.RFC3339)})
		return
	}
	fail("Integration not found")
}
