package gitrepo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

var author = gitrepo.Signature{Name: "argo-refs", Email: "argo-refs@example.invalid", When: time.Unix(1750000000, 0).UTC()}

type fixture struct {
	srv  *gittest.Server
	url  string
	dir  string
	tip  string
	prev string
}

// newFixture serves a repo whose main has two commits: prev with
// apps/a/values.yaml and README.md, tip adding apps/b/values.yaml and
// changing apps/a/values.yaml; plus `noise` bytes of random blobs.
func newFixture(t testing.TB, noise int, opts ...gittest.Option) *fixture {
	t.Helper()
	srv := gittest.New(t, opts...)
	f := &fixture{srv: srv, url: srv.CreateRepo(t, "gitops.git"), dir: srv.Dir("gitops.git")}
	entries := []gittest.Entry{
		{Path: "README.md", Data: "# gitops\n"},
		{Path: "apps/a/values.yaml", Data: "image: a:1\n"},
		{Path: "bin/tool.sh", Data: "#!/bin/sh\necho tool\n", Mode: gittest.ModeExecutable},
	}
	entries = append(entries, randomEntries(noise, 4, 1)...)
	f.prev = gittest.CommitEntries(t, f.dir, "main", "first", entries...)
	f.tip = gittest.CommitFiles(t, f.dir, "main", map[string]string{
		"apps/a/values.yaml": "image: a:2\n",
		"apps/b/values.yaml": "image: b:1\n",
	}, "second")
	return f
}

// randomEntries returns about total bytes of incompressible files spread
// over dirs directories.
func randomEntries(total, dirs int, seed uint64) []gittest.Entry {
	if total <= 0 {
		return nil
	}
	const fileSize = 64 << 10
	rng := rand.NewChaCha8([32]byte{byte(seed)})
	var out []gittest.Entry
	for i := 0; i*fileSize < total; i++ {
		b := make([]byte, fileSize)
		_, _ = rng.Read(b)
		out = append(out, gittest.Entry{Path: fmt.Sprintf("noise/d%02d/sub/f%04d.bin", i%dirs, i), Data: string(b)})
	}
	return out
}

func open(t testing.TB, url string, opts gitrepo.Options) *gitrepo.Remote {
	t.Helper()
	r, err := gitrepo.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	return r
}

func h(s string) plumbing.Hash { return plumbing.NewHash(s) }

func TestFetchTwoCommitsIsOneRequest(t *testing.T) {
	f := newFixture(t, 0)
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	tip, err := r.Tip(ctx, "main")
	if err != nil || tip.String() != f.tip {
		t.Fatalf("Tip = %s, %v; want %s", tip, err, f.tip)
	}
	f.srv.ResetStats()
	if err := r.Fetch(ctx, h(f.tip), h(f.prev)); err != nil {
		t.Fatal(err)
	}
	st := f.srv.Stats()
	if st.Requests != 1 || st.Service(gittest.ServiceUploadPack).Requests != 1 {
		t.Errorf("Fetch of two commits made %+v, want exactly one upload-pack request", st)
	}
	// Both are held now: fetching again costs nothing.
	if err := r.Fetch(ctx, h(f.prev), h(f.tip)); err != nil {
		t.Fatal(err)
	}
	if st := f.srv.Stats(); st.Requests != 1 {
		t.Errorf("second Fetch made requests: %+v", st)
	}
}

