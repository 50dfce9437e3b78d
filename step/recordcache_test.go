package step

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/argo-refs/argo-refs/internal/gitopstest"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// withRecordsHook gives the fixture a new Runner whose record cache calls
// hook when a run starts waiting for another run's read.
func (f *fixture) withRecordsHook(hook func()) {
	f.runner = NewRunner()
	f.runner.records.onWait = hook
}

// repoCounter counts the Git requests each repository of the fixture's
// server receives, by service.
type repoCounter struct {
	mu     sync.Mutex
	counts map[string]int // "gitops.git upload-pack" → requests
}

func (c *repoCounter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		svc := gittest.ServiceOther
		switch {
		case strings.HasSuffix(r.URL.Path, "/info/refs"):
			svc = gittest.ServiceInfoRefs
		case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			svc = gittest.ServiceUploadPack
		case strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
			svc = gittest.ServiceReceivePack
		}
		c.mu.Lock()
		if c.counts == nil {
			c.counts = map[string]int{}
		}
		c.counts[repo+" "+svc]++
		c.counts[repo]++
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// get returns the requests to repo ("gitops.git"), of one service if given.
func (c *repoCounter) get(repo string, svc ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(svc) > 0 {
		return c.counts[repo+" "+svc[0]]
	}
	return c.counts[repo]
}

func (c *repoCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.counts)
}

// gate holds the first upload-pack request to the GitOps repository until
// it is opened (or the client gives up on the request).
type gate struct {
	open    chan struct{}
	once    sync.Once
	first   atomic.Bool
	reached chan struct{} // closed when the first request arrives
}

// newGate returns a closed gate. Tests open it, at the latest in a cleanup
// registered after the server's, so that it runs before the server closes.
func newGate() *gate { return &gate{open: make(chan struct{}), reached: make(chan struct{})} }

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (g *gate) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/gitops.git/git-upload-pack") && g.first.CompareAndSwap(false, true) {
			// With the body read, the server notices when the client
			// hangs up, and ends r's context.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			close(g.reached)
			select {
			case <-g.open:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// within fails the test if ch does not deliver within d: a guard against a
// hang, not a synchronisation.
func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: nothing after %s", what, d)
		panic("unreachable")
	}
}

func (f *fixture) runAsync(t *testing.T, ctx context.Context, kind Kind, stage string, extra map[string]any) <-chan Result {
	t.Helper()
	cfg := f.config(t, extra)
	done := make(chan Result, 1)
	go func() {
		done <- f.runner.Run(ctx, kind, f.context(stage), cfg, Options{Logger: slog.New(slog.NewJSONHandler(f.logs, nil))})
	}()
	return done
}

// TestRecordCacheSecondVerifyMakesNoGitOpsRequest: the record of a Freight
// is read once per process; the registry and source checks still run on
// every call.
func TestRecordCacheSecondVerifyMakesNoGitOpsRequest(t *testing.T) {
	var count repoCounter
	f := newFixture(t, fixtureOpt{gitMW: count.middleware})
	first := f.run(t, KindVerify, "staging", nil)
	wantStatus(t, first, kargo.StatusSucceeded, false)
	if n := count.get("gitops.git"); n != 3 {
		t.Fatalf("a cold verification made %d GitOps requests, want 3 (advertisement, commit, record)", n)
	}
	count.reset()
	f.git.ResetStats()
	f.reg.ResetCounters()
	second := f.run(t, KindVerify, "staging", nil)
	wantStatus(t, second, kargo.StatusSucceeded, false)
	if n := count.get("gitops.git"); n != 0 {
		t.Fatalf("a warm verification made %d GitOps requests, want 0", n)
	}
	if n := count.get("source.git"); n == 0 {
		t.Fatal("the warm verification did not check the source commit")
	}
	if n := f.reg.ManifestRequests(); n == 0 {
		t.Fatal("the warm verification did not check the image")
	}
	if fmt.Sprint(first.Output) != fmt.Sprint(second.Output) || first.Message != second.Message {
		t.Fatalf("outputs differ:\ncold %v %q\nwarm %v %q", first.Output, first.Message, second.Output, second.Message)
	}
	if !strings.Contains(f.logs.String(), `"cached":true`) {
		t.Fatalf("the warm verification does not say it used the cache:\n%s", f.logs.String())
	}
}

