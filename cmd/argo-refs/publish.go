package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/images"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/relpath"
	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

type publishFlags struct {
	gitopsFlags
	gitCommit, imageRef, imageDigest, createdAt string
	outputDir, dir                              string
	packagingKind, sourceRepo, sourcePath       string
	forceCurrent, skipRegistryCheck             bool
	policy                                      imagePolicyFlags
}

func publishCmd() *command {
	f := &publishFlags{}
	return &command{
		name:    "publish",
		summary: "Write a build-lock record (historical file and current.yaml, one commit) into the GitOps repository.",
		usage:   "--git-commit SHA --image-ref REF [--image-digest DIGEST] (--repo URL --dir DIR | --output-dir DIR) [flags]",
		example: "GITHUB_TOKEN=... argo-refs publish --repo https://github.com/org/k8s-gitops.git --dir warehouses/app/builds " +
			"--git-commit $SHA --image-ref ghcr.io/org/app:git-$SHA --image-digest sha256:... --source-repo https://github.com/org/app.git --source-path k8s/helm",
		setup: func(fs *pflag.FlagSet) {
			fs.StringVar(&f.gitCommit, "git-commit", "", "source commit the image was built from (40 lowercase hex)")
			fs.StringVar(&f.imageRef, "image-ref", "", "image reference, tagged git-<sha>")
			fs.StringVar(&f.imageDigest, "image-digest", "", "image digest sha256:<64 hex>; empty: the digest the registry reports for --image-ref")
			fs.StringVar(&f.createdAt, "created-at", "", "record time, RFC 3339 (default: now, UTC)")
			fs.StringVar(&f.outputDir, "output-dir", "", "write the two files into this local directory instead of pushing")
			fs.StringVar(&f.dir, "dir", "", "build-lock directory in the repository, e.g. warehouses/app/builds")
			fs.StringVar(&f.packagingKind, "packaging-kind", warehouse.PackagingHelm, "helm or kustomize")
			fs.StringVar(&f.sourceRepo, "source-repo", "", "source repository URL the packaging is rendered from")
			fs.StringVar(&f.sourcePath, "source-path", "k8s/helm", "path of the chart or kustomize base in the source repository")
			fs.BoolVar(&f.forceCurrent, "force-current", false, "write current.yaml even when it holds a newer record")
			fs.BoolVar(&f.skipRegistryCheck, "skip-registry-check", false, "do not check --image-ref against the registry (offline use)")
			f.policy.register(fs)
			f.register(fs, "the release")
		},
		run: func(ctx context.Context, io stdio, _ *pflag.FlagSet, args []string) error {
			return runPublish(ctx, io, f, args)
		},
	}
}

