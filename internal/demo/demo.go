// Package demo runs the whole release flow on local, in-process parts: a
// source repository, a GitOps repository in the helm layout, and an OCI
// registry; it publishes a build-lock, promotes it, and shows a moved tag
// being refused.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/argo-refs/argo-refs/internal/gitserver"
	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// Options configures a demo run.
type Options struct {
	// Dir keeps the repositories there for inspection; empty means a
	// temporary directory removed at the end.
	Dir string
	// Out receives the story.
	Out io.Writer
}

const (
	app          = "codeai"
	buildLockDir = "warehouses/codeai/builds"
	warehouseKey = "Warehouse/codeai-builds"
)

// Run tells the story and returns an error when anything went otherwise than
// expected.
func Run(ctx context.Context, opts Options) error {
	d := &demo{out: opts.Out, start: time.Now()}
	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "argo-refs-demo-")
		if err != nil {
			return fmt.Errorf("creating a work directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := d.setUp(ctx, dir); err != nil {
		return err
	}
	defer d.close()
	for _, part := range []func(context.Context) error{d.publish, d.promoteStaging, d.promoteProduction, d.rerun, d.movedTag} {
		if err := part(ctx); err != nil {
			return err
		}
	}
	d.say("\nAll as expected in %s.", time.Since(d.start).Round(time.Millisecond))
	if opts.Dir != "" {
		d.say("Repositories kept in %s (bare Git repositories: git --git-dir %s log --stat).", dir, filepath.Join(dir, "gitops.git"))
	}
	return nil
}