func TestReadFilesFetchesOnlyTheBlobsRead(t *testing.T) {
	f := newFixture(t, 3<<20)
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	if err := r.Fetch(ctx, h(f.tip)); err != nil {
		t.Fatal(err)
	}
	fetchBytes := r.Stats().BytesReceived
	if fetchBytes > 32<<10 {
		t.Errorf("blobless fetch received %d bytes of a repo with 3 MB of blobs", fetchBytes)
	}
	f.srv.ResetStats()
	before := r.Stats()
	files, err := r.ReadFiles(ctx, h(f.tip), "apps/a/values.yaml", "bin/tool.sh", "apps/nope/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	after := r.Stats()
	if n := after.Requests - before.Requests; n != 1 {
		t.Errorf("ReadFiles made %d requests, want 1", n)
	}
	if got := f.srv.Stats().Service(gittest.ServiceUploadPack).Requests; got != 1 {
		t.Errorf("server saw %d upload-pack requests, want 1", got)
	}
	if n := after.BytesReceived - before.BytesReceived; n > 2<<10 {
		t.Errorf("ReadFiles of two small files received %d bytes", n)
	}
	t.Logf("fetch: %d bytes; read 2 blobs: %d bytes", fetchBytes, after.BytesReceived-before.BytesReceived)
	a := files["apps/a/values.yaml"]
	if !a.Exists || string(a.Data) != "image: a:2\n" || a.Mode != filemode.Regular {
		t.Errorf("apps/a/values.yaml = %+v", a)
	}
	if want := gittest.Git(t, f.dir, "rev-parse", f.tip+":apps/a/values.yaml"); a.Hash.String() != want {
		t.Errorf("hash = %s, want %s", a.Hash, want)
	}
	tool := files["bin/tool.sh"]
	if !tool.Exists || tool.Mode != filemode.Executable || !strings.Contains(string(tool.Data), "echo tool") {
		t.Errorf("bin/tool.sh = %+v", tool)
	}
	if nope := files["apps/nope/values.yaml"]; nope.Exists || nope.Data != nil || nope.Path != "apps/nope/values.yaml" {
		t.Errorf("missing file = %+v", nope)
	}
	// Held blobs are not fetched again.
	before = r.Stats()
	if _, err := r.ReadFiles(ctx, h(f.tip), "apps/a/values.yaml"); err != nil {
		t.Fatal(err)
	}
	if r.Stats() != before {
		t.Errorf("re-reading a held blob made requests: %+v → %+v", before, r.Stats())
	}
}

func TestCommitAndPush(t *testing.T) {
	f := newFixture(t, 0)
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	tip := h(f.tip)
	if err := r.Fetch(ctx, tip); err != nil {
		t.Fatal(err)
	}
	c, err := r.Commit(tip, gitrepo.Edit{Changes: []gitrepo.Change{
		{Path: "apps/a/values.yaml", Data: []byte("image: a:3\n")},
		{Path: "apps/c/deep/new.yaml", Data: []byte("new: true\n")},
		{Path: "bin/tool.sh", Data: []byte("#!/bin/sh\necho tool v2\n")},
	}, Message: "promote a", Author: author})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.ResetStats()
	if err := r.Push(ctx, "main", tip, c); err != nil {
		t.Fatal(err)
	}
	st := f.srv.Stats()
	if st.Service(gittest.ServiceReceivePack).Requests != 1 || st.Requests != 2 {
		t.Errorf("push requests: %+v", st)
	}
	if got := gittest.Git(t, f.dir, "rev-parse", "main"); got != c.String() {
		t.Fatalf("server main = %s, want %s", got, c)
	}
	gittest.Git(t, f.dir, "fsck", "--strict", "--no-dangling")
	if got := gittest.Git(t, f.dir, "rev-list", "--count", f.tip+"..main"); got != "1" {
		t.Errorf("commits on top of the old tip: %s, want 1", got)
	}
	if got := gittest.Git(t, f.dir, "diff", "--name-status", f.tip, "main"); got != "M\tapps/a/values.yaml\nA\tapps/c/deep/new.yaml\nM\tbin/tool.sh" {
		t.Errorf("changed files:\n%s", got)
	}
	if got := gittest.Git(t, f.dir, "ls-tree", "--format=%(objectmode) %(path)", "main", "bin/tool.sh", "apps/c/deep/new.yaml"); got != "100644 apps/c/deep/new.yaml\n100755 bin/tool.sh" {
		t.Errorf("modes:\n%s", got)
	}
	if got := gittest.Git(t, f.dir, "show", "-s", "--format=%an <%ae> %at|%cn|%s|%P", "main"); got != "argo-refs <argo-refs@example.invalid> 1750000000|argo-refs|promote a|"+f.tip {
		t.Errorf("commit header: %s", got)
	}
	if got := gittest.Git(t, f.dir, "show", "main:apps/a/values.yaml"); got != "image: a:3" {
		t.Errorf("content: %q", got)
	}
	// A fetched commit can start a new branch: an empty pack, one command.
	if err := r.Push(ctx, "copy-of-old-tip", plumbing.ZeroHash, tip); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, f.dir, "rev-parse", "copy-of-old-tip"); got != f.tip {
		t.Errorf("copy-of-old-tip = %s, want %s", got, f.tip)
	}
	// Unchanged subtrees are shared, not rebuilt.
	if a, b := gittest.Git(t, f.dir, "rev-parse", f.tip+":apps/b"), gittest.Git(t, f.dir, "rev-parse", "main:apps/b"); a != b {
		t.Errorf("apps/b tree changed: %s → %s", a, b)
	}
}

