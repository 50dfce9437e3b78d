package step

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/argo-refs/argo-refs/images"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/regtest"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// hostileRun runs the step with debug logging captured, asserts the secret
// shows nowhere, and asserts the GitOps branch did not move.
func (f *fixture) hostileRun(t *testing.T, sc Context, config []byte) Result {
	t.Helper()
	before := f.tip(t)
	res := Run(context.Background(), KindPromote, sc, config, Options{
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	f.assertNoLeak(t, res)
	if res.Err != nil {
		// %+v and %#v walk whatever the error holds.
		for _, s := range []string{strings.ReplaceAll(strings.ReplaceAll(errorDump(res.Err), "\n", " "), "\t", " ")} {
			if leaktest.Find(s, gitUser, secret) != "" {
				t.Fatalf("the credential is inside the error value: %s", s)
			}
		}
	}
	if res.Status != kargo.StatusSucceeded {
		if after := f.tip(t); after != before {
			t.Fatalf("a failed step moved main from %s to %s", before, after)
		}
	}
	return res
}

func errorDump(err error) string {
	var sb strings.Builder
	for e := err; e != nil; e = errors.Unwrap(e) {
		sb.WriteString(e.Error())
		sb.WriteString(" | ")
	}
	return sb.String()
}

func wantFailed(t *testing.T, res Result, target error, mention string) {
	t.Helper()
	wantStatus(t, res, kargo.StatusFailed, true)
	if target != nil && !errors.Is(res.Err, target) {
		t.Fatalf("error %v, want %v", res.Err, target)
	}
	if mention != "" && !strings.Contains(res.Message, mention) {
		t.Fatalf("message %q does not mention %q", res.Message, mention)
	}
}

func TestHostileConfigIsRefusedBeforeAnyRequest(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	for _, tc := range []struct {
		name    string
		extra   map[string]any
		mention string
	}{
		{"unknown key", map[string]any{"repoUrl": "x"}, "/repoUrl"},
		{"unknown key holding the secret", map[string]any{"credentials": map[string]any{"git": map[string]any{"username": gitUser, "password": secret, secret: secret}}}, "/credentials/git"},
		{"wrong type", map[string]any{"timeout": 30}, "/timeout"},
		{"wrong type of the secret", map[string]any{"credentials": map[string]any{"registry": map[string]any{"username": regUser, "password": []string{secret}}}}, "/credentials/registry/password"},
		{"dot-dot path", map[string]any{"targets": []any{map[string]any{"deploymentFile": map[string]any{"path": "apps/../../etc/passwd"}}}}, "/targets/0/deploymentFile/path"},
		{"absolute path", map[string]any{"targets": []any{map[string]any{"application": map[string]any{"path": "/etc/passwd"}}}}, "/targets/0/application/path"},
		{"dot-dot values file", map[string]any{"targets": []any{map[string]any{"deploymentFile": map[string]any{"valuesFile": "../values.yaml"}}}}, "valuesFile"},
		{"dot-dot build-lock dir", map[string]any{"buildLockDir": "warehouses/../../x"}, "/buildLockDir"},
		{"backslash path", map[string]any{"targets": []any{map[string]any{"kustomization": map[string]any{"path": `apps\..\..\x.yaml`}}}}, "/targets/0/kustomization/path"},
		{"plain http GitOps repo", map[string]any{"repoURL": "http://git.example.com/gitops.git"}, "/repoURL"},
		{"credentials in the URL", map[string]any{"repoURL": "https://kargo:" + secret + "@git.example.com/gitops.git"}, "/repoURL"},
		{"a token as the URL's user", map[string]any{"repoURL": "https://" + secret + "@git.example.com/gitops.git"}, "/repoURL"},
		{"credentials in the source repo URL", map[string]any{"packaging": map[string]any{"sourceRepo": "https://kargo:" + secret + "@git.example.com/source.git"}}, "/packaging/sourceRepo"},
		{"plain http source expectation", map[string]any{"packaging": map[string]any{"sourceRepo": "http://git.example.com/source.git"}}, "/packaging/sourceRepo"},
		{"target inside buildLockDir", map[string]any{"targets": []any{map[string]any{"deploymentFile": map[string]any{"path": lockDir + "/current.yaml", "key": "gitCommit"}}}}, "buildLockDir"},
		{"values file inside buildLockDir", map[string]any{"targets": []any{map[string]any{"deploymentFile": map[string]any{"valuesFile": lockDir + "/x.yaml"}}}}, "/targets/0/deploymentFile/valuesFile"},
		{"TLS skip host is a URL", map[string]any{"insecureSkipTLSVerifyHosts": []string{"https://git.example.com/"}}, "/insecureSkipTLSVerifyHosts/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.git.ResetStats()
			res := f.hostileRun(t, f.context("staging"), f.config(t, tc.extra))
			wantFailed(t, res, nil, tc.mention)
			var ce *ConfigError
			if !errors.As(res.Err, &ce) {
				t.Fatalf("error %T %v, want a *ConfigError", res.Err, res.Err)
			}
			if n := f.git.Stats().Requests; n != 0 {
				t.Fatalf("a bad config made %d Git requests", n)
			}
		})
	}
}

// TestFreightCommitURLWithCredentialsIsNotPrinted: a Freight commit whose
// repoURL carries a password (with '/', '?', '#', '@' in it, which ended the
// host part of every redaction helper early) is listed when the step finds
// no commit of its repository, without the password.
func TestFreightCommitURLWithCredentialsIsNotPrinted(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	sc := f.context("staging")
	ref := sc.Freight.Items[whKey]
	ref.Commits = []kargo.GitCommit{{RepoURL: "https://kargo:" + secret + "@git.example.com/other.git", ID: f.freight, Branch: "main"}}
	sc.Freight.Items[whKey] = ref
	res := f.hostileRun(t, sc, f.config(t, nil))
	wantFailed(t, res, ErrNoFreightCommit, "git.example.com/other.git")
}

// commitRecord commits current.yaml and its historical twin with the given
// bytes on main and makes that commit the Freight's.
func (f *fixture) commitRecord(t *testing.T, current, historical string) {
	t.Helper()
	files := map[string]string{lockDir + "/current.yaml": current}
	if historical != "" {
		files[lockDir+"/"+warehouse.HistoricalName(f.srcCommit)] = historical
	}
	f.freight = gittest.CommitFiles(t, f.gitopsDir, "main", files, "hostile record")
}

func (f *fixture) goodRecord(t *testing.T) string {
	return gittest.Git(t, f.gitopsDir, "show", "main:"+lockDir+"/current.yaml") + "\n"
}

func TestHostileRecordsInGitAreTerminal(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	good := f.goodRecord(t)
	huge := good + "# " + strings.Repeat("x", warehouse.MaxRecordSize+1-len(good)-3) + "\n"
	if len(huge) != warehouse.MaxRecordSize+1 {
		t.Fatalf("huge record is %d bytes", len(huge))
	}
	bomb := "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n" +
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n" + good
	crlf := strings.ReplaceAll(good, "\n", "\r\n")
	for _, tc := range []struct {
		name, current, historical, mention string
	}{
		{"1 MiB + 1 byte", huge, huge, "limit"},
		{"byte order mark", "\ufeff" + good, "\ufeff" + good, "byte order mark"},
		{"CRLF line ends", crlf, crlf, ""},
		{"alias bomb", bomb, bomb, "alias"},
		{"truncated", good[:len(good)/2], good[:len(good)/2], ""},
		{"duplicate key", good + "gitCommit: " + strings.Repeat("0", 40) + "\n", "", ""},
		{"wrong type", strings.Replace(good, "gitCommit: ", "gitCommit: [", 1), "", ""},
		{"not YAML", "\x00\x01\x02", "", ""},
		{"twin differs by one byte", good, strings.Replace(good, "kind: ", "kind:  ", 1), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.commitRecord(t, tc.current, tc.historical)
			res := f.hostileRun(t, f.context("staging"), f.config(t, nil))
			wantFailed(t, res, warehouse.ErrInvalidRecord, tc.mention)
			if len(res.Message) > 2048 {
				t.Fatalf("the message is %d bytes; a person reads it in a UI", len(res.Message))
			}
		})
	}
}