func runPublish(ctx context.Context, io stdio, f *publishFlags, args []string) error {
	if len(args) > 0 {
		return usageError("unexpected arguments %q", args)
	}
	if err := f.checkOutput(); err != nil {
		return err
	}
	if (f.outputDir == "") == (f.repo == "") {
		return usageError("give exactly one of --repo (push) or --output-dir (local write)")
	}
	if f.repo != "" && f.dir == "" {
		return usageError("--dir is required with --repo")
	}
	if f.repo != "" {
		if err := relpath.Check(f.dir); err != nil {
			return usageError("--dir: %v", err)
		}
	}
	if f.gitCommit == "" || f.imageRef == "" {
		return usageError("--git-commit and --image-ref are required")
	}
	created := time.Now().UTC()
	if f.createdAt != "" {
		t, err := parseEventTime("created-at", f.createdAt)
		if err != nil {
			return err
		}
		created = t
	}
	signer, err := f.signer(io.getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	// With the digest given, the registry is asked while the GitOps
	// repository is read; nothing is pushed, and nothing is reported as
	// published, before the registry has agreed.
	var registryNote, digest string
	var registryDone func(context.Context) error
	if f.repo != "" && f.imageDigest != "" && !f.skipRegistryCheck {
		registryDone = checkRegistryAsync(ctx, io, f, &registryNote)
		digest = f.imageDigest
	} else {
		var err error
		if registryNote, digest, err = checkRegistry(ctx, io, f); err != nil {
			return err
		}
	}
	rec, err := warehouse.New(f.gitCommit, f.imageRef, digest, f.packagingKind, f.sourceRepo, f.sourcePath, created)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	// An image the stages' policy would refuse is not recorded.
	policyNote, err := checkPublishPolicy(ctx, io, f, rec)
	if err != nil {
		return err
	}

	var res warehouse.PublishResult
	if f.outputDir != "" {
		res, err = warehouse.PublishLocal(f.outputDir, rec, f.forceCurrent)
	} else {
		var remote *gitrepo.Remote
		if remote, err = f.open(ctx, io); err == nil {
			res, err = warehouse.Publish(ctx, remote, rec, warehouse.PublishOptions{
				Dir: f.dir, Branch: f.branch, Message: f.message, ForceCurrent: f.forceCurrent,
				Author: f.author(), Signer: signer, BeforePush: registryDone,
			})
		}
	}
	if registryDone != nil {
		// Also when nothing was pushed (a re-publish): a tag that moved
		// since is an error either way.
		if rerr := registryDone(ctx); rerr != nil {
			return rerr
		}
	}
	if err != nil {
		return publishExit(err)
	}
	if f.output == "json" {
		enc := json.NewEncoder(io.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			warehouse.PublishResult
			ImageDigest string `json:"imageDigest"`
			Registry    string `json:"registry"`
			ImagePolicy string `json:"imagePolicy,omitempty"`
		}{res, rec.Image.Digest, registryNote, policyNote})
	}
	printPublish(io, f, res, registryNote)
	if policyNote != "" {
		fmt.Fprintf(io.stdout, "image policy: %s\n", policyNote)
	}
	return nil
}

// checkPublishPolicy checks the image against the policy flags, when
// given, and says what was verified.
func checkPublishPolicy(ctx context.Context, io stdio, f *publishFlags, rec *warehouse.Record) (string, error) {
	pc, err := f.policy.config()
	if err != nil || pc == nil {
		return "", err
	}
	if f.skipRegistryCheck {
		return "", usageError("the image policy flags need the registry; drop --skip-registry-check")
	}
	pol, err := pc.Policy()
	if err != nil {
		return "", usageError("image policy flags: %w", err)
	}
	root, err := pc.ReadTrustedRoot()
	if err != nil {
		return "", usageError("--trusted-root: %w", err)
	}
	client, err := publishRegistryClient(io, f)
	if err != nil {
		return "", err
	}
	res, _, err := step.VerifyImagePolicy(ctx, client, nil, *pol, root, rec)
	if err != nil {
		if step.IsTerminal(err) || errors.Is(err, images.ErrNotFound) || errors.Is(err, images.ErrUnauthorized) {
			return "", &exitError{code: exitFailed, err: fmt.Errorf("refusing to record %s: %w", f.imageRef, err)}
		}
		return "", &exitError{code: exitTransient, err: fmt.Errorf("refusing to record %s for now: %w", f.imageRef, err)}
	}
	var parts []string
	if s := res.Signature; s != nil {
		parts = append(parts, "signed by "+cmp.Or(s.Identity, s.KeyID))
	}
	if p := res.Provenance; p != nil {
		parts = append(parts, "built by "+p.Builder+" from "+p.SourceRepo+" at "+p.GitCommit)
	}
	return strings.Join(parts, "; "), nil
}

// publishRegistryClient is publish's registry client: the environment's
// credentials are for --image-ref's registry unless
// ARGO_REFS_REGISTRY_HOST says otherwise.
func publishRegistryClient(io stdio, f *publishFlags) (*images.Client, error) {
	getenv := func(k string) string {
		v := io.getenv(k)
		if k == images.EnvRegistryHost && v == "" {
			v, _, _ = strings.Cut(f.imageRef, "/")
		}
		return v
	}
	client, err := images.New(images.Options{Getenv: getenv, InsecureHosts: f.insecureHosts})
	if err != nil {
		return nil, fmt.Errorf("setting up the registry client: %w", err)
	}
	return client, nil
}

