package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// DefaultTokenFile is where kargo-extended mounts the sidecar's bearer token.
const DefaultTokenFile = "/var/run/kargo/token"

// ErrNoToken reports a token file that is missing or holds no token; the
// server must not start without auth unless told so explicitly.
var ErrNoToken = errors.New("no bearer token")

// TokenFile holds the bearer token read from a file. The file is read
// again, by content, at most once a second (so a rotation takes effect at
// once, even one that keeps the file's size and time), and a file that is
// missing or holds no token accepts no request until a token is back: the
// kubelet swaps a mounted Secret atomically, so an empty file is a
// revocation, not a rotation in progress.
type TokenFile struct {
	path  string
	every time.Duration // how often the file is read again; tests set 0

	mu    sync.Mutex
	token []byte
	read  time.Time
}

// recheckEvery is how often Token reads the file again.
const recheckEvery = time.Second

// LoadTokenFile reads the token at path. Surrounding white space is trimmed.
// A missing file or one holding only white space is an error wrapping
// ErrNoToken.
func LoadTokenFile(path string) (*TokenFile, error) {
	t := &TokenFile{path: path, every: recheckEvery}
	tok, err := readToken(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading token file %s: %w: the file does not exist", path, ErrNoToken)
	}
	if err != nil {
		return nil, err
	}
	if len(tok) == 0 {
		return nil, fmt.Errorf("reading token file %s: %w: the file is empty", path, ErrNoToken)
	}
	t.token, t.read = tok, time.Now()
	return t, nil
}

// Token returns the current token, reading the file again when the last
// read is older than a second. A missing, unreadable or empty file gives
// nil, which refuses every request.
func (t *TokenFile) Token() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now := time.Now(); now.Sub(t.read) >= t.every {
		tok, err := readToken(t.path)
		if err != nil {
			tok = nil
		}
		t.token, t.read = tok, now
	}
	return t.token
}

func readToken(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading token file %s: %w", path, err)
	}
	return bytes.TrimSpace(b), nil
}