func TestOddImageRefsInTheRecordAreTerminal(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	good := f.goodRecord(t)
	for _, ref := range []string{
		f.reg.Host + "/code dot org:git-" + f.srcCommit,
		f.reg.Host + "/Code-Dot-Org/code-dot-org:git-" + f.srcCommit,
		f.reg.Host + "/" + imageRepo + "@" + f.digest,
		"user@" + f.reg.Host + "/" + imageRepo + ":git-" + f.srcCommit,
		f.reg.Host + "/" + imageRepo + ":git-" + f.srcCommit + "@sha256:" + strings.Repeat("0", 64),
		f.reg.Host + "/cöde-dot-org:git-" + f.srcCommit,
		f.reg.Host + "/" + strings.Repeat("a/", 2000) + "x:git-" + f.srcCommit,
		f.reg.Host + "/" + imageRepo + ":git-" + f.srcCommit + "\u202e",
		"--help",
	} {
		t.Run(ref[:min(len(ref), 60)], func(t *testing.T) {
			b, err := json.Marshal(ref)
			if err != nil {
				t.Fatal(err)
			}
			rec := strings.Replace(good, "ref: "+f.imageRef, "ref: "+string(b), 1)
			if rec == good {
				t.Fatalf("the record has no line %q:\n%s", "ref: "+f.imageRef, good)
			}
			f.reg.ResetCounters()
			f.commitRecord(t, rec, rec)
			res := f.hostileRun(t, f.context("staging"), f.config(t, nil))
			wantFailed(t, res, nil, "")
			// The record parser or the reference parser refuses it; the
			// registry never sees it.
			if !errors.Is(res.Err, warehouse.ErrInvalidRecord) && !errors.Is(res.Err, images.ErrInvalidReference) {
				t.Fatalf("error %v, want an invalid record or image reference", res.Err)
			}
			if n := f.reg.Requests(); n != 0 {
				t.Fatalf("an invalid image ref made %d registry requests", n)
			}
		})
	}
}