type demo struct {
	out   io.Writer
	start time.Time

	gitSrv, regSrv *http.Server
	gitURL         string // http://127.0.0.1:port
	regHost        string // 127.0.0.1:port
	gitops         *git.Repository
	source         *git.Repository
	sourceCommit   string
	imageRef       string
	imageDigest    string
	freightCommit  string
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

func (d *demo) close() {
	for _, s := range []*http.Server{d.gitSrv, d.regSrv} {
		if s != nil {
			_ = s.Close()
		}
	}
}

func serve(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("listening on 127.0.0.1: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr().String(), nil
}

func (d *demo) setUp(ctx context.Context, dir string) error {
	d.say("argo-refs demo: a source repository, a GitOps repository (helm layout) and a registry, all local.\n")
	git := gitserver.New()
	var err error
	if d.source, err = initBare(filepath.Join(dir, "source.git")); err != nil {
		return err
	}
	if d.gitops, err = initBare(filepath.Join(dir, "gitops.git")); err != nil {
		return err
	}
	git.Add("/source.git", d.source.Storer)
	git.Add("/gitops.git", d.gitops.Storer)
	var addr string
	if d.gitSrv, addr, err = serve(git); err != nil {
		return err
	}
	d.gitURL = "http://" + addr
	if d.regSrv, d.regHost, err = serve(registry.New(registry.Logger(log.New(io.Discard, "", 0)))); err != nil {
		return err
	}

	src, err := commitTree(d.source, "main", map[string]string{
		"k8s/helm/Chart.yaml":                   "apiVersion: v2\nname: codeai\nversion: 0.1.0\n",
		"k8s/helm/templates/app.yaml":           "# rendered by Argo CD at exactly the promoted commit\n",
		"k8s/kustomize/base/kustomization.yaml": "resources: []\n",
		"README.md":                             "codeai source\n",
	}, "Add the codeai chart")
	if err != nil {
		return err
	}
	d.sourceCommit = src.String()
	d.say("source   %s/source.git   main = %s (k8s/helm)", d.gitURL, short(d.sourceCommit))

	if _, err := commitTree(d.gitops, "main", gitopsFiles(d.gitURL), "GitOps layout for codeai"); err != nil {
		return err
	}
	d.say("gitops   %s/gitops.git   apps/codeai/deployments/{staging,production}", d.gitURL)

	d.imageRef = fmt.Sprintf("%s/code-dot-org/codeai:git-%s", d.regHost, d.sourceCommit)
	if d.imageDigest, err = pushImage(ctx, d.imageRef, d.sourceCommit); err != nil {
		return err
	}
	d.say("registry %s   %s -> %s", d.regHost, "code-dot-org/codeai:git-"+short(d.sourceCommit), shortDigest(d.imageDigest))
	return nil
}

func (d *demo) publish(ctx context.Context) error {
	d.say("\n1. CI publishes the build-lock record (argo-refs publish)")
	t := time.Now()
	rec, err := warehouse.New(d.sourceCommit, d.imageRef, d.imageDigest, warehouse.PackagingHelm,
		d.gitURL+"/source.git", "k8s/helm", time.Now().UTC())
	if err != nil {
		return err
	}
	remote, err := gitrepo.Open(ctx, d.gitURL+"/gitops.git", gitrepo.Options{})
	if err != nil {
		return err
	}
	res, err := warehouse.Publish(ctx, remote, rec, warehouse.PublishOptions{
		Dir: buildLockDir, Branch: "main",
		Author: gitrepo.Signature{Name: "ci", Email: "ci@example.com", When: time.Now()},
	})
	if err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	if res.Outcome != warehouse.OutcomePublished {
		return fmt.Errorf("publishing: outcome %q, want %q", res.Outcome, warehouse.OutcomePublished)
	}
	d.freightCommit = res.Commit
	d.say("   wrote %s and current.yaml in commit %s (%s)", res.HistoricalPath, short(res.Commit), time.Since(t).Round(time.Millisecond))
	d.say("%s", indent(string(rec.Render()), "   | "))
	d.say("   Kargo's Warehouse sees commit %s as new Freight.", short(res.Commit))
	return nil
}

func (d *demo) config(extra map[string]any) []byte {
	cfg := map[string]any{
		"repoURL":      d.gitURL + "/gitops.git",
		"branch":       "main",
		"buildLockDir": buildLockDir,
		"targets":      []any{map[string]any{"deploymentFile": map[string]any{}}},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	data, _ := json.Marshal(cfg)
	return data
}

func (d *demo) promote(ctx context.Context, stage string, kind step.Kind) step.Result {
	sc := step.Context{
		Project: "kargo-project-codeai", Stage: stage, Promotion: stage + "-demo", Alias: "promote",
		Freight: kargo.FreightCollection{ID: "demo", Items: map[string]kargo.FreightReference{
			warehouseKey: {Name: "demo", Origin: kargo.FreightOrigin{Kind: "Warehouse", Name: "codeai-builds"},
				Commits: []kargo.GitCommit{{RepoURL: d.gitURL + "/gitops.git", ID: d.freightCommit, Branch: "main"}}},
		}},
	}
	return step.Run(ctx, kind, sc, d.config(nil), step.Options{})
}

func (d *demo) promoteStage(ctx context.Context, n int, stage string) error {
	d.say("\n%d. Kargo promotes %s (argo-refs-promote)", n, stage)
	before := d.tip()
	t := time.Now()
	res := d.promote(ctx, stage, step.KindPromote)
	if res.Status != kargo.StatusSucceeded {
		return fmt.Errorf("promoting %s: %s: %s", stage, res.Status, res.Message)
	}
	d.say("   %s  (%s)", res.Message, time.Since(t).Round(time.Millisecond))
	d.say("   checked: record twins identical, image tag -> recorded digest, source commit has k8s/helm")
	patch, err := d.patch(before, d.tip())
	if err != nil {
		return err
	}
	d.say("%s", indent(patch, "   | "))
	return nil
}

func (d *demo) promoteStaging(ctx context.Context) error { return d.promoteStage(ctx, 2, "staging") }

func (d *demo) promoteProduction(ctx context.Context) error {
	return d.promoteStage(ctx, 3, "production")
}

func (d *demo) rerun(ctx context.Context) error {
	d.say("\n4. Kargo retries the staging promotion (idempotent)")
	before := d.tip()
	res := d.promote(ctx, "staging", step.KindPromote)
	if res.Status != kargo.StatusSucceeded || res.Output[step.OutputChanged] != false {
		return fmt.Errorf("re-running staging: %s, changed=%v: %s", res.Status, res.Output[step.OutputChanged], res.Message)
	}
	if d.tip() != before {
		return fmt.Errorf("re-running staging made a commit")
	}
	d.say("   %s", res.Message)
	return nil
}

func (d *demo) movedTag(ctx context.Context) error {
	d.say("\n5. Someone re-pushes the tag to another image; the next promotion must refuse it")
	moved, err := pushImage(ctx, d.imageRef, "someone-else")
	if err != nil {
		return err
	}
	d.say("   %s now -> %s (the record says %s)", "code-dot-org/codeai:git-"+short(d.sourceCommit), shortDigest(moved), shortDigest(d.imageDigest))
	before := d.tip()
	res := d.promote(ctx, "production", step.KindVerify)
	if res.Status != kargo.StatusFailed || !res.Terminal {
		return fmt.Errorf("verifying a moved tag: got %s (terminal=%v), want Failed and terminal: %s", res.Status, res.Terminal, res.Message)
	}
	d.say("   argo-refs-verify: %s (terminal)", res.Status)
	d.say("   %s", res.Message)
	res = d.promote(ctx, "production", step.KindPromote)
	if res.Status != kargo.StatusFailed || d.tip() != before {
		return fmt.Errorf("promoting a moved tag: got %s, tip moved=%v", res.Status, d.tip() != before)
	}
	d.say("   argo-refs-promote: %s; GitOps main still at %s, nothing pushed", res.Status, short(before.String()))
	return nil
}

func (d *demo) tip() plumbing.Hash {
	ref, err := d.gitops.Reference("refs/heads/main", true)
	if err != nil {
		return plumbing.ZeroHash
	}
	return ref.Hash()
}

func (d *demo) patch(from, to plumbing.Hash) (string, error) {
	a, err := d.gitops.CommitObject(from)
	if err != nil {
		return "", err
	}
	b, err := d.gitops.CommitObject(to)
	if err != nil {
		return "", err
	}
	p, err := a.PatchContext(context.Background(), b)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(p.String(), "\n"), nil
}

func initBare(dir string) (*git.Repository, error) {
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	repo, err := git.Init(st, nil)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	return repo, nil
}

// commitTree commits files (path -> content) as the whole tree of a new
// commit on branch, on top of the branch's tip if it exists.
func commitTree(repo *git.Repository, branch string, files map[string]string, msg string) (plumbing.Hash, error) {
	root := &dirNode{dirs: map[string]*dirNode{}, files: map[string]plumbing.Hash{}}
	for p, content := range files {
		obj := repo.Storer.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		w, _ := obj.Writer()
		_, _ = w.Write([]byte(content))
		_ = w.Close()
		h, err := repo.Storer.SetEncodedObject(obj)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		root.add(strings.Split(p, "/"), h)
	}
	treeHash, err := root.store(repo)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	sig := object.Signature{Name: "demo", Email: "demo@example.com", When: time.Now()}
	c := &object.Commit{Author: sig, Committer: sig, Message: msg + "\n", TreeHash: treeHash}
	refName := plumbing.NewBranchReferenceName(branch)
	if ref, err := repo.Reference(refName, true); err == nil {
		c.ParentHashes = []plumbing.Hash{ref.Hash()}
	}
	obj := repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(refName, h)); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, refName)); err != nil {
		return plumbing.ZeroHash, err
	}
	return h, nil
}