func TestNothingChangedMeansNoPush(t *testing.T) {
	f := newFixture(t, 0)
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		edit *gitrepo.Edit
	}{
		{"nil edit", nil},
		{"same bytes", &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "apps/a/values.yaml", Data: []byte("image: a:2\n")}}, Message: "noop", Author: author}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.srv.ResetStats()
			res, err := r.Update(ctx, "main", gitrepo.UpdateOptions{}, func(context.Context, gitrepo.Snapshot) (*gitrepo.Edit, error) {
				return tc.edit, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Changed || res.Commit.String() != f.tip || res.Tip.String() != f.tip || res.Attempts != 1 {
				t.Errorf("result %+v", res)
			}
			if n := f.srv.Stats().Service(gittest.ServiceReceivePack).Requests; n != 0 {
				t.Errorf("%d receive-pack requests, want none", n)
			}
			if got := gittest.Git(t, f.dir, "rev-parse", "main"); got != f.tip {
				t.Errorf("main moved to %s", got)
			}
		})
	}
}

func TestUpdateRetriesARace(t *testing.T) {
	f := newFixture(t, 0)
	r := open(t, f.url, gitrepo.Options{})
	calls := 0
	var competing string
	res, err := r.Update(context.Background(), "main", gitrepo.UpdateOptions{BaseDelay: time.Millisecond, Also: []plumbing.Hash{h(f.prev)}},
		func(ctx context.Context, tip gitrepo.Snapshot) (*gitrepo.Edit, error) {
			calls++
			files, err := tip.ReadFiles(ctx, "apps/a/values.yaml")
			if err != nil {
				return nil, err
			}
			if calls == 1 {
				// Someone else pushes between our fetch and our push.
				competing = gittest.CommitFiles(t, f.dir, "main", map[string]string{"apps/b/values.yaml": "image: b:2\n"}, "competing")
			}
			data := bytes.Replace(files["apps/a/values.yaml"].Data, []byte("a:2"), []byte("a:9"), 1)
			return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "apps/a/values.yaml", Data: data}}, Message: "promote a:9", Author: author}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Attempts != 2 || calls != 2 || res.Tip.String() != competing || res.Branch != "main" {
		t.Errorf("result %+v after %d calls; competing commit %s", res, calls, competing)
	}
	if got := gittest.Git(t, f.dir, "log", "--format=%s", "main"); got != "promote a:9\ncompeting\nsecond\nfirst" {
		t.Errorf("history:\n%s", got)
	}
	if got := gittest.Git(t, f.dir, "rev-list", "--merges", "--count", "main"); got != "0" {
		t.Errorf("%s merges", got)
	}
	if got := gittest.Git(t, f.dir, "show", "main:apps/b/values.yaml"); got != "image: b:2" {
		t.Errorf("competing change lost: %q", got)
	}
	gittest.Git(t, f.dir, "fsck", "--strict")
}

func TestConcurrentUpdatesAllLand(t *testing.T) {
	f := newFixture(t, 0)
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := open(t, f.url, gitrepo.Options{})
			var res gitrepo.UpdateResult
			defer func() { t.Logf("update %d: %d attempts, %+v", i, res.Attempts, r.Stats()) }()
			res, errs[i] = r.Update(context.Background(), "main", gitrepo.UpdateOptions{MaxAttempts: 3 * n, BaseDelay: 250 * time.Millisecond},
				func(context.Context, gitrepo.Snapshot) (*gitrepo.Edit, error) {
					return &gitrepo.Edit{
						Changes: []gitrepo.Change{{Path: fmt.Sprintf("apps/s%d/values.yaml", i), Data: fmt.Appendf(nil, "stage: %d\n", i)}},
						Message: fmt.Sprintf("stage %d", i), Author: author,
					}, nil
				})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	if got := gittest.Git(t, f.dir, "rev-list", "--count", f.tip+"..main"); got != fmt.Sprint(n) {
		t.Errorf("%s new commits, want %d", got, n)
	}
	if got := gittest.Git(t, f.dir, "rev-list", "--merges", "--count", "main"); got != "0" {
		t.Errorf("%s merges", got)
	}
	for i := range n {
		if got := gittest.Git(t, f.dir, "show", fmt.Sprintf("main:apps/s%d/values.yaml", i)); got != fmt.Sprintf("stage: %d", i) {
			t.Errorf("stage %d: %q", i, got)
		}
	}
	gittest.Git(t, f.dir, "fsck", "--strict")
}

func TestUpdateGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFixture(t, 0)
	r := open(t, f.url, gitrepo.Options{})
	calls := 0
	res, err := r.Update(context.Background(), "main", gitrepo.UpdateOptions{MaxAttempts: 3, BaseDelay: time.Millisecond},
		func(context.Context, gitrepo.Snapshot) (*gitrepo.Edit, error) {
			calls++
			gittest.CommitFiles(t, f.dir, "main", map[string]string{"race.txt": fmt.Sprint(calls)}, "competing")
			return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "mine.txt", Data: []byte("x")}}, Message: "mine", Author: author}, nil
		})
	if !errors.Is(err, gitrepo.ErrStale) {
		t.Fatalf("err = %v, want ErrStale", err)
	}
	if !strings.Contains(err.Error(), "3 attempts") || res.Attempts != 3 || calls != 3 {
		t.Errorf("err %q, result %+v, %d calls", err, res, calls)
	}
	if got := gittest.Git(t, f.dir, "log", "--format=%s", "-1", "main"); got != "competing" {
		t.Errorf("main subject %q", got)
	}
}

func TestServerWithoutFilter(t *testing.T) {
	f := newFixture(t, 256<<10, gittest.WithoutFilter())
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	res, err := r.Update(ctx, "main", gitrepo.UpdateOptions{}, func(ctx context.Context, tip gitrepo.Snapshot) (*gitrepo.Edit, error) {
		files, err := tip.ReadFiles(ctx, "apps/a/values.yaml")
		if err != nil {
			return nil, err
		}
		if string(files["apps/a/values.yaml"].Data) != "image: a:2\n" {
			return nil, fmt.Errorf("read %q", files["apps/a/values.yaml"].Data)
		}
		return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "apps/a/values.yaml", Data: []byte("image: a:5\n")}}, Message: "m", Author: author}, nil
	})
	if err != nil || !res.Changed {
		t.Fatalf("Update: %+v, %v", res, err)
	}
	st := f.srv.Stats()
	// Tip, one unfiltered fetch (blobs included, so no blob request), push.
	if st.Service(gittest.ServiceUploadPack).Requests != 1 || st.Service(gittest.ServiceReceivePack).Requests != 1 {
		t.Errorf("stats %+v", st)
	}
	if st.BytesSent < 256<<10 {
		t.Errorf("unfiltered fetch sent only %d bytes", st.BytesSent)
	}
	if got := gittest.Git(t, f.dir, "show", "main:apps/a/values.yaml"); got != "image: a:5" {
		t.Errorf("content %q", got)
	}
	gittest.Git(t, f.dir, "fsck", "--strict")
}

func TestWrongCredentials(t *testing.T) {
	const secret = "hunter2-very-secret"
	srv := gittest.New(t, gittest.WithBasicAuth("bot", "right-password"))
	url := srv.CreateRepo(t, "gitops.git")
	tip := gittest.CommitFiles(t, srv.Dir("gitops.git"), "main", map[string]string{"a": "a"}, "init")

	var logs bytes.Buffer
	logger := slogger(&logs)
	for _, tc := range []struct {
		name string
		url  string
		opts gitrepo.Options
	}{
		{"auth option", url, gitrepo.Options{Auth: &gitrepo.Auth{Username: "bot", Password: secret}, Logger: logger}},
		{"userinfo in URL", strings.Replace(url, "http://", "http://bot:"+secret+"@", 1), gitrepo.Options{Logger: logger}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := open(t, tc.url, tc.opts)
			if strings.Contains(r.URL(), secret) {
				t.Errorf("URL() = %q", r.URL())
			}
			_, err := r.Tip(context.Background(), "main")
			if !errors.Is(err, gitrepo.ErrAuth) {
				t.Fatalf("Tip err = %v, want ErrAuth", err)
			}
			checkNoSecret(t, secret, err)
			err = r.Fetch(context.Background(), h(tip))
			if !errors.Is(err, gitrepo.ErrAuth) {
				t.Errorf("Fetch err = %v, want ErrAuth", err)
			}
			checkNoSecret(t, secret, err)
			err = r.Push(context.Background(), "main", h(tip), h(tip))
			checkNoSecret(t, secret, err)
		})
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("secret in logs:\n%s", logs.String())
	}
	if logs.Len() == 0 {
		t.Errorf("no debug logs written")
	}
	// Right credentials work.
	r := open(t, url, gitrepo.Options{Auth: &gitrepo.Auth{Username: "bot", Password: "right-password"}})
	if got, err := r.Tip(context.Background(), "main"); err != nil || got.String() != tip {
		t.Errorf("Tip with the right password = %s, %v", got, err)
	}
}