func TestPlainHTTPSourceRepoInTheRecordIsTerminal(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	good := f.goodRecord(t)
	rec := strings.Replace(good, "sourceRepo: "+f.sourceURL, "sourceRepo: http://git.example.com/source.git", 1)
	if rec == good {
		t.Fatal("the record has no sourceRepo line to replace")
	}
	f.commitRecord(t, rec, rec)
	res := f.hostileRun(t, f.context("staging"), f.config(t, nil))
	wantFailed(t, res, nil, "insecureHTTPHosts")
}

func TestTargetsThroughSymlinksAreTerminal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []gittest.Entry
		targets []any
	}{
		{
			name:    "directory symlink to /etc",
			entries: []gittest.Entry{{Path: "apps/x", Data: "/etc", Mode: gittest.ModeSymlink}},
			targets: []any{map[string]any{"deploymentFile": map[string]any{"path": "apps/x/passwd", "setImage": false}}},
		},
		{
			name: "stage directory symlink leaving the repo",
			entries: []gittest.Entry{
				{Path: "apps/codeai/deployments/staging", Delete: true},
				{Path: "apps/codeai/deployments/staging", Data: "../../../../etc", Mode: gittest.ModeSymlink},
			},
			targets: []any{map[string]any{"deploymentFile": map[string]any{}}},
		},
		{
			name: "values file symlink",
			entries: []gittest.Entry{
				{Path: "apps/codeai/deployments/staging/values.yaml", Delete: true},
				{Path: "apps/codeai/deployments/staging/values.yaml", Data: "/etc/passwd", Mode: gittest.ModeSymlink},
			},
			targets: []any{map[string]any{"deploymentFile": map[string]any{}}},
		},
		{
			name:    "symlink inside the repo",
			entries: []gittest.Entry{{Path: "apps/codeai/deployments/qa", Data: "staging", Mode: gittest.ModeSymlink}},
			targets: []any{map[string]any{"kustomization": map[string]any{"path": "apps/codeai/deployments/qa/deployment.yaml"}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpt{})
			gittest.CommitEntries(t, f.gitopsDir, "main", "symlink", tc.entries...)
			res := f.hostileRun(t, f.context("staging"), f.config(t, map[string]any{"targets": tc.targets, "allowTargetsOutsideStage": true}))
			wantFailed(t, res, gitrepo.ErrPathOutsideRepo, "symbolic link")
		})
	}
}

