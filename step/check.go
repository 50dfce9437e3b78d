package step

// The checks a run makes on a valid record, on every run, cached record or
// not: the packaging the config expects, the image digest (and revision
// label) in the registry, and the source commit and path in the source
// repository.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/argo-refs/argo-refs/images"
	"github.com/argo-refs/argo-refs/step/target"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// check runs every check the plan asks for on a record that passed
// warehouse.CheckSet, on every call, cached record or not: a tag can move
// and a source commit can vanish. Checks against the registry and the
// source repository run concurrently.
func (r *runner) check(ctx context.Context, rec *warehouse.Record, guess *sourceGuess) error {
	defer guess.stop()
	if err := r.checkPackaging(rec); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	if r.plan.Checks.ImageDigest || r.plan.Checks.ImageRevisionLabel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[0] = r.checkImage(ctx, rec)
		}()
	}
	if r.plan.Checks.SourceCommit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := guess.result(ctx, rec); ok {
				errs[1] = err
				return
			}
			errs[1] = r.checkSource(ctx, rec)
		}()
	}
	if g := r.plan.Config.Gates; g != nil && g.SourceChecks != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.ciPassed, errs[2] = r.checkSourceChecks(ctx, rec)
		}()
	}
	if r.plan.ImagePolicy != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.trusted, errs[3] = r.checkImagePolicy(ctx, rec)
		}()
	}
	wg.Wait()
	// A terminal finding outweighs a transient one: it will not pass later.
	for _, e := range errs {
		if e != nil && IsTerminal(classify(e)) {
			return e
		}
	}
	return errors.Join(errs...)
}

// imageRepository returns host/path of an image reference as written
// (host/path:tag or @digest), without normalising it: imageRepository must
// name it the way records do.
func imageRepository(ref string) string {
	repo := ref
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo = repo[:i]
	}
	return repo
}

func (r *runner) checkPackaging(rec *warehouse.Record) error {
	want := r.plan.Packaging
	var problems []string
	if want.Kind != "" && want.Kind != rec.Packaging.Kind {
		problems = append(problems, fmt.Sprintf("packaging.kind: want %q, found %q", want.Kind, rec.Packaging.Kind))
	}
	if want.SourceRepo != "" && target.NormalizeRepoURL(want.SourceRepo) != target.NormalizeRepoURL(rec.Packaging.SourceRepo) {
		problems = append(problems, fmt.Sprintf("packaging.sourceRepo: want %q, found %q", want.SourceRepo, rec.Packaging.SourceRepo))
	}
	if want.SourcePath != "" && want.SourcePath != rec.Packaging.SourcePath {
		problems = append(problems, fmt.Sprintf("packaging.sourcePath: want %q, found %q", want.SourcePath, rec.Packaging.SourcePath))
	}
	if want := r.plan.ImageRepository; want != "" {
		if got := imageRepository(rec.Image.Ref); got != want {
			problems = append(problems, fmt.Sprintf("image.ref: want an image of %s (imageRepository), found %q", want, rec.Image.Ref))
		}
	}
	if len(problems) > 0 {
		return Terminal(fmt.Errorf("%s: %w: %s", rec.ReleaseID, warehouse.ErrInvalidRecord, strings.Join(problems, "; ")))
	}
	return nil
}

// registryClient is the Runner's registry client for the plan's settings:
// its credentials go to their one registry only.
func (r *runner) registryClient() (*images.Client, error) {
	opts := images.Options{Getenv: r.opts.Getenv, InsecureHosts: r.plan.InsecureHTTPHosts, Logger: r.log,
		InsecureSkipTLSVerifyHosts: r.plan.InsecureSkipTLSVerifyHosts}
	if a := r.plan.RegistryAuth; a != nil {
		scoped := *a
		opts.Credentials = &scoped
	}
	return r.registries.get(opts)
}

func (r *runner) checkImage(ctx context.Context, rec *warehouse.Record) error {
	client, err := r.registryClient()
	if err != nil {
		return err
	}
	if r.plan.Checks.ImageDigest {
		if err := r.registries.verify(ctx, client, rec.Image.Ref, rec.Image.Digest); err != nil {
			return fmt.Errorf("checking image %s: %w", rec.Image.Ref, err)
		}
		r.log.Info("image digest verified", "image", rec.Image.Ref, "digest", rec.Image.Digest)
	}
	if r.plan.Checks.ImageRevisionLabel {
		// Through the recorded digest: what is read is hashed, so the
		// label is the recorded image's whatever the tag serves now.
		rev, err := client.Revision(ctx, imageRepository(rec.Image.Ref)+"@"+rec.Image.Digest)
		if err != nil {
			return fmt.Errorf("reading the revision label of %s: %w", rec.Image.Ref, err)
		}
		if rev != rec.GitCommit {
			return Terminal(fmt.Errorf("image %s: label org.opencontainers.image.revision is %q, the build-lock's gitCommit is %q", rec.Image.Ref, rev, rec.GitCommit))
		}
	}
	return nil
}

func (r *runner) checkSource(ctx context.Context, rec *warehouse.Record) error {
	return r.probeSource(ctx, rec.Packaging.SourceRepo, rec.GitCommit, rec.Packaging.SourcePath)
}

// probeSource proves that commit and path exist in the source repository
// src.
func (r *runner) probeSource(ctx context.Context, src, commit, srcPath string) error {
	if err := r.plan.CheckURL(src); err != nil {
		return Terminal(fmt.Errorf("the build-lock's packaging.sourceRepo: %w", err))
	}
	// Credentials for the GitOps repository go only to the same host, and
	// only to a repository they name when they name one.
	auth := r.plan.GitAuthFor(src)
	stats, err := gitrepo.ProbePath(ctx, src, plumbing.NewHash(commit), srcPath, r.gitOptions(src, auth))
	if err != nil {
		return fmt.Errorf("checking source %s at %s: %w", srcPath, short(commit), err)
	}
	r.log.Info("source commit verified", "commit", short(commit), "path", srcPath,
		"requests", stats.Requests, "bytes", stats.BytesReceived)
	return nil
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && strings.EqualFold(ua.Host, ub.Host)
}
