package step

// The rendered review of a promotion: each target's manifests rendered as
// Argo CD renders them, at the stage's current refs and at the release's,
// and compared resource by resource.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"sigs.k8s.io/yaml"

	"github.com/argo-refs/argo-refs/render/spec"
	"github.com/argo-refs/argo-refs/review"
	"github.com/argo-refs/argo-refs/step/target"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// Output keys of the rendered review.
const (
	OutputRenderSummary  = "renderSummary"
	OutputReviewMarkdown = "reviewMarkdown"
)

// defaultMaxMarkdown bounds reviewMarkdown unless the config says
// otherwise: GitHub takes pull request bodies up to 65536 characters.
const defaultMaxMarkdown = 60000

// ErrRender means the release's manifests do not render, or a rendered
// change is outside the render policy. Terminal.
var ErrRender = errors.New("render refused the release")

// stageReview is what rendering learned.
type stageReview struct {
	review   *review.Review
	from, to string // the source revisions before and after
	newError string // the release's render error, when failOnRenderError is false
	oldError string // the current render's error (the review then shows everything as added)
	title    string
	markdown string
	cut      bool
}

// renderSide is one target's render at the current refs (old) and at the
// release's (new); old is nil when the current revision is unknown.
type renderSide struct {
	old, new *spec.Render
	from, to string
}

// renderReview renders every target at the tip's refs and at the
// release's, and compares them.
func (r *runner) renderReview(ctx context.Context, gitops *gitrepo.Remote, tip plumbing.Hash, rec *warehouse.Record, edits []fileEdit, changes []TargetChange) (*stageReview, error) {
	cfg := r.plan.Config.Render
	if cfg == nil {
		cfg = &RenderConfig{}
	}
	src := rec.Packaging.SourceRepo
	if err := r.plan.CheckURL(src); err != nil {
		return nil, Terminal(fmt.Errorf("rendering: the build-lock's packaging.sourceRepo: %w", err))
	}
	source, err := gitrepo.Open(ctx, src, r.gitOptions(src, r.plan.GitAuthFor(src)))
	if err != nil {
		return nil, fmt.Errorf("rendering: opening %s: %w", src, err)
	}
	g := &gitopsView{remote: gitops, tip: tip, edited: map[string][]byte{}}
	for _, e := range edits {
		g.edited[e.path] = e.new
	}
	var sides []renderSide
	for _, t := range r.plan.Targets {
		var s renderSide
		switch t.Kind {
		case TargetDeploymentFile:
			s, err = r.helmSides(ctx, g, source, rec, t, changes, cfg)
		case TargetKustomization:
			s, err = r.kustomizeSides(ctx, g, source, rec, t)
		case TargetApplication:
			s, err = r.applicationSides(ctx, g, source, rec, t, changes, cfg)
		}
		if err != nil {
			return nil, err
		}
		sides = append(sides, s)
	}
	req := spec.Request{Version: spec.Version}
	for _, s := range sides {
		if s.old != nil {
			req.Renders = append(req.Renders, *s.old)
		}
		req.Renders = append(req.Renders, *s.new)
	}
	renderer := r.opts.Renderer
	if renderer == nil {
		renderer = ExecRenderer{}
	}
	res, err := renderer.Render(ctx, req)
	if err != nil {
		if errors.Is(err, ErrNoRenderer) {
			return nil, Terminal(err)
		}
		return nil, fmt.Errorf("rendering: %w", err)
	}
	sr := &stageReview{}
	var oldStream, newStream strings.Builder
	var froms, tos []string
	i := 0
	for _, s := range sides {
		if s.old != nil {
			o := res.Outputs[i]
			i++
			if o.Error != "" {
				sr.oldError = joinErr(sr.oldError, s.old.Name+": "+o.Error)
			} else {
				oldStream.WriteString(o.Manifests + "\n---\n")
			}
		}
		o := res.Outputs[i]
		i++
		if o.Error != "" {
			msg := fmt.Sprintf("rendering %s: %s", s.new.Name, o.Error)
			if len(o.Missing) > 0 {
				msg += " (missing: " + strings.Join(o.Missing, ", ") + ")"
			}
			if cfg.FailOnRenderError == nil || *cfg.FailOnRenderError {
				return nil, Terminal(fmt.Errorf("%w: %s; nothing was pushed", ErrRender, msg))
			}
			sr.newError = joinErr(sr.newError, msg)
			continue
		}
		newStream.WriteString(o.Manifests + "\n---\n")
		froms, tos = append(froms, cmp.Or(s.from, "(none)")), append(tos, s.to)
	}
	if sr.review, err = review.Compare(oldStream.String(), newStream.String()); err != nil {
		return nil, Terminal(fmt.Errorf("%w: comparing the renders: %w", ErrRender, err))
	}
	sr.from, sr.to = strings.Join(slices.Compact(froms), ", "), strings.Join(slices.Compact(tos), ", ")
	if err := checkAllowedKinds(sr.review, cfg.AllowedKinds); err != nil {
		return nil, err
	}
	sr.title = fmt.Sprintf("Rendered changes: %s, %s → %s", r.plan.Stage, shortRev(sr.from), shortRev(sr.to))
	max := cmp.Or(cfg.MaxMarkdownBytes, defaultMaxMarkdown)
	sr.markdown, sr.cut = sr.review.Markdown(sr.title, max)
	if sr.oldError != "" {
		sr.markdown = fmt.Sprintf("> The current manifests did not render (%s); every resource shows as added.\n\n", oneLine(sr.oldError)) + sr.markdown
	}
	return sr, nil
}