// tlsGitOps serves the fixture's Git server over HTTPS with a self-signed
// certificate and returns the GitOps URL through it.
func (f *fixture) tlsGitOps(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(f.gitopsURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host}))
	proxy.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	proxy.StartTLS()
	t.Cleanup(proxy.Close)
	_, port, err := net.SplitHostPort(proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return "https://127.0.0.1:" + port + u.Path
}

func TestTLSVerifiedUnlessTheHostIsListed(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	tlsURL := f.tlsGitOps(t)
	sc := f.context("staging")
	item := sc.Freight.Items[whKey]
	item.Commits[0].RepoURL = tlsURL
	for _, tc := range []struct {
		name string
		skip []string
		ok   bool
	}{
		{name: "self-signed, nothing listed"},
		{name: "another host listed", skip: []string{"localhost", "git.example.com"}},
		{name: "another port listed", skip: []string{"127.0.0.1:1"}},
		{name: "listed", skip: []string{"127.0.0.1"}, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The source repository is on another port, so it gets no
			// credentials; its check is not what this test is about.
			extra := map[string]any{"repoURL": tlsURL, "checks": map[string]any{"sourceCommit": false}}
			if tc.skip != nil {
				extra["insecureSkipTLSVerifyHosts"] = tc.skip
			}
			res := f.hostileRun(t, sc, f.config(t, extra))
			if tc.ok {
				wantStatus(t, res, kargo.StatusSucceeded, false)
				if !strings.Contains(f.show(t, "main", "apps/codeai/deployments/staging/deployment.yaml"), f.srcCommit) {
					t.Fatal("the promotion did not land")
				}
				return
			}
			wantFailed(t, res, nil, "insecureSkipTLSVerifyHosts")
			var terr *netpolicy.TLSError
			if !errors.As(res.Err, &terr) {
				t.Fatalf("error %v, want a *netpolicy.TLSError", res.Err)
			}
		})
	}
}

// TestARecordNamingAnotherRegistryGetsNoCredentials: anyone who can commit a
// record could name an image on a registry of theirs and harvest the
// registry password the step would send there. The credentials are for
// their own registry only: the other gets none (the check then fails on
// its own terms). With imageRepository pinned the record is refused before
// any registry request.
func TestARecordNamingAnotherRegistryGetsNoCredentials(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	var withCredentials atomic.Int64
	harvester := regtest.New(t, regtest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if a := r.Header.Get("Authorization"); a != "" && !strings.HasPrefix(a, "Bearer ") {
				withCredentials.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}))
	tag := imageRepo + ":git-" + f.srcCommit
	digest := harvester.PushImage(t, tag, nil)
	good := f.goodRecord(t)
	rec := strings.Replace(good, "ref: "+f.imageRef, "ref: "+harvester.Ref(tag), 1)
	rec = strings.Replace(rec, "digest: "+f.digest, "digest: "+digest, 1)
	if rec == good {
		t.Fatal("the record was not rewritten")
	}
	f.commitRecord(t, rec, rec)

	t.Run("credentials scoped to their registry", func(t *testing.T) {
		res := f.hostileRun(t, f.context("staging"), f.config(t, nil))
		if n := withCredentials.Load(); n != 0 {
			t.Fatalf("the record's registry got our credentials %d times (status %s)", n, res.Status)
		}
	})
	t.Run("imageRepository pinned", func(t *testing.T) {
		harvester.ResetCounters()
		res := f.hostileRun(t, f.context("staging"), f.config(t, map[string]any{"imageRepository": f.registryHost() + "/" + imageRepo}))
		wantFailed(t, res, warehouse.ErrInvalidRecord, "imageRepository")
		if n := harvester.Requests(); n != 0 {
			t.Fatalf("the record's registry was asked %d times", n)
		}
	})
	t.Run("credentials that name no registry", func(t *testing.T) {
		cfg := f.config(t, map[string]any{"credentials": map[string]any{
			"git":      map[string]any{"username": gitUser, "password": secret},
			"registry": map[string]any{"username": regUser, "password": secret},
		}})
		res := f.hostileRun(t, f.context("staging"), cfg)
		wantFailed(t, res, nil, "/credentials/registry")
		var ce *ConfigError
		if !errors.As(res.Err, &ce) {
			t.Fatalf("error %v, want a config error", res.Err)
		}
	})
}