// TestRecordCacheConcurrentVerifiesShareOneRead: ten verifications of a
// cold Freight wait for the one read in flight instead of making their own.
func TestRecordCacheConcurrentVerifiesShareOneRead(t *testing.T) {
	var count repoCounter
	g := newGate()
	f := newFixture(t, fixtureOpt{gitMW: func(h http.Handler) http.Handler { return count.middleware(g.middleware(h)) }})
	t.Cleanup(g.release)
	waiting := make(chan struct{}, 16)
	f.withRecordsHook(func() { waiting <- struct{}{} })

	const n = 10
	results := make([]<-chan Result, n)
	for i := range n {
		results[i] = f.runAsync(t, context.Background(), KindVerify, "staging", nil)
	}
	// One of them holds the read (stopped at the gate); the nine others
	// must all be waiting for it before it may go on.
	within(t, g.reached, time.Minute, "the first record fetch")
	for i := range n - 1 {
		within(t, waiting, time.Minute, fmt.Sprintf("waiter %d", i+1))
	}
	g.release()
	for i, ch := range results {
		res := within(t, ch, time.Minute, "a verification's result")
		f.assertNoLeak(t, res)
		wantStatus(t, res, kargo.StatusSucceeded, false)
		if res.Output[OutputReleaseID] != "git-"+f.srcCommit {
			t.Fatalf("verification %d: outputs %v", i, res.Output)
		}
	}
	if got := fmt.Sprintf("info-refs %d, upload-pack %d", count.get("gitops.git", gittest.ServiceInfoRefs), count.get("gitops.git", gittest.ServiceUploadPack)); got != "info-refs 1, upload-pack 2" {
		t.Fatalf("ten verifications made %s requests to the GitOps repository, want one read: info-refs 1, upload-pack 2", got)
	}
}

// TestRecordCacheWaiterCancelledReturnsPromptly: a call waiting for another
// call's read returns as soon as its own context ends; the reader goes on.
func TestRecordCacheWaiterCancelledReturnsPromptly(t *testing.T) {
	g := newGate()
	f := newFixture(t, fixtureOpt{gitMW: g.middleware})
	t.Cleanup(g.release)
	waiting := make(chan struct{}, 4)
	f.withRecordsHook(func() { waiting <- struct{}{} })

	reader := f.runAsync(t, context.Background(), KindVerify, "staging", nil)
	within(t, g.reached, time.Minute, "the record fetch")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waiter := f.runAsync(t, ctx, KindVerify, "staging", nil)
	within(t, waiting, time.Minute, "the second verification waiting")
	cancel()
	// The reader is still held at the gate: the waiter must not wait for it.
	res := within(t, waiter, 10*time.Second, "the cancelled waiter")
	wantStatus(t, res, kargo.StatusErrored, false)
	if !errors.Is(res.Err, context.Canceled) || !strings.Contains(res.Message, "waiting for another request's read") {
		t.Fatalf("error %v, message %q", res.Err, res.Message)
	}
	g.release()
	wantStatus(t, within(t, reader, time.Minute, "the reader"), kargo.StatusSucceeded, false)
}

// TestRecordCacheReaderCancelledLetsAWaiterRead: when the call holding the
// read gives up, a waiter reads the record itself rather than failing with
// the other call's cancellation.
func TestRecordCacheReaderCancelledLetsAWaiterRead(t *testing.T) {
	g := newGate()
	f := newFixture(t, fixtureOpt{gitMW: g.middleware})
	t.Cleanup(g.release)
	waiting := make(chan struct{}, 4)
	f.withRecordsHook(func() { waiting <- struct{}{} })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reader := f.runAsync(t, ctx, KindVerify, "staging", nil)
	within(t, g.reached, time.Minute, "the record fetch")
	waiter := f.runAsync(t, context.Background(), KindVerify, "staging", nil)
	within(t, waiting, time.Minute, "the second verification waiting")
	cancel()
	res := within(t, reader, time.Minute, "the cancelled reader")
	wantStatus(t, res, kargo.StatusErrored, false)
	if !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("the cancelled reader: error %v", res.Err)
	}
	// Only the first fetch was held; the waiter's own goes through.
	res = within(t, waiter, time.Minute, "the waiter")
	f.assertNoLeak(t, res)
	wantStatus(t, res, kargo.StatusSucceeded, false)
}