// checkAllowedKinds refuses a rendered change to a kind outside allowed.
func checkAllowedKinds(rv *review.Review, allowed []string) error {
	if len(allowed) == 0 {
		return nil
	}
	var outside []string
	for _, c := range rv.Changes {
		if !slices.Contains(allowed, c.Kind) {
			outside = append(outside, c.Op+" "+c.Resource)
		}
	}
	if len(outside) > 0 {
		return Terminal(fmt.Errorf("%w: render.allowedKinds %v does not allow %s; nothing was pushed", ErrRender, allowed, strings.Join(outside, ", ")))
	}
	return nil
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func shortRev(s string) string {
	var out []string
	for _, r := range strings.Split(s, ", ") {
		if hexCommit.MatchString(r) {
			r = r[:7]
		}
		out = append(out, r)
	}
	return strings.Join(out, ", ")
}

// renderOutputs are the outputs of a rendered review.
func (sr *stageReview) outputs() (summary map[string]any, markdown string) {
	s := sr.review.Summary
	summary = map[string]any{
		"from": sr.from, "to": sr.to,
		"added": s.Added, "removed": s.Removed, "changed": s.Changed, "unchanged": s.Unchanged,
		"kinds": s.KindList(), "line": s.Line(), "markdownCut": sr.cut,
	}
	if len(s.Images) > 0 {
		summary["images"] = plainJSON(s.Images)
	}
	if len(s.Replicas) > 0 {
		summary["replicas"] = plainJSON(s.Replicas)
	}
	if len(s.ComputeResources) > 0 {
		summary["computeResources"] = s.ComputeResources
	}
	if sr.oldError != "" {
		summary["currentRenderError"] = oneLine(sr.oldError)
	}
	if sr.newError != "" {
		summary["renderError"] = oneLine(sr.newError)
	}
	return summary, sr.markdown
}

// gitopsView reads the GitOps repository at the tip, with the promotion's
// edits laid over for the new side.
type gitopsView struct {
	remote *gitrepo.Remote
	tip    plumbing.Hash
	edited map[string][]byte
}

// files reads paths at the tip; missing ones are absent from the map.
func (g *gitopsView) files(ctx context.Context, paths ...string) (map[string][]byte, error) {
	fs, err := g.remote.ReadFiles(ctx, g.tip, paths...)
	if err != nil {
		return nil, fmt.Errorf("rendering: %w", err)
	}
	out := map[string][]byte{}
	for p, f := range fs {
		if f.Exists {
			out[p] = f.Data
		}
	}
	return out, nil
}

// newer is the file after the promotion's edits.
func (g *gitopsView) newer(p string, old []byte) []byte {
	if b, ok := g.edited[p]; ok {
		return b
	}
	return old
}

// resolveRev returns the commit a revision names in the source repository:
// itself when it is a commit ID, else the branch or tag of that name; ""
// when it names nothing there.
func resolveRev(ctx context.Context, source *gitrepo.Remote, rev string) (string, error) {
	switch {
	case rev == "":
		return "", nil
	case hexCommit.MatchString(rev):
		return rev, nil
	}
	for _, b := range []string{rev, "refs/tags/" + rev} {
		h, err := source.Tip(ctx, strings.TrimPrefix(b, "refs/heads/"))
		if err == nil {
			return h.String(), nil
		}
		if !errors.Is(err, gitrepo.ErrBranchNotFound) {
			return "", err
		}
	}
	return "", nil
}

// helmSides renders a deploymentFile target: the chart at the stage's
// targetRevision and at the release's commit, with the Application's Helm
// settings.
func (r *runner) helmSides(ctx context.Context, g *gitopsView, source *gitrepo.Remote, rec *warehouse.Record, t ResolvedTarget, changes []TargetChange, cfg *RenderConfig) (renderSide, error) {
	appSetPath := cfg.ApplicationSet
	if appSetPath == "" && r.plan.App != "" {
		appSetPath = path.Join("apps", r.plan.App, "applicationset.yaml")
	}
	fs, err := g.files(ctx, t.Path, appSetPath)
	if err != nil {
		return renderSide{}, err
	}
	dep, ok := fs[t.Path]
	if !ok {
		return renderSide{}, Terminal(fmt.Errorf("rendering: %s does not exist", t.Path))
	}
	hsFor := func(depContent []byte) (helmSource, error) {
		if set, ok := fs[appSetPath]; ok {
			app, err := appSetApp(set, t.Path, depContent)
			if err != nil {
				return helmSource{}, Terminal(fmt.Errorf("rendering: %s: %w", appSetPath, err))
			}
			hs, err := helmSourceOf(app, rec.Packaging.SourceRepo, appSetPath)
			if err != nil {
				return helmSource{}, Terminal(fmt.Errorf("rendering: %w", err))
			}
			return hs, nil
		}
		return r.defaultHelmSource(depContent, rec)
	}
	oldHS, err := hsFor(dep)
	if err != nil {
		return renderSide{}, err
	}
	newHS, err := hsFor(g.newer(t.Path, dep))
	if err != nil {
		return renderSide{}, err
	}
	return r.chartSides(ctx, g, source, rec, oldRevision(changes, t.Path, rec), oldHS, newHS, cfg)
}

// defaultHelmSource is the helm layout's Application without its
// ApplicationSet: release name = stage, namespace and envType from
// deployment.yaml, value files envTypes/<envType>.values.yaml and the
// stage's values.yaml.
func (r *runner) defaultHelmSource(dep []byte, rec *warehouse.Record) (helmSource, error) {
	var meta struct {
		EnvType   string `json:"envType"`
		Namespace string `json:"namespace"`
	}
	if err := yaml.Unmarshal(dep, &meta); err != nil {
		return helmSource{}, Terminal(fmt.Errorf("rendering: reading deployment.yaml: %w", err))
	}
	hs := helmSource{chartPath: rec.Packaging.SourcePath, releaseName: r.plan.Stage, namespace: meta.Namespace, from: "the helm layout's defaults"}
	if meta.EnvType != "" && r.plan.App != "" {
		vf := "$values/" + path.Join("apps", r.plan.App, "envTypes", meta.EnvType+".values.yaml")
		hs.valueFiles = append(hs.valueFiles, vf)
		hs.optional = map[string]bool{vf: true}
	}
	for _, t := range r.plan.Targets {
		if t.Kind == TargetDeploymentFile && t.SetImage {
			hs.valueFiles = append(hs.valueFiles, "$values/"+t.ValuesFile)
		}
	}
	return hs, nil
}

// oldRevision is the revision a target held before the promotion: the old
// value of the scalar set to the release's commit in that file.
func oldRevision(changes []TargetChange, p string, rec *warehouse.Record) string {
	for _, c := range changes {
		if c.Path == p && c.New == rec.GitCommit {
			return c.Old
		}
	}
	return ""
}

// chartSides reads the chart at both revisions and the value files, and
// makes the two Helm renders.
func (r *runner) chartSides(ctx context.Context, g *gitopsView, source *gitrepo.Remote, rec *warehouse.Record, oldRev string, oldHS, newHS helmSource, cfg *RenderConfig) (renderSide, error) {
	for _, hs := range []*helmSource{&oldHS, &newHS} {
		if h := cfg.Helm; h != nil {
			hs.releaseName = cmp.Or(h.ReleaseName, hs.releaseName)
			hs.namespace = cmp.Or(h.Namespace, hs.namespace)
			if len(h.ValueFiles) > 0 {
				hs.valueFiles = h.ValueFiles
			}
		}
		hs.chartPath = cmp.Or(hs.chartPath, rec.Packaging.SourcePath)
	}
	oldCommit, err := resolveRev(ctx, source, oldRev)
	if err != nil {
		return renderSide{}, fmt.Errorf("rendering: resolving %s in %s: %w", oldRev, rec.Packaging.SourceRepo, err)
	}
	reads := []gitrepo.DirRead{{Commit: plumbing.NewHash(rec.GitCommit), Dir: newHS.chartPath}}
	if oldCommit != "" {
		reads = append(reads, gitrepo.DirRead{Commit: plumbing.NewHash(oldCommit), Dir: oldHS.chartPath})
	}
	charts, err := source.ReadDirs(ctx, reads, gitrepo.DirLimits{})
	if err != nil && oldCommit != "" && (errors.Is(err, gitrepo.ErrCommitNotFound) || errors.Is(err, gitrepo.ErrPathNotFound)) {
		// The stage's current revision (or its chart) is not in the
		// source repository: review the release against nothing.
		r.log.Info("the stage's current chart cannot be read; everything shows as added", "revision", oldRev, "error", err)
		oldCommit, reads = "", reads[:1]
		charts, err = source.ReadDirs(ctx, reads, gitrepo.DirLimits{})
	}
	if err != nil {
		return renderSide{}, fmt.Errorf("rendering: reading the chart: %w", err)
	}
	for _, rd := range reads {
		if err := r.addOCIDependencies(ctx, charts[rd]); err != nil {
			return renderSide{}, err
		}
	}
	// The value files from the GitOps repository ($values/...), at the
	// tip and as edited.
	var gitopsPaths []string
	for _, hs := range []helmSource{oldHS, newHS} {
		for _, vf := range hs.valueFiles {
			if p, ok := strings.CutPrefix(vf, "$values/"); ok {
				gitopsPaths = append(gitopsPaths, p)
			}
		}
	}
	values, err := g.files(ctx, gitopsPaths...)
	if err != nil {
		return renderSide{}, err
	}
	build := func(hs helmSource, chart map[string][]byte, newSide bool, rev string) (*spec.Render, error) {
		h := &spec.Helm{Chart: chart, Values: hs.values, Parameters: hs.parameters, ReleaseName: hs.releaseName, Namespace: hs.namespace,
			KubeVersion: cfg.KubeVersion, APIVersions: cfg.APIVersions}
		for _, vf := range hs.valueFiles {
			var data []byte
			if p, ok := strings.CutPrefix(vf, "$values/"); ok {
				d, found := values[p]
				if !found && hs.optional[vf] {
					continue
				}
				if !found {
					return nil, Terminal(fmt.Errorf("rendering: value file %s (from %s) does not exist in the GitOps repository", p, hs.from))
				}
				if newSide {
					d = g.newer(p, d)
				}
				data = d
			} else if strings.HasPrefix(vf, "$") {
				return nil, Terminal(fmt.Errorf("rendering: value file %s (from %s) names a source other than $values", vf, hs.from))
			} else {
				rel := path.Clean(vf)
				d, found := chart[rel]
				if !found || strings.HasPrefix(rel, "../") {
					return nil, Terminal(fmt.Errorf("rendering: value file %s (from %s) is not in the chart at %s", vf, hs.from, shortRev(rev)))
				}
				data = d
			}
			h.ValueFiles = append(h.ValueFiles, data)
			h.ValueFileNames = append(h.ValueFileNames, vf)
		}
		return &spec.Render{Name: fmt.Sprintf("%s at %s", r.plan.Stage, shortRev(rev)), Helm: h}, nil
	}
	var s renderSide
	s.from, s.to = oldRev, rec.GitCommit
	if s.new, err = build(newHS, charts[reads[0]], true, rec.GitCommit); err != nil {
		return renderSide{}, err
	}
	if oldCommit != "" {
		if s.old, err = build(oldHS, charts[reads[1]], false, oldCommit); err != nil {
			return renderSide{}, err
		}
	}
	return s, nil
}

// applicationSides renders an application target: its source that names
// the release's source repository, with its Helm settings.
func (r *runner) applicationSides(ctx context.Context, g *gitopsView, source *gitrepo.Remote, rec *warehouse.Record, t ResolvedTarget, changes []TargetChange, cfg *RenderConfig) (renderSide, error) {
	fs, err := g.files(ctx, t.Path)
	if err != nil {
		return renderSide{}, err
	}
	hsOf := func(b []byte) (helmSource, error) {
		var app argoApp
		if err := yaml.Unmarshal(b, &app); err != nil {
			return helmSource{}, Terminal(fmt.Errorf("rendering: reading %s: %w", t.Path, err))
		}
		hs, err := helmSourceOf(app, rec.Packaging.SourceRepo, t.Path)
		if err != nil {
			return helmSource{}, Terminal(fmt.Errorf("rendering: %w", err))
		}
		return hs, nil
	}
	oldHS, err := hsOf(fs[t.Path])
	if err != nil {
		return renderSide{}, err
	}
	newHS, err := hsOf(g.newer(t.Path, fs[t.Path]))
	if err != nil {
		return renderSide{}, err
	}
	return r.chartSides(ctx, g, source, rec, oldRevision(changes, t.Path, rec), oldHS, newHS, cfg)
}

// maxKustomizeDirs bounds the directories a Kustomize render reads.
const maxKustomizeDirs = 64

// kustomizeSides renders a kustomization target: the deploy directory at
// the tip and as edited, with its remote base read from the source
// repository at the old and new refs, and the local directories it names.
func (r *runner) kustomizeSides(ctx context.Context, g *gitopsView, source *gitrepo.Remote, rec *warehouse.Record, t ResolvedTarget) (renderSide, error) {
	deployDir := path.Dir(t.Path)
	oldK, err := g.files(ctx, t.Path)
	if err != nil {
		return renderSide{}, err
	}
	oldRef := kustomizeRef(oldK[t.Path], rec)
	oldCommit, err := resolveRev(ctx, source, oldRef)
	if err != nil {
		return renderSide{}, fmt.Errorf("rendering: resolving %s in %s: %w", oldRef, rec.Packaging.SourceRepo, err)
	}
	// The GitOps side: the deploy directory and every local directory its
	// kustomizations name, read at the tip.
	gitopsFiles, err := crawlKustomize(ctx, func(dirs []string) (map[string]map[string][]byte, error) {
		reads := make([]gitrepo.DirRead, len(dirs))
		for i, d := range dirs {
			reads[i] = gitrepo.DirRead{Commit: g.tip, Dir: d}
		}
		got, err := g.remote.ReadDirs(ctx, reads, gitrepo.DirLimits{})
		out := map[string]map[string][]byte{}
		for i, d := range dirs {
			out[d] = got[reads[i]]
		}
		return out, err
	}, deployDir)
	if err != nil {
		return renderSide{}, fmt.Errorf("rendering: %w", err)
	}
	// The source side: the base and what it names, at both refs.
	readSource := func(commit string) (map[string][]byte, error) {
		h := plumbing.NewHash(commit)
		return crawlKustomize(ctx, func(dirs []string) (map[string]map[string][]byte, error) {
			reads := make([]gitrepo.DirRead, len(dirs))
			for i, d := range dirs {
				reads[i] = gitrepo.DirRead{Commit: h, Dir: d}
			}
			got, err := source.ReadDirs(ctx, reads, gitrepo.DirLimits{})
			out := map[string]map[string][]byte{}
			for i, d := range dirs {
				out[d] = got[reads[i]]
			}
			return out, err
		}, rec.Packaging.SourcePath)
	}
	newSource, err := readSource(rec.GitCommit)
	if err != nil {
		return renderSide{}, fmt.Errorf("rendering: reading the base at %s: %w", short(rec.GitCommit), err)
	}
	build := func(kust []byte, src map[string][]byte, rev string) (*spec.Render, error) {
		files := map[string][]byte{}
		for p, b := range gitopsFiles {
			files["gitops/"+p] = b
		}
		for p, b := range src {
			files["source/"+p] = b
		}
		local, err := relPath(path.Join("gitops", deployDir), path.Join("source", rec.Packaging.SourcePath))
		if err != nil {
			return nil, Terminal(fmt.Errorf("rendering: %w", err))
		}
		out, err := localizeRemote(kust, rec, local)
		if err != nil {
			return nil, Terminal(fmt.Errorf("rendering: %s: %w", t.Path, err))
		}
		files["gitops/"+t.Path] = out
		return &spec.Render{Name: fmt.Sprintf("%s at %s", r.plan.Stage, shortRev(rev)), Kustomize: &spec.Kustomize{Files: files, Dir: path.Join("gitops", deployDir)}}, nil
	}
	var s renderSide
	s.from, s.to = oldRef, rec.GitCommit
	if s.new, err = build(g.newer(t.Path, oldK[t.Path]), newSource, rec.GitCommit); err != nil {
		return renderSide{}, err
	}
	if oldCommit != "" {
		oldSource, err := readSource(oldCommit)
		switch {
		case errors.Is(err, gitrepo.ErrCommitNotFound), errors.Is(err, gitrepo.ErrPathNotFound):
			// Not in the source repository: review against nothing.
			r.log.Info("the stage's current base cannot be read; everything shows as added", "ref", oldRef, "error", err)
		case err != nil:
			return renderSide{}, fmt.Errorf("rendering: reading the base at %s: %w", short(oldCommit), err)
		default:
			if s.old, err = build(oldK[t.Path], oldSource, oldCommit); err != nil {
				return renderSide{}, err
			}
		}
	}
	return s, nil
}

// kustomizeRef is the ref the kustomization's remote base names.
func kustomizeRef(kust []byte, rec *warehouse.Record) string {
	var k struct {
		Resources []string `json:"resources"`
	}
	if yaml.Unmarshal(kust, &k) != nil {
		return ""
	}
	for _, res := range k.Resources {
		if ref, ok := target.RemoteRef(res, rec.Packaging.SourceRepo, rec.Packaging.SourcePath); ok {
			return ref
		}
	}
	return ""
}

// localizeRemote replaces the remote base entry of a kustomization with the
// local path where its files are placed.
func localizeRemote(kust []byte, rec *warehouse.Record, local string) ([]byte, error) {
	var k map[string]any
	if err := yaml.Unmarshal(kust, &k); err != nil {
		return nil, err
	}
	res, _ := k["resources"].([]any)
	found := false
	for i, e := range res {
		s, _ := e.(string)
		if _, ok := target.RemoteRef(s, rec.Packaging.SourceRepo, rec.Packaging.SourcePath); ok {
			res[i] = local
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("no resources entry names %s//%s", rec.Packaging.SourceRepo, rec.Packaging.SourcePath)
	}
	return yaml.Marshal(k)
}

// relPath is the relative path from directory from to to (both
// slash-separated, relative to one root).
func relPath(from, to string) (string, error) {
	f, t := strings.Split(path.Clean(from), "/"), strings.Split(path.Clean(to), "/")
	i := 0
	for i < len(f) && i < len(t) && f[i] == t[i] {
		i++
	}
	parts := make([]string, 0, len(f)-i+len(t)-i)
	for range f[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, t[i:]...)
	if len(parts) == 0 {
		return ".", nil
	}
	return strings.Join(parts, "/"), nil
}

// crawlKustomize reads start and, round by round, every local directory
// the kustomizations read so far name (resources, components, bases),
// through read (one call per round, each directory read whole); files come
// back by repository path. Directories outside the repository are left for
// krusty to report as missing.
func crawlKustomize(ctx context.Context, read func(dirs []string) (map[string]map[string][]byte, error), start string) (map[string][]byte, error) {
	files := map[string][]byte{}
	var done []string
	covered := func(p string) bool {
		return slices.ContainsFunc(done, func(d string) bool { return p == d || strings.HasPrefix(p+"/", d+"/") })
	}
	round := []string{start}
	for len(round) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		got, err := read(round)
		if err != nil {
			return nil, err
		}
		done = append(done, round...)
		var next []string
		for _, d := range round {
			for rel, b := range got[d] {
				files[path.Join(d, rel)] = b
			}
			for rel, b := range got[d] {
				switch path.Base(rel) {
				case "kustomization.yaml", "kustomization.yml", "Kustomization":
				default:
					continue
				}
				var k struct {
					Resources  []string `json:"resources"`
					Components []string `json:"components"`
					Bases      []string `json:"bases"`
				}
				if yaml.Unmarshal(b, &k) != nil {
					continue // krusty reports it
				}
				kdir := path.Join(d, path.Dir(rel))
				for _, e := range slices.Concat(k.Resources, k.Components, k.Bases) {
					switch path.Ext(e) {
					case ".yaml", ".yml", ".json":
						continue
					}
					if target.IsRemote(e) {
						continue
					}
					p := path.Clean(path.Join(kdir, e))
					if p == ".." || strings.HasPrefix(p, "../") || covered(p) || slices.Contains(next, p) {
						continue
					}
					next = append(next, p)
				}
			}
		}
		if len(done)+len(next) > maxKustomizeDirs {
			return nil, fmt.Errorf("the kustomizations name more than %d directories", maxKustomizeDirs)
		}
		slices.Sort(next)
		round = next
	}
	return files, nil
}
