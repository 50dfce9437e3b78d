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

// TokenFile holds the bearer token read from a file, and reads the file again
// when its size or modification time changes, so that a rotated token takes
// effect without a restart.
type TokenFile struct {
	path string

	mu      sync.Mutex
	token   []byte
	size    int64
	modTime time.Time
}

// LoadTokenFile reads the token at path. Surrounding white space is trimmed.
// A missing file or one holding only white space is an error wrapping
// ErrNoToken.
func LoadTokenFile(path string) (*TokenFile, error) {
	t := &TokenFile{path: path}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading token file %s: %w: the file does not exist", path, ErrNoToken)
	}
	if err != nil {
		return nil, fmt.Errorf("reading token file %s: %w", path, err)
	}
	tok, err := readToken(path)
	if err != nil {
		return nil, err
	}
	if len(tok) == 0 {
		return nil, fmt.Errorf("reading token file %s: %w: the file is empty", path, ErrNoToken)
	}
	t.token, t.size, t.modTime = tok, fi.Size(), fi.ModTime()
	return t, nil
}

// Token returns the current token. When the file changed since it was last
// read, it is read again; a file that became unreadable or empty keeps the
// last good token, since a rotation in progress may briefly leave it empty.
func (t *TokenFile) Token() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	fi, err := os.Stat(t.path)
	if err != nil || (fi.Size() == t.size && fi.ModTime().Equal(t.modTime)) {
		return t.token
	}
	tok, err := readToken(t.path)
	if err != nil || len(tok) == 0 {
		return t.token
	}
	t.token, t.size, t.modTime = tok, fi.Size(), fi.ModTime()
	return t.token
}

func readToken(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading token file %s: %w", path, err)
	}
	return bytes.TrimSpace(b), nil
}