// TestRecordCacheIsPerCredentials: a record read with good credentials is
// not handed to a call with wrong or no credentials, and the fingerprint
// that tells them apart shows nowhere.
func TestRecordCacheIsPerCredentials(t *testing.T) {
	var count repoCounter
	f := newFixture(t, fixtureOpt{gitMW: count.middleware})
	wantStatus(t, f.run(t, KindVerify, "staging", nil), kargo.StatusSucceeded, false)

	for _, tc := range []struct {
		name string
		git  map[string]any
	}{
		{"wrong password", map[string]any{"username": gitUser, "password": secret + "-wrong"}},
		{"other user", map[string]any{"username": gitUser + "2", "password": secret}},
		{"none", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds := map[string]any{"registry": map[string]any{"username": regUser, "password": secret, "registry": f.registryHost()}}
			if tc.git != nil {
				creds["git"] = tc.git
			}
			// Without the source check (which would send the same
			// credentials to the source repository, on the same host),
			// only the record read asks the Git server. Its Stats count
			// the refused requests too.
			f.git.ResetStats()
			res := f.run(t, KindVerify, "staging", map[string]any{"credentials": creds, "checks": map[string]any{"sourceCommit": false}})
			wantStatus(t, res, kargo.StatusFailed, true)
			if !errors.Is(res.Err, gitrepo.ErrAuth) {
				t.Fatalf("error %v, want the authentication error", res.Err)
			}
			if n := f.git.Stats().Requests; n == 0 {
				t.Fatal("the call never asked the GitOps server")
			}
			if !strings.Contains(res.Message, "gitops.git") {
				t.Fatalf("the failure is not the GitOps repository's: %s", res.Message)
			}
		})
	}

	// The good credentials still find their record.
	count.reset()
	res := f.run(t, KindVerify, "staging", nil)
	wantStatus(t, res, kargo.StatusSucceeded, false)
	if n := count.get("gitops.git"); n != 0 {
		t.Fatalf("the good credentials' record was lost: %d GitOps requests", n)
	}

	sum := sha256.Sum256([]byte(gitUser + "\x00" + secret))
	fp := hex.EncodeToString(sum[:])
	key := newRecordKey(f.gitopsURL, plumbing.NewHash(f.freight), lockDir, &UserPass{Username: gitUser, Password: secret}, nil)
	if key.creds != credFingerprint(sum) {
		t.Fatal("the key's fingerprint is not sha256(username NUL password)")
	}
	printed := fmt.Sprintf("%v %+v %#v %s %x %q", key, key, key, key, key, key) + fmt.Sprintf("%v %x %#v", key.creds, key.creds, key.creds)
	for _, s := range []string{printed, f.logs.String()} {
		if strings.Contains(s, fp) || strings.Contains(s, fmt.Sprint(sum[:4])) || strings.Contains(s, fmt.Sprintf("%x", sum[:4])) {
			t.Fatalf("the credential fingerprint shows: %s", s)
		}
	}
}