func checkNoSecret(t *testing.T, secret string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, secret) {
			t.Errorf("secret leaked: %s", s)
		}
	}
}

func TestAuthNeverPrintsThePassword(t *testing.T) {
	a := gitrepo.Auth{Username: "bot", Password: "p4ss-w0rd"}
	opts := gitrepo.Options{Auth: &a}
	for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%v %+v %#v %s %q", a, a, a, a, a), fmt.Sprintf("%v %+v %#v", &a, &a, &a), fmt.Sprintf("%+v %#v", opts, opts)} {
		if strings.Contains(s, "p4ss-w0rd") {
			t.Errorf("password printed: %s", s)
		}
	}
	if !strings.Contains(a.String(), "bot") {
		t.Errorf("String() = %q, want the user name", a.String())
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"ftp://127.0.0.1/x.git", "scheme"},
		{"http://example.com/x.git", "loopback"},
		{"https://example.com/x.git?token=abc", "query"},
		{"https:///x.git", "no host"},
		{"https://user:pa55@host:bad/x.git", "port"},
		// A password with '/' that starts with digits parses as a port and a
		// path: the rest of the password must not be sent as a path.
		{"https://user:12/pa55@host/x.git", "'@' after the host"},
		{"https://kargo:" + leaktest.Secret + "@host/x.git", "REDACTED@host/x.git"},
		{"https://" + leaktest.Secret + "@host/x.git", "REDACTED@host/x.git"},
	} {
		_, err := gitrepo.Open(context.Background(), tc.url, gitrepo.Options{})
		if !errors.Is(err, gitrepo.ErrInvalidURL) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s) = %v, want ErrInvalidURL mentioning %q", tc.url, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "pa55") || strings.Contains(err.Error(), "token=abc") || leaktest.Find(err.Error(), "kargo", leaktest.Secret) != "") {
			t.Errorf("Open(%s) leaked a secret: %v", tc.url, err)
		}
	}
	if _, err := gitrepo.Open(context.Background(), "http://example.com/x.git", gitrepo.Options{AllowInsecureHTTP: true}); err != nil {
		t.Errorf("insecure http allowed explicitly: %v", err)
	}
	_, err := gitrepo.Open(context.Background(), "https://u:p@example.com/x.git", gitrepo.Options{Auth: &gitrepo.Auth{Username: "a", Password: "b"}})
	if !errors.Is(err, gitrepo.ErrInvalidURL) {
		t.Errorf("credentials twice: %v", err)
	}
	r, err := gitrepo.Open(context.Background(), "https://u:p@example.com/x.git/", gitrepo.Options{})
	if err != nil || r.URL() != "https://example.com/x.git" {
		t.Errorf("URL() = %v, %v", r, err)
	}
}

