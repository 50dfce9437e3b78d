package step

import (
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gitopstest"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/signtest"
	"github.com/argo-refs/argo-refs/step/history"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// gitTrailers is git's own reading of a commit's trailers.
func gitTrailers(t *testing.T, dir, commit string) string {
	t.Helper()
	msg := gittest.Git(t, dir, "log", "-1", "--format=%B", commit)
	cmd := exec.Command("git", "interpret-trailers", "--parse")
	cmd.Stdin = strings.NewReader(msg)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestPromotionCommitTrailers: a promotion commit carries the audit
// trailers, as git interpret-trailers reads them; the next promotion of
// the stage names the commit it moved from.
func TestPromotionCommitTrailers(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	sc := f.context("staging")
	sc.PromotionActor = "admin@example.com"
	res := f.runner.Run(t.Context(), KindPromote, sc, f.config(t, nil), Options{})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	commit := res.Output[OutputGitopsCommit].(string)
	want := "Kargo-Project: kargo-project-codeai\n" +
		"Kargo-Stage: staging\n" +
		"Kargo-Promotion: staging-1\n" +
		"Kargo-Freight: f1\n" +
		"Promoted-By: admin@example.com\n" +
		"Source-Commit: " + f.srcCommit + "\n" +
		// The stage's file held "staging", not a commit: no previous one.
		"Image: " + f.imageRef + "@" + f.digest + "\n" +
		"Build-Lock: " + f.freight + ":warehouses/codeai/builds/git-" + f.srcCommit + ".yaml\n"
	if got := gitTrailers(t, f.gitopsDir, commit); got != want {
		t.Errorf("trailers:\n%s\nwant:\n%s", got, want)
	}
	if subject := gittest.Git(t, f.gitopsDir, "log", "-1", "--format=%s", commit); subject != "Promote staging to git-"+f.srcCommit {
		t.Errorf("subject = %q", subject)
	}

	// A second release: its commit names the first as the previous one.
	second := f.publishNext(t)
	sc.Freight.Items[whKey] = freightAt(f, second.freight)
	res = f.runner.Run(t.Context(), KindPromote, sc, f.config(t, nil), Options{})
	wantStatus(t, res, kargo.StatusSucceeded, false)
	got := gitTrailers(t, f.gitopsDir, res.Output[OutputGitopsCommit].(string))
	for _, line := range []string{"Source-Commit: " + second.src, "Previous-Source-Commit: " + f.srcCommit} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("trailers lack %q:\n%s", line, got)
		}
	}
}

// TestSignedPromotionAfterARace: with author.signingKey, the promotion
// commit is signed (OpenPGP and SSH), as git verify-commit judges it, also
// when a push race made the step rebuild it on a new tip.
func TestSignedPromotionAfterARace(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(t *testing.T) signtest.Key
	}{
		{"openpgp", func(t *testing.T) signtest.Key { return signtest.OpenPGP(t, "Kargo", "kargo@example.com") }},
		{"ssh", func(t *testing.T) signtest.Key { return signtest.SSH(t, "kargo@example.com") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f *fixture
			var raced atomic.Bool
			f = newFixture(t, fixtureOpt{gitMW: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/gitops.git/git-receive-pack") && raced.CompareAndSwap(false, true) {
						gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{"README.md": "racing commit\n"}, "race")
					}
					next.ServeHTTP(w, r)
				})
			}})
			key := tc.key(t)
			res := f.run(t, KindPromote, "staging", map[string]any{"author": map[string]any{"name": "Kargo", "email": key.Email, "signingKey": key.Private}})
			wantStatus(t, res, kargo.StatusSucceeded, false)
			if res.Output[OutputAttempts] != 2 {
				t.Fatalf("attempts = %v, want 2 (one race)", res.Output[OutputAttempts])
			}
			commit := res.Output[OutputGitopsCommit].(string)
			if out, err := signtest.VerifyCommit(t, f.gitopsDir, commit, key); err != nil {
				t.Errorf("git verify-commit %s: %v\n%s", commit, err, out)
			}
			for _, where := range []string{res.Message, f.logs.String(), gittest.Git(t, f.gitopsDir, "log", "--format=%B", "main")} {
				if strings.Contains(where, strings.Split(strings.TrimSpace(key.Private), "\n")[2]) {
					t.Errorf("the signing key shows: %s", where)
				}
			}
		})
	}
}

// TestBadSigningKeyIsAConfigError: a key that cannot sign fails the step
// before anything is fetched or pushed, without quoting the key.
func TestBadSigningKeyIsAConfigError(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	tip := f.tip(t)
	key := signtest.SSH(t, "kargo@example.com")
	pub := strings.Replace(key.Private, "PRIVATE", "PUBLIC", -1)
	res := f.run(t, KindPromote, "staging", map[string]any{"author": map[string]any{"signingKey": pub}})
	wantStatus(t, res, kargo.StatusFailed, true)
	if !strings.Contains(res.Message, "/author/signingKey") {
		t.Errorf("message %q does not name author.signingKey", res.Message)
	}
	if f.tip(t) != tip {
		t.Error("pushed with a bad signing key")
	}
}