// TestRecordCachePromotionAfterVerifyFetchesLess: a promotion of a Freight a
// verification has read leaves the Freight commit out of its fetch, still
// checks the image, and lands.
func TestRecordCachePromotionAfterVerifyFetchesLess(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	// The branch moves on after the Freight, as it does between the
	// publication of a release and its promotion.
	gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{"apps/codeai/README.md": "the codeai app\n"}, "docs")
	noSource := map[string]any{"checks": map[string]any{"sourceCommit": false}}

	f.runner = NewRunner()
	f.git.ResetStats()
	cold := f.runner.Run(context.Background(), KindPromote, f.context("staging"), f.config(t, noSource), Options{DryRun: true})
	wantStatus(t, cold, kargo.StatusSucceeded, false)
	coldStats := f.git.Stats().Service(gittest.ServiceUploadPack)

	f.runner = NewRunner()
	wantStatus(t, f.run(t, KindVerify, "staging", noSource), kargo.StatusSucceeded, false)
	tip := f.tip(t)
	f.git.ResetStats()
	f.reg.ResetCounters()
	warm := f.run(t, KindPromote, "staging", noSource)
	wantStatus(t, warm, kargo.StatusSucceeded, false)
	warmStats := f.git.Stats().Service(gittest.ServiceUploadPack)

	if warm.Output[OutputChanged] != true || gittest.Git(t, f.gitopsDir, "rev-parse", "main^") != tip {
		t.Fatalf("the warm promotion did not land on the tip: %v", warm.Output)
	}
	if !strings.Contains(f.show(t, "main", "apps/codeai/deployments/staging/deployment.yaml"), f.srcCommit) {
		t.Fatal("the warm promotion did not move staging")
	}
	if f.reg.ManifestRequests() == 0 {
		t.Fatal("the warm promotion did not check the image")
	}
	if warmStats.Requests != coldStats.Requests || warmStats.BytesSent >= coldStats.BytesSent {
		t.Fatalf("upload-pack: cold %d requests %d bytes, warm %d requests %d bytes; want as many requests and fewer bytes",
			coldStats.Requests, coldStats.BytesSent, warmStats.Requests, warmStats.BytesSent)
	}
	t.Logf("upload-pack bytes: cold %d, warm %d", coldStats.BytesSent, warmStats.BytesSent)
}

// TestRecordCachePromotionStillRefusesAMovedTag: a cached record does not
// skip the registry check.
func TestRecordCachePromotionStillRefusesAMovedTag(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	wantStatus(t, f.run(t, KindVerify, "staging", nil), kargo.StatusSucceeded, false)
	f.reg.PushImage(t, imageRepo+":git-"+f.srcCommit, map[string]string{"rebuilt": "yes"})
	tip := f.tip(t)
	for _, kind := range []Kind{KindVerify, KindPromote} {
		res := f.run(t, kind, "staging", nil)
		wantStatus(t, res, kargo.StatusFailed, true)
	}
	if f.tip(t) != tip {
		t.Fatal("a refused promotion pushed")
	}
}

// TestRecordCacheSizeIsBounded: past its bound the cache drops the least
// recently used record, which the next call reads again.
func TestRecordCacheSizeIsBounded(t *testing.T) {
	if got := NewRunner().records.max; got != recordCacheSize || recordCacheSize > 1024 {
		t.Fatalf("a Runner holds up to %d records (constant %d)", got, recordCacheSize)
	}
	var count repoCounter
	f := newFixture(t, fixtureOpt{gitMW: count.middleware})
	f.runner.records = newRecordCache(2)
	rec, err := warehouse.Parse("current.yaml", []byte(f.show(t, f.freight, lockDir+"/current.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	freights := []string{f.freight}
	for range 2 {
		freights = append(freights, gitopstest.PublishRecord(t, f.gitopsDir, "main", lockDir, rec))
	}
	verify := func(freight string) int {
		t.Helper()
		f.freight = freight
		count.reset()
		wantStatus(t, f.run(t, KindVerify, "staging", nil), kargo.StatusSucceeded, false)
		return count.get("gitops.git")
	}
	a, b, c := freights[0], freights[1], freights[2]
	for _, step := range []struct {
		freight string
		read    bool
	}{
		{a, true}, {b, true}, {a, false}, // a is now the most recently used
		{c, true},  // evicts b
		{a, false}, // still held
		{b, true},  // read again; evicts c
		{c, true},
	} {
		if got := verify(step.freight) > 0; got != step.read {
			t.Fatalf("Freight %s: read from the server %v, want %v", short(step.freight), got, step.read)
		}
	}
	if n, keys := f.runner.records.size(); n != 2 || keys != 2 {
		t.Fatalf("the cache holds %d records (%d keys), bound 2", n, keys)
	}
}