func TestPathsOutsideTheRepo(t *testing.T) {
	srv := gittest.New(t)
	url := srv.CreateRepo(t, "gitops.git")
	tip := gittest.CommitEntries(t, srv.Dir("gitops.git"), "main", "links",
		gittest.Entry{Path: "apps/ok/values.yaml", Data: "ok\n"},
		gittest.Entry{Path: "apps/x", Data: "/etc", Mode: gittest.ModeSymlink},
		gittest.Entry{Path: "apps/y", Data: "../..", Mode: gittest.ModeSymlink},
		gittest.Entry{Path: "apps/passwd", Data: "/etc/passwd", Mode: gittest.ModeSymlink},
	)
	r := open(t, url, gitrepo.Options{})
	ctx := context.Background()
	for _, p := range []string{"", "/etc/passwd", "../x", "apps/../../x", "apps/./ok/values.yaml", "apps//ok", ".git/config", "apps/x/passwd", "apps/y/etc/passwd", "apps/passwd", "apps/x"} {
		_, err := r.ReadFiles(ctx, h(tip), "apps/ok/values.yaml", p)
		if !errors.Is(err, gitrepo.ErrPathOutsideRepo) {
			t.Errorf("ReadFiles(%q) err = %v, want ErrPathOutsideRepo", p, err)
		}
		_, err = r.Commit(h(tip), gitrepo.Edit{Changes: []gitrepo.Change{{Path: p, Data: []byte("pwned")}}, Message: "m", Author: author})
		if !errors.Is(err, gitrepo.ErrPathOutsideRepo) {
			t.Errorf("Commit(%q) err = %v, want ErrPathOutsideRepo", p, err)
		}
	}
	files, err := r.ReadFiles(ctx, h(tip), "apps/ok/values.yaml")
	if err != nil || string(files["apps/ok/values.yaml"].Data) != "ok\n" {
		t.Errorf("normal read: %v, %v", files, err)
	}
	if _, err := r.ReadFiles(ctx, h(tip), "apps/ok"); !errors.Is(err, gitrepo.ErrNotRegularFile) {
		t.Errorf("reading a directory: %v", err)
	}
	if _, err := r.Commit(h(tip), gitrepo.Edit{Changes: []gitrepo.Change{{Path: "apps/ok/values.yaml/x", Data: []byte("x")}}, Message: "m", Author: author}); !errors.Is(err, gitrepo.ErrNotRegularFile) {
		t.Errorf("writing under a file: %v", err)
	}
}

func TestNewBranch(t *testing.T) {
	f := newFixture(t, 0)
	r := open(t, f.url, gitrepo.Options{})
	apply := func(context.Context, gitrepo.Snapshot) (*gitrepo.Edit, error) {
		return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "apps/a/values.yaml", Data: []byte("image: a:7\n")}}, Message: "review me", Author: author}, nil
	}
	res, err := r.Update(context.Background(), "main", gitrepo.UpdateOptions{NewBranch: "promo/a-7"}, apply)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Branch != "promo/a-7" || res.Tip.String() != f.tip {
		t.Errorf("result %+v", res)
	}
	if got := gittest.Git(t, f.dir, "rev-parse", "promo/a-7", "main"); got != res.Commit.String()+"\n"+f.tip {
		t.Errorf("branches:\n%s", got)
	}
	if got := gittest.Git(t, f.dir, "rev-parse", "promo/a-7^"); got != f.tip {
		t.Errorf("parent %s", got)
	}
	_, err = r.Update(context.Background(), "main", gitrepo.UpdateOptions{NewBranch: "promo/a-7"}, func(ctx context.Context, s gitrepo.Snapshot) (*gitrepo.Edit, error) {
		return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "other", Data: []byte("x")}}, Message: "again", Author: author}, nil
	})
	if !errors.Is(err, gitrepo.ErrBranchExists) || !errors.Is(err, gitrepo.ErrStale) {
		t.Errorf("second create: %v", err)
	}
}