// TestADirectoryWhereAFileShouldBeIsTerminal: a directory where the record
// or a target file should be cannot become a file by retrying: Failed,
// terminal (it was Errored, retried for ever).
func TestADirectoryWhereAFileShouldBeIsTerminal(t *testing.T) {
	for name, path := range map[string]string{
		"record":      lockDir + "/current.yaml/x",
		"target file": "apps/codeai/deployments/staging/values.yaml/x",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, fixtureOpt{})
			if name == "target file" {
				f.freight = gittest.CommitEntries(t, f.gitopsDir, "main", "a directory for a file",
					gittest.Entry{Path: "apps/codeai/deployments/staging/values.yaml", Delete: true},
					gittest.Entry{Path: path, Data: "x\n"})
			} else {
				f.freight = gittest.CommitEntries(t, f.gitopsDir, "main", "a directory for a file",
					gittest.Entry{Path: lockDir + "/current.yaml", Delete: true},
					gittest.Entry{Path: path, Data: "x\n"})
			}
			res := f.hostileRun(t, f.context("staging"), f.config(t, nil))
			wantFailed(t, res, gitrepo.ErrNotRegularFile, "")
		})
	}
}

// TestOversizedFilesAreRefusedBeforeInflating: a 50 MB record (a few
// hundred KB on the wire) or a 10 MB values.yaml is refused from the size
// its pack entry declares, before it is inflated: what the step allocates
// stays far below the file (it peaked at 180 MiB for 50 MB before).
func TestOversizedFilesAreRefusedBeforeInflating(t *testing.T) {
	for name, tc := range map[string]struct {
		path string
		size int
	}{
		"50 MB record":      {lockDir + "/current.yaml", 50 << 20},
		"10 MB values file": {"apps/codeai/deployments/staging/values.yaml", 10 << 20},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, fixtureOpt{})
			big := "image: x\n# " + strings.Repeat("0123456789abcdef", tc.size/16) + "\n"
			f.freight = gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{tc.path: big}, "a huge file")
			big = ""
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res := f.hostileRun(t, f.context("staging"), f.config(t, nil))
			runtime.ReadMemStats(&after)
			wantFailed(t, res, gitrepo.ErrFileTooLarge, "limit")
			if !strings.Contains(res.Message, tc.path) {
				t.Errorf("message %q does not name %s", res.Message, tc.path)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("the step allocated %d MiB for a %d MiB file", alloc>>20, tc.size>>20)
			}

			// Eight at once (serve's concurrent requests for the same
			// Freight) do not multiply it by the file.
			runtime.GC()
			runtime.ReadMemStats(&before)
			var wg sync.WaitGroup
			results := make([]Result, 8)
			cfg, sc := f.config(t, nil), f.context("staging")
			for i := range results {
				wg.Go(func() {
					results[i] = Run(context.Background(), KindPromote, sc, cfg, Options{})
				})
			}
			wg.Wait()
			runtime.ReadMemStats(&after)
			for _, r := range results {
				if !errors.Is(r.Err, gitrepo.ErrFileTooLarge) {
					t.Fatalf("a concurrent run: %v", r.Err)
				}
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("8 concurrent runs allocated %d MiB for a %d MiB file", alloc>>20, tc.size>>20)
			}
		})
	}
}
