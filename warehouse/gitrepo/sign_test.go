package gitrepo_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/argo-refs/argo-refs/internal/commitsign"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/signtest"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// TestSignedCommitsAfterARace: a signed edit lands signed (OpenPGP and
// SSH), as git verify-commit judges it, also when a push race made Update
// rebuild the commit on the new tip.
func TestSignedCommitsAfterARace(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(t *testing.T) signtest.Key
	}{
		{"openpgp", func(t *testing.T) signtest.Key { return signtest.OpenPGP(t, "argo-refs", "argo-refs@example.com") }},
		{"ssh", func(t *testing.T) signtest.Key { return signtest.SSH(t, "argo-refs@example.com") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key(t)
			signer, err := commitsign.Parse(key.Private)
			if err != nil {
				t.Fatal(err)
			}
			var f *fixture
			var once sync.Once
			race := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
						once.Do(func() { gittest.CommitFiles(t, f.dir, "main", map[string]string{"other.txt": "x\n"}, "competing") })
					}
					next.ServeHTTP(w, r)
				})
			}
			f = newFixture(t, 0, gittest.WithMiddleware(race))
			r := open(t, f.url, gitrepo.Options{})
			res, err := r.Update(context.Background(), "main", gitrepo.UpdateOptions{BaseDelay: 1}, func(ctx context.Context, tip gitrepo.Snapshot) (*gitrepo.Edit, error) {
				return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "mine.txt", Data: []byte("mine\n")}}, Message: "mine", Author: author, Signer: signer}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Attempts != 2 {
				t.Errorf("attempts = %d, want 2 (one race)", res.Attempts)
			}
			if out, err := signtest.VerifyCommit(t, f.dir, res.Commit.String(), key); err != nil {
				t.Errorf("git verify-commit: %v\n%s", err, out)
			}
			// The same verifier refuses another key's signature: the check
			// can fail.
			other := tc.key(t)
			if out, err := signtest.VerifyCommit(t, f.dir, res.Commit.String(), other); err == nil {
				t.Errorf("git verify-commit accepted the commit with another key:\n%s", out)
			}
		})
	}
}

// failingSigner stands for a key that cannot sign.
type failingSigner struct{}

func (failingSigner) Sign([]byte) (string, error) { return "", errors.New("no signing today") }

// TestSigningFailurePushesNothing: when signing fails, nothing is pushed,
// never an unsigned commit in its place.
func TestSigningFailurePushesNothing(t *testing.T) {
	f := newFixture(t, 0)
	r := open(t, f.url, gitrepo.Options{})
	_, err := r.Update(context.Background(), "main", gitrepo.UpdateOptions{}, func(ctx context.Context, tip gitrepo.Snapshot) (*gitrepo.Edit, error) {
		return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "mine.txt", Data: []byte("mine\n")}}, Message: "mine", Author: author, Signer: failingSigner{}}, nil
	})
	if !errors.Is(err, gitrepo.ErrSign) {
		t.Errorf("err = %v, want ErrSign", err)
	}
	if got := gittest.Git(t, f.dir, "rev-parse", "main"); got != f.tip {
		t.Errorf("main moved to %s", got)
	}
}