func TestMissingThings(t *testing.T) {
	f := newFixture(t, 0)
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	missing := h("1a2b3c4d5e6f1a2b3c4d5e6f1a2b3c4d5e6f1a2b")
	err := r.Fetch(ctx, h(f.tip), missing)
	if !errors.Is(err, gitrepo.ErrCommitNotFound) {
		t.Fatalf("Fetch err = %v, want ErrCommitNotFound", err)
	}
	if want := "fetching 1a2b3c4"; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), f.url) {
		t.Errorf("err %q does not name the commit and the URL", err)
	}
	if _, err := r.ReadFiles(ctx, missing, "a"); !errors.Is(err, gitrepo.ErrCommitNotFound) {
		t.Errorf("ReadFiles err = %v", err)
	}
	if _, err := r.Commit(missing, gitrepo.Edit{Changes: []gitrepo.Change{{Path: "a", Data: nil}}, Message: "m", Author: author}); !errors.Is(err, gitrepo.ErrCommitNotFound) {
		t.Errorf("Commit err = %v", err)
	}
	if _, err := r.Tip(ctx, "nope"); !errors.Is(err, gitrepo.ErrBranchNotFound) {
		t.Errorf("Tip err = %v", err)
	}
	if _, err := r.Update(ctx, "nope", gitrepo.UpdateOptions{}, func(context.Context, gitrepo.Snapshot) (*gitrepo.Edit, error) { return nil, nil }); !errors.Is(err, gitrepo.ErrBranchNotFound) {
		t.Errorf("Update err = %v", err)
	}
	r2 := open(t, f.srv.URL+"/nothing-here.git", gitrepo.Options{})
	if _, err := r2.Tip(ctx, "main"); !errors.Is(err, gitrepo.ErrRepositoryNotFound) {
		t.Errorf("Tip of a missing repo: %v", err)
	}
	empty := open(t, f.srv.CreateRepo(t, "empty.git"), gitrepo.Options{})
	if _, err := empty.Tip(ctx, "main"); !errors.Is(err, gitrepo.ErrBranchNotFound) {
		t.Errorf("Tip of an empty repo: %v", err)
	}
	if err := empty.Fetch(ctx, h(f.tip)); !errors.Is(err, gitrepo.ErrCommitNotFound) {
		t.Errorf("Fetch from an empty repo: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := open(t, f.url, gitrepo.Options{}).Fetch(cancelled, h(f.tip)); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch with a cancelled context: %v", err)
	}
}

func TestPushWithoutReportIsNotSuccess(t *testing.T) {
	truncate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
				next.ServeHTTP(discardBody{w}, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	f := newFixture(t, 0, gittest.WithMiddleware(truncate))
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	if err := r.Fetch(ctx, h(f.tip)); err != nil {
		t.Fatal(err)
	}
	c, err := r.Commit(h(f.tip), gitrepo.Edit{Changes: []gitrepo.Change{{Path: "x", Data: []byte("x")}}, Message: "m", Author: author})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Push(ctx, "main", h(f.tip), c)
	if !errors.Is(err, gitrepo.ErrPushRejected) || errors.Is(err, gitrepo.ErrStale) {
		t.Errorf("Push err = %v, want ErrPushRejected", err)
	}
}

// discardBody answers with headers but no body.
type discardBody struct{ http.ResponseWriter }

func (d discardBody) Write(p []byte) (int, error) { return len(p), nil }

func TestPushStaleOld(t *testing.T) {
	f := newFixture(t, 0)
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	if err := r.Fetch(ctx, h(f.prev)); err != nil {
		t.Fatal(err)
	}
	c, err := r.Commit(h(f.prev), gitrepo.Edit{Changes: []gitrepo.Change{{Path: "x", Data: []byte("x")}}, Message: "m", Author: author})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, "main", h(f.prev), c); !errors.Is(err, gitrepo.ErrStale) {
		t.Errorf("Push with a stale old value: %v", err)
	}
	if got := gittest.Git(t, f.dir, "rev-parse", "main"); got != f.tip {
		t.Errorf("main moved to %s", got)
	}
}

// TestPushRaceAfterAdvertisement moves the branch after the client read the
// receive-pack advertisement, so only the server's report says it lost.
func TestPushRaceAfterAdvertisement(t *testing.T) {
	var f *fixture
	var once sync.Once
	var competing string
	moveFirst := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
				once.Do(func() {
					competing = gittest.CommitFiles(t, f.dir, "main", map[string]string{"other.txt": "x\n"}, "competing")
				})
			}
			next.ServeHTTP(w, r)
		})
	}
	f = newFixture(t, 0, gittest.WithMiddleware(moveFirst))
	r := open(t, f.url, gitrepo.Options{})
	ctx := context.Background()
	if err := r.Fetch(ctx, h(f.tip)); err != nil {
		t.Fatal(err)
	}
	c, err := r.Commit(h(f.tip), gitrepo.Edit{Changes: []gitrepo.Change{{Path: "mine.txt", Data: []byte("mine\n")}}, Message: "mine", Author: author})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Push(ctx, "main", h(f.tip), c)
	if !errors.Is(err, gitrepo.ErrStale) {
		t.Fatalf("Push err = %v, want ErrStale", err)
	}
	t.Logf("race reported as: %v", err)
	if got := gittest.Git(t, f.dir, "rev-parse", "main"); got != competing {
		t.Errorf("main = %s, want the competing %s", got, competing)
	}

	// Update recovers: the rebuilt commit (same blob as the lost attempt)
	// must carry that blob again, since the server never got it.
	res, err := r.Update(ctx, "main", gitrepo.UpdateOptions{BaseDelay: time.Millisecond}, func(context.Context, gitrepo.Snapshot) (*gitrepo.Edit, error) {
		return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "mine.txt", Data: []byte("mine\n")}}, Message: "mine", Author: author}, nil
	})
	if err != nil || !res.Changed || res.Tip.String() != competing {
		t.Fatalf("Update: %+v, %v", res, err)
	}
	if got := gittest.Git(t, f.dir, "show", "main:mine.txt"); got != "mine" {
		t.Errorf("mine.txt = %q", got)
	}
	gittest.Git(t, f.dir, "fsck", "--strict")
}