type dirNode struct {
	dirs  map[string]*dirNode
	files map[string]plumbing.Hash
}

func (n *dirNode) add(parts []string, h plumbing.Hash) {
	if len(parts) == 1 {
		n.files[parts[0]] = h
		return
	}
	child, ok := n.dirs[parts[0]]
	if !ok {
		child = &dirNode{dirs: map[string]*dirNode{}, files: map[string]plumbing.Hash{}}
		n.dirs[parts[0]] = child
	}
	child.add(parts[1:], h)
}

func (n *dirNode) store(repo *git.Repository) (plumbing.Hash, error) {
	var t object.Tree
	for name, child := range n.dirs {
		h, err := child.store(repo)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
	}
	for name, h := range n.files {
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
	}
	sortEntries(t.Entries)
	obj := repo.Storer.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return repo.Storer.SetEncodedObject(obj)
}

// pushImage pushes a small image whose revision label is revision and
// returns its digest.
func pushImage(ctx context.Context, ref, revision string) (string, error) {
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		return "", err
	}
	img, err := random.Image(512, 1)
	if err != nil {
		return "", err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Labels = map[string]string{"org.opencontainers.image.revision": revision}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return "", err
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	var h v1.Hash
	if h, err = img.Digest(); err != nil {
		return "", err
	}
	return h.String(), nil
}