// release is one more published build in the fixture.
type release struct {
	src, imageRef, digest, freight string
}

// publishNext builds a new source commit, pushes its image and publishes
// its record (helm packaging), as CI would for the next build.
func (f *fixture) publishNext(t *testing.T) release {
	t.Helper()
	return f.publishNextAs(t, warehouse.PackagingHelm, "k8s/helm")
}

// publishNextAs is publishNext with the record's packaging.
func (f *fixture) publishNextAs(t *testing.T, kind, sourcePath string) release {
	t.Helper()
	var r release
	r.src = gittest.CommitFiles(t, f.git.Dir("source.git"), "main", map[string]string{"BUILD": f.tip(t) + "\n"}, "next")
	r.imageRef = f.reg.Ref(imageRepo + ":git-" + r.src)
	r.digest = f.reg.PushImage(t, imageRepo+":git-"+r.src, map[string]string{"org.opencontainers.image.revision": r.src})
	rec, err := warehouse.New(r.src, r.imageRef, r.digest, kind, f.sourceURL, sourcePath, time.Now().UTC().Truncate(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r.freight = gitopstest.PublishRecord(t, f.gitopsDir, "main", lockDir, rec)
	return r
}

// freightAt is the fixture's Warehouse Freight for a GitOps commit.
func freightAt(f *fixture, commit string) kargo.FreightReference {
	return kargo.FreightReference{Name: "f-" + commit[:7], Origin: kargo.FreightOrigin{Kind: "Warehouse", Name: "codeai-builds"},
		Commits: []kargo.GitCommit{{RepoURL: f.gitopsURL, ID: commit, Branch: "main"}}}
}

// TestHistoryReadsPromotionsBack: several stages, a publish in between and
// a rollback; history reads each stage's promotions back from the trailers,
// oldest first, in one upload-pack request that brings no blob.
func TestHistoryReadsPromotionsBack(t *testing.T) {
	f := newFixture(t, fixtureOpt{})
	first := release{src: f.srcCommit, imageRef: f.imageRef, digest: f.digest, freight: f.freight}
	promote := func(stage string, r release, actor string) string {
		t.Helper()
		sc := f.context(stage)
		sc.PromotionActor = actor
		sc.Promotion = stage + "-" + r.src[:7]
		sc.Freight.Items[whKey] = freightAt(f, r.freight)
		res := f.runner.Run(t.Context(), KindPromote, sc, f.config(t, nil), Options{})
		wantStatus(t, res, kargo.StatusSucceeded, false)
		return res.Output[OutputGitopsCommit].(string)
	}
	c1 := promote("staging", first, "alice")
	second := f.publishNext(t)
	c2 := promote("staging", second, "bob")
	c3 := promote("production", first, "carol")
	c4 := promote("staging", first, "alice") // rollback
	gittest.CommitFiles(t, f.gitopsDir, "main", map[string]string{"README.md": "by hand\n"}, "a person's commit")

	remote, err := gitrepo.Open(t.Context(), f.gitopsURL, gitrepo.Options{Auth: &gitrepo.Auth{Username: gitUser, Password: secret}})
	if err != nil {
		t.Fatal(err)
	}
	f.git.ResetStats()
	stages, err := history.Read(t.Context(), remote, "main", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		commit, from, to, by, digest string
		rollback                     bool
	}
	got := map[string][]row{}
	for _, s := range stages {
		for _, p := range s.Promotions {
			got[s.Name] = append(got[s.Name], row{p.Commit, p.From, p.To, p.By, p.Digest, p.Rollback})
		}
	}
	want := map[string][]row{
		"staging": {
			{c1, "", first.src, "alice", first.digest, false},
			{c2, first.src, second.src, "bob", second.digest, false},
			{c4, second.src, first.src, "alice", first.digest, true},
		},
		"production": {{c3, "", first.src, "carol", first.digest, false}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("history:\n%v\nwant\n%v", got, want)
	}
	if len(stages) != 2 || stages[0].Name != "production" {
		t.Errorf("stages not sorted by name: %v", stages)
	}
	st := f.git.Stats()
	if up := st.Service(gittest.ServiceUploadPack); up.Requests != 1 {
		t.Errorf("%d upload-pack requests, want 1", up.Requests)
	}
	// Commits only: far less than the blobs of the records and stage files.
	if st.BytesSent > 16<<10 {
		t.Errorf("history fetched %d bytes; commits alone are a few KB", st.BytesSent)
	}

	only, err := history.Read(t.Context(), remote, "main", "production", 100)
	if err != nil || len(only) != 1 || only[0].Name != "production" {
		t.Errorf("--stage production: %v, %v", only, err)
	}
}