func TestForbiddenIsErrAuth(t *testing.T) {
	forbid := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "forbidden: token lacks scope", http.StatusForbidden)
		})
	}
	srv := gittest.New(t, gittest.WithMiddleware(forbid))
	url := srv.CreateRepo(t, "gitops.git")
	r := open(t, url, gitrepo.Options{Auth: &gitrepo.Auth{Username: "x", Password: "tok3n-secret"}})
	_, err := r.Tip(context.Background(), "main")
	if !errors.Is(err, gitrepo.ErrAuth) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
	checkNoSecret(t, "tok3n-secret", err)
	_, err = gitrepo.ProbePath(context.Background(), url, h("0123456789abcdef0123456789abcdef01234567"), "x", gitrepo.Options{})
	if !errors.Is(err, gitrepo.ErrAuth) {
		t.Errorf("ProbePath err = %v, want ErrAuth", err)
	}
}

// TestRefetchSendsOnlyChangedTrees: after the tip moves, fetching the new tip
// costs the changed trees only, since the old tip is offered as "have".
func TestRefetchSendsOnlyChangedTrees(t *testing.T) {
	srv := gittest.New(t)
	url := srv.CreateRepo(t, "gitops.git")
	dir := srv.Dir("gitops.git")
	var entries []gittest.Entry
	for i := range 300 {
		entries = append(entries, gittest.Entry{Path: fmt.Sprintf("apps/app%03d/deployments/stage%d/values.yaml", i, i%3), Data: fmt.Sprintf("image: app%d:1\n", i)})
	}
	first := gittest.CommitEntries(t, dir, "main", "many trees", entries...)
	r := open(t, url, gitrepo.Options{})
	ctx := context.Background()
	if err := r.Fetch(ctx, h(first)); err != nil {
		t.Fatal(err)
	}
	full := r.Stats().BytesReceived
	second := gittest.CommitFiles(t, dir, "main", map[string]string{"apps/app007/deployments/stage1/values.yaml": "image: app7:2\n"}, "one change")
	before := r.Stats()
	if err := r.Fetch(ctx, h(second)); err != nil {
		t.Fatal(err)
	}
	delta := r.Stats().BytesReceived - before.BytesReceived
	t.Logf("first fetch %d bytes, refetch after one change %d bytes", full, delta)
	if r.Stats().Requests-before.Requests != 1 || delta*10 > full {
		t.Errorf("refetch: %d requests, %d bytes (first fetch %d bytes)", r.Stats().Requests-before.Requests, delta, full)
	}
	files, err := r.ReadFiles(ctx, h(second), "apps/app007/deployments/stage1/values.yaml", "apps/app008/deployments/stage2/values.yaml")
	if err != nil || string(files["apps/app007/deployments/stage1/values.yaml"].Data) != "image: app7:2\n" || string(files["apps/app008/deployments/stage2/values.yaml"].Data) != "image: app8:1\n" {
		t.Errorf("ReadFiles: %v, %v", files, err)
	}
	c, err := r.Commit(h(second), gitrepo.Edit{Changes: []gitrepo.Change{{Path: "apps/app001/deployments/stage1/values.yaml", Data: []byte("image: app1:2\n")}}, Message: "m", Author: author})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, "main", h(second), c); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, dir, "fsck", "--strict")
	if got := gittest.Git(t, dir, "diff", "--name-only", second, "main"); got != "apps/app001/deployments/stage1/values.yaml" {
		t.Errorf("diff: %s", got)
	}
}
