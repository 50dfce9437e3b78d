package step

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/step/target"
	"github.com/argo-refs/argo-refs/warehouse"
)

// recordCacheSize bounds the records a long-lived process (serve) keeps. A
// record is a few hundred bytes; 256 of them cover every Freight a busy
// Kargo verifies and promotes at a time.
const recordCacheSize = 256

// credFingerprint identifies the Git credentials a record was read with. It
// is derived from the password, so it never shows in any output: every
// formatting verb prints REDACTED.
type credFingerprint [sha256.Size]byte

// Format keeps the fingerprint out of logs and error messages.
func (credFingerprint) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "REDACTED") }

// recordKey is what a record read depends on.
type recordKey struct {
	repo    string // scheme + "://" + target.NormalizeRepoURL
	tlsSkip bool   // the repository's certificate is not verified
	commit  plumbing.Hash
	dir     string
	creds   credFingerprint // all zero without credentials
}

// Format prints the key without its credential fingerprint.
func (k recordKey) Format(f fmt.State, _ rune) {
	_, _ = fmt.Fprintf(f, "%s@%s:%s", k.repo, short(k.commit.String()), k.dir)
}

// newRecordKey builds the key of a record read. Credentials are reduced to
// a fingerprint, so that a caller with other or wrong credentials never gets
// a record read with someone else's.
func newRecordKey(repoURL string, commit plumbing.Hash, dir string, auth *UserPass, skipTLS []string) recordKey {
	k := recordKey{repo: target.NormalizeRepoURL(repoURL), commit: commit, dir: path.Clean(dir)}
	if u, err := url.Parse(repoURL); err == nil {
		scheme := strings.ToLower(u.Scheme)
		k.repo = scheme + "://" + k.repo
		if scheme == "https" {
			// A list Resolve would have refused counts as skipping: such a
			// read never shares with a verified one.
			hosts, err := netpolicy.NewTLSSkipHosts(skipTLS)
			k.tlsSkip = err != nil || hosts.Skip(u.Host)
		}
	}
	if auth != nil {
		h := sha256.New()
		h.Write([]byte(auth.Username))
		h.Write([]byte{0})
		h.Write([]byte(auth.Password))
		copy(k.creds[:], h.Sum(nil))
	}
	return k
}

// recordCache holds the build-lock records a Runner has read and validated.
// A commit never changes, so the record at (repository, commit, build-lock
// dir) read with given credentials is the same every time. It is a bounded,
// least-recently-used map of validated records
// with one read in flight per key: callers asking for a key being read wait
// for that read instead of making their own.
type recordCache struct {
	max int

	mu       sync.Mutex
	lru      *list.List // of *recordEntry, most recently used first
	entries  map[recordKey]*list.Element
	inflight map[recordKey]*recordFlight
	onWait   func() // test hook: called, under mu, when a caller starts waiting
}

type recordEntry struct {
	key recordKey
	rec warehouse.Record
}

// recordFlight is one read in flight; done is closed when it ends.
type recordFlight struct {
	done      chan struct{}
	rec       *warehouse.Record
	err       error
	abandoned bool // ended without an answer: waiters try again
}

func newRecordCache(max int) *recordCache {
	return &recordCache{
		max:      max,
		lru:      list.New(),
		entries:  map[recordKey]*list.Element{},
		inflight: map[recordKey]*recordFlight{},
	}
}

// size returns the number of records on the LRU list and of keys in the
// map, which are always equal.
func (c *recordCache) size() (records, keys int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), len(c.entries)
}

// recordClaim makes its holder the one reader of a key. The holder must call
// finish with the outcome, or abandon (a no-op after finish).
type recordClaim struct {
	c     *recordCache
	key   recordKey
	f     *recordFlight
	ended bool // guarded by c.mu
}

// lookup returns a copy of the cached record for key. If another caller is
// reading it, lookup waits for that read and shares its outcome, or returns
// when ctx ends. If nobody is, it returns a claim: the caller reads the
// record and reports through the claim.
func (c *recordCache) lookup(ctx context.Context, key recordKey) (*warehouse.Record, *recordClaim, error) {
	for {
		c.mu.Lock()
		if e, ok := c.entries[key]; ok {
			c.lru.MoveToFront(e)
			rec := e.Value.(*recordEntry).rec
			c.mu.Unlock()
			return &rec, nil, nil
		}
		f, ok := c.inflight[key]
		if !ok {
			f = &recordFlight{done: make(chan struct{})}
			c.inflight[key] = f
			c.mu.Unlock()
			return nil, &recordClaim{c: c, key: key, f: f}, nil
		}
		if c.onWait != nil {
			c.onWait()
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("waiting for another request's read of the build-lock record: %w", ctx.Err())
		case <-f.done:
		}
		if f.abandoned {
			continue
		}
		if f.err != nil {
			return nil, nil, f.err
		}
		rec := *f.rec
		return &rec, nil, nil
	}
}

// finish ends the claim with the outcome of the read. A record is cached; a
// terminal error (the record is invalid or missing) is passed to the
// callers waiting at this moment and not kept. Any other error (the
// reader's own deadline or cancellation, a 503, a reset) says nothing about
// the record: the waiters then read it themselves, one at a time, instead
// of all failing with one fault.
func (cl *recordClaim) finish(rec *warehouse.Record, err error) {
	switch {
	case err == nil && rec != nil:
		cl.end(rec, nil, false)
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), !IsTerminal(classify(err)):
		cl.end(nil, nil, true)
	default:
		cl.end(nil, err, false)
	}
}

// abandon ends the claim without an outcome, if finish has not ended it.
func (cl *recordClaim) abandon() { cl.end(nil, nil, true) }

func (cl *recordClaim) end(rec *warehouse.Record, err error, abandoned bool) {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl.ended {
		return
	}
	cl.ended = true
	delete(c.inflight, cl.key)
	f := cl.f
	f.err, f.abandoned = err, abandoned
	if rec != nil {
		kept := *rec
		f.rec = &kept
		c.addLocked(cl.key, kept)
	}
	close(f.done)
}

func (c *recordCache) addLocked(key recordKey, rec warehouse.Record) {
	if e, ok := c.entries[key]; ok {
		e.Value.(*recordEntry).rec = rec
		c.lru.MoveToFront(e)
		return
	}
	c.entries[key] = c.lru.PushFront(&recordEntry{key: key, rec: rec})
	for c.lru.Len() > c.max {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.entries, oldest.Value.(*recordEntry).key)
	}
}