// checkRegistry keeps the tag and the record in sync: the tag must resolve to
// the digest being recorded, or give it when none was passed.
// maxClockSkew is how far ahead of this machine's clock --created-at may be.
const maxClockSkew = 5 * time.Minute

func checkRegistry(ctx context.Context, io stdio, f *publishFlags) (note, digest string, err error) {
	if f.skipRegistryCheck {
		if f.imageDigest == "" {
			return "", "", usageError("--image-digest is required with --skip-registry-check")
		}
		return "skipped (--skip-registry-check): the tag was NOT checked against the registry", f.imageDigest, nil
	}
	client, err := publishRegistryClient(io, f)
	if err != nil {
		return "", "", err
	}
	if f.imageDigest == "" {
		d, err := client.Resolve(ctx, f.imageRef)
		if err != nil {
			return "", "", registryExit(fmt.Errorf("resolving %s: %w", f.imageRef, err))
		}
		return "resolved by the registry", d.Digest, nil
	}
	if _, err := client.Verify(ctx, f.imageRef, f.imageDigest); err != nil {
		return "", "", registryExit(fmt.Errorf("refusing to record %s: %w", f.imageRef, err))
	}
	return "verified: the tag resolves to the digest", f.imageDigest, nil
}

// checkRegistryAsync starts checkRegistry and returns a function that waits
// for its answer (the same one on every call) and, once it is in, sets
// *note.
func checkRegistryAsync(ctx context.Context, io stdio, f *publishFlags, note *string) func(context.Context) error {
	type answer struct {
		note string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		n, _, err := checkRegistry(ctx, io, f)
		ch <- answer{n, err}
	}()
	var once sync.Once
	var got answer
	return func(wctx context.Context) error {
		once.Do(func() {
			select {
			case got = <-ch:
				*note = got.note
			case <-wctx.Done():
				got.err = &exitError{code: exitTransient, err: fmt.Errorf("waiting for the registry: %w", wctx.Err())}
			}
		})
		return got.err
	}
}

func registryExit(err error) error {
	if errors.Is(err, images.ErrUnavailable) {
		return &exitError{code: exitTransient, err: err}
	}
	return &exitError{code: exitFailed, err: err}
}

func publishExit(err error) error {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, warehouse.ErrConflict), errors.Is(err, gitrepo.ErrAuth),
		errors.Is(err, gitrepo.ErrBranchNotFound), errors.Is(err, gitrepo.ErrPathOutsideRepo), errors.Is(err, gitrepo.ErrNotRegularFile),
		errors.Is(err, gitrepo.ErrPushRefused), errors.Is(err, gitrepo.ErrRedirect):
		return &exitError{code: exitFailed, err: err}
	case errors.Is(err, warehouse.ErrInvalidRecord), errors.Is(err, gitrepo.ErrInvalidURL):
		return &exitError{code: exitUsage, err: err}
	}
	return &exitError{code: exitTransient, err: err}
}

func printPublish(io stdio, f *publishFlags, res warehouse.PublishResult, registryNote string) {
	w := io.stdout
	where := f.outputDir
	if f.repo != "" {
		where = fmt.Sprintf("%s (%s)", netpolicy.RedactURL(f.repo), f.branch)
	}
	switch res.Outcome {
	case warehouse.OutcomeUnchanged:
		fmt.Fprintf(w, "%s is already published in %s; nothing to do\n", res.ReleaseID, where)
	case warehouse.OutcomeHistoricalOnly:
		fmt.Fprintf(w, "published %s to %s; current.yaml kept at the newer %s (use --force-current to move it back)\n", res.ReleaseID, where, res.CurrentHolds)
	default:
		fmt.Fprintf(w, "published %s to %s\n", res.ReleaseID, where)
	}
	fmt.Fprintf(w, "  record:   %s\n  current:  %s (holds %s)\n", res.HistoricalPath, res.CurrentPath, res.CurrentHolds)
	if f.repo != "" {
		fmt.Fprintf(w, "  commit:   %s (%d attempt(s))\n", res.Commit, res.Attempts)
	}
	fmt.Fprintf(w, "  registry: %s\n", registryNote)
}
