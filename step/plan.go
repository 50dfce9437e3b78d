package step

// Resolving a config against one promotion into the Plan the step runs:
// defaults, the step kind's rules, target paths from the stage, credentials
// and the Freight commit.

import (
	"cmp"
	"fmt"
	"net/url"
	"path"
	"strings"
	"text/template"
	"time"

	"github.com/argo-refs/argo-refs/internal/ambient"
	"github.com/argo-refs/argo-refs/internal/commitsign"
	"github.com/argo-refs/argo-refs/internal/githubapp"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/trust/spec"
)

// Plan is a config resolved against one promotion: defaults applied, kind
// rules checked, paths validated, credentials and the Freight commit chosen.
// The step runs on it and nothing else.
type Plan struct {
	// Config is the config the plan came from.
	Config *Config
	Kind   Kind
	// Stage, Project and Promotion come from the step context, and Actor,
	// the Promotion's creator (kargo-extended's promotionActor).
	Stage, Project, Promotion, Actor string
	// FreightName is the name of the Freight that holds FreightCommit, ""
	// when the step context does not say.
	FreightName string
	// RepoURL is the GitOps repository.
	RepoURL string
	// FreightCommit is the GitOps commit holding the release record.
	FreightCommit string
	// BuildLockDir holds current.yaml and git-<sha>.yaml.
	BuildLockDir string
	// App is the application name ("" when neither set nor derivable).
	App string
	// Branch holds the targets; PushBranch receives the push: Branch, or
	// the target branch when NewBranch is true.
	Branch     string
	PushBranch string
	NewBranch  bool
	// Timeout bounds every network call.
	Timeout time.Duration
	// Targets are the edits, paths defaulted and validated; nil for
	// argo-refs-verify.
	Targets []ResolvedTarget
	// GitAuth and RegistryAuth are nil when no credentials were found.
	// With GitApp, GitAuth is an installation token minted for each run.
	GitAuth *UserPass
	// GitApp authenticates as a GitHub App installation (Kargo's
	// githubApp* keys); it prints no key or token.
	GitApp       *githubapp.App
	RegistryAuth *RegistryCredentials
	// Checks are the verifications to run.
	Checks EnabledChecks
	// LegacyGate, when set, is the legacy gitflow gate of argo-refs-promote.
	LegacyGate *LegacyGitflowGate
	// Packaging holds expectations on the record; empty fields unchecked.
	Packaging PackagingExpect
	// ImageRepository, when set, is the only repository the record's image
	// may be in.
	ImageRepository string
	// ImagePolicy, when set, is what the image must prove (argo-refs-trust).
	ImagePolicy *spec.Policy
	// Author signs the commit.
	Author Author
	// Signer signs the commit when the config gives a signing key.
	Signer *commitsign.Signer
	// SkipCI appends " [skip ci]" to the commit message.
	SkipCI bool
	// InsecureHTTPHosts may be reached over plain http besides loopback.
	InsecureHTTPHosts []string
	// InsecureSkipTLSVerifyHosts are hosts whose TLS certificates are not
	// verified.
	InsecureSkipTLSVerifyHosts []string

	message *template.Template
	// gitScope, when the config's Git credentials name their repository
	// (Kargo's repoURL), says which repositories GitAuth may go to. It
	// holds no secret.
	gitScope gitScope
}

// EnabledChecks says which verifications run.
type EnabledChecks struct {
	ImageDigest, SourceCommit, ImageRevisionLabel bool
}

// skipped names the checks that run by default and are turned off, as the
// config names them; nil when none is.
func (c EnabledChecks) skipped() []string {
	var off []string
	if !c.ImageDigest {
		off = append(off, "imageDigest")
	}
	if !c.SourceCommit {
		off = append(off, "sourceCommit")
	}
	return off
}

// ResolvedTarget is one edit with every default applied.
type ResolvedTarget struct {
	// Kind is TargetDeploymentFile, TargetApplication or TargetKustomization.
	Kind string
	// Path is the file to edit, relative to the repository root.
	Path string
	// Key is the deploymentFile key set to the source commit.
	Key string
	// ValuesFile and ImageKey locate the deploymentFile image value; set
	// only when SetImage is true.
	ValuesFile string
	ImageKey   string
	SetImage   bool
	// ImageName selects a kustomization images: entry ("" = by repository).
	ImageName string
	// PinDigest writes the image by digest.
	PinDigest bool
	// Contract applies the kustomize deploy-wrapper contract, reading
	// MetaPath (the deployment's deployment.yaml); Strict refuses fields
	// outside it.
	Contract, Strict bool
	MetaPath         string
}

// Resolve applies defaults, checks the rules of kind, defaults target paths
// from the stage, validates every path, reads credentials the config lacks
// from getenv (nil means no environment) and selects the Freight commit.
// Config problems come back as a *ConfigError; a Freight commit that cannot
// be chosen as a terminal error.
func (c *Config) Resolve(kind Kind, sc Context, getenv func(string) string) (*Plan, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var ps []problem
	add := func(ptr, format string, args ...any) {
		ps = append(ps, problem{ptr, fmt.Sprintf(format, args...)})
	}
	if kind != KindVerify && kind != KindPromote {
		add("", "unknown step kind %q; want %s or %s", kind, KindVerify, KindPromote)
	}
	p := &Plan{
		Config:                     c,
		Kind:                       kind,
		Stage:                      sc.Stage,
		Project:                    sc.Project,
		Promotion:                  sc.Promotion,
		Actor:                      sc.PromotionActor,
		RepoURL:                    c.RepoURL,
		BuildLockDir:               c.BuildLockDir,
		Branch:                     cmp.Or(c.Branch, DefaultBranch),
		Timeout:                    DefaultTimeout,
		SkipCI:                     boolOr(c.SkipCI, false),
		InsecureHTTPHosts:          c.InsecureHTTPHosts,
		InsecureSkipTLSVerifyHosts: c.InsecureSkipTLSVerifyHosts,
		Checks: EnabledChecks{
			ImageDigest:        c.Checks.ImageDigestEnabled(),
			SourceCommit:       c.Checks.SourceCommitEnabled(),
			ImageRevisionLabel: c.Checks.ImageRevisionLabelEnabled(),
		},
		Author: Author{Name: DefaultAuthorName, Email: DefaultAuthorEmail},
	}
	if c.Packaging != nil {
		p.Packaging = *c.Packaging
	}
	if c.ImagePolicy != nil {
		p.ImagePolicy = resolveImagePolicy(c.ImagePolicy, add)
	}
	if c.Author != nil {
		p.Author.Name = cmp.Or(c.Author.Name, p.Author.Name)
		p.Author.Email = cmp.Or(c.Author.Email, p.Author.Email)
		if c.Author.SigningKey != "" {
			var err error
			if p.Signer, err = commitsign.Parse(string(c.Author.SigningKey)); err != nil {
				add("/author/signingKey", "%v", err)
			}
		}
	}
	if c.Timeout != "" {
		if d, err := parseTimeout(c.Timeout); err == nil {
			p.Timeout = d
		}
	}
	if t, err := parseMessage(cmp.Or(c.Message, DefaultMessage)); err == nil {
		p.message = t
	}
	p.App = c.App
	if p.App == "" {
		p.App = appFromBuildLockDir(c.BuildLockDir)
	}

	p.PushBranch = p.Branch
	if kind == KindVerify && c.HealthCheck != nil {
		add("/healthCheck", "%s deploys nothing whose health could follow it; move it to the %s step", KindVerify, KindPromote)
	}
	if kind == KindVerify && c.Gates != nil && c.Gates.LegacyGitflow != nil {
		// sourceChecks is about the source commit, and verify checks it.
		// A verification reads the Freight commit only; a gate there would
		// pass or fail on a tip it never read.
		add("/gates/legacyGitflow", "%s does not check it (it is read at the branch tip %s edits); move it to the %s step", KindVerify, KindPromote, KindPromote)
	}
	if kind == KindPromote {
		switch {
		case c.TargetBranch != "":
			p.PushBranch, p.NewBranch = c.TargetBranch, true
		case c.GenerateTargetBranch:
			if sc.Promotion == "" {
				add("/generateTargetBranch", "needs the promotion name, which the step context does not give")
			} else {
				p.PushBranch, p.NewBranch = generatedBranchStem+sc.Promotion, true
				if err := checkBranchName(p.PushBranch); err != nil {
					add("/generateTargetBranch", "promotion name %q gives a bad branch: %v", sc.Promotion, err)
				}
			}
		}
		if c.RequireAlreadyApplied && p.NewBranch {
			add("/requireAlreadyApplied", "pushes nothing, so it cannot be combined with targetBranch or generateTargetBranch")
		}
		if p.NewBranch && p.PushBranch == p.Branch {
			add("/targetBranch", "is the same as branch %q; a new branch must differ", p.Branch)
		}
		if len(c.Targets) == 0 {
			add("/targets", "%s needs at least one target", KindPromote)
		}
		if g := c.Gates; g != nil && g.LegacyGitflow != nil {
			gate := *g.LegacyGitflow
			if gate.Dir == "" && p.App != "" {
				gate.Dir = path.Join("warehouses", p.App, "legacy-gitflow")
			}
			if gate.Dir == "" {
				add("/gates/legacyGitflow/dir", "has no default: set it, or set app (buildLockDir %q is not warehouses/<app>/builds)", c.BuildLockDir)
			}
			p.LegacyGate = &gate
		}
		p.Targets = c.resolveTargets(p, &ps)
		if len(ps) == 0 && p.Stage != "" && len(p.Targets) > 0 && !c.AllowTargetsOutsideStage && !targetsNameStage(p.Targets, p.Stage) {
			// Explicit paths that are all another stage's (or a typo in
			// --stage) would report "<stage> already at …" about files the
			// step never touched for that stage.
			add("/targets", "no target path names stage %q (as a directory, or as a file name such as %s.yaml); check the paths and the stage, or set allowTargetsOutsideStage: true", p.Stage, p.Stage)
		}
	}

	var err error
	if c.Credentials != nil && c.Credentials.Git != nil {
		g := c.Credentials.Git // checked by check
		up := g.UserPass
		p.GitAuth = &up
		if g.usesGitHubApp() && len(ps) == 0 {
			if p.GitApp, err = gitHubApp(g, c.RepoURL); err != nil {
				add("/credentials/git", "%v", err)
			}
			p.GitAuth = nil // minted per run from the App
		}
		p.gitScope, _ = newGitScope(g) // a bad pattern is reported by check
	} else if p.GitAuth, err = netpolicy.GitFromEnv(getenv); err != nil {
		add("/credentials/git", "%v", err)
	}
	if c.Credentials != nil && c.Credentials.Registry != nil {
		up := *c.Credentials.Registry
		p.RegistryAuth = &up
	} else if p.RegistryAuth, err = netpolicy.RegistryFromEnv(getenv); err != nil {
		add("/credentials/registry", "%v", err)
	}
	p.ImageRepository = c.ImageRepository
	if a := p.RegistryAuth; a != nil && a.Registry == "" {
		// Registry credentials go to one host, never to the one a record
		// names: anyone who can commit a record could harvest them.
		switch {
		case c.ImageRepository != "":
			a.Registry, _, _ = strings.Cut(c.ImageRepository, "/")
		case c.Credentials != nil && c.Credentials.Registry != nil:
			add("/credentials/registry", "names no registry: add registry: <host> (e.g. ghcr.io), the only host these credentials are sent to, or pin imageRepository")
		case a.Ambient:
			add("/credentials/registry", "%s=true names no registry: set %s (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com), the only host the cloud's credentials are sent to, or pin imageRepository", netpolicy.EnvRegistryAmbient, EnvRegistryHost)
		default:
			add("/credentials/registry", "the credentials in %s name no registry: set %s (e.g. ghcr.io), the only host they are sent to, or pin imageRepository", EnvRegistryUsername, EnvRegistryHost)
		}
	}
	if a := p.RegistryAuth; a != nil && a.Ambient && a.Registry != "" {
		if _, err := ambient.ProviderOf(a.Registry); err != nil {
			add("/credentials/registry", "ambient: %v", err)
		}
	}

	// The config's own problems (schema and value rules, as ParseConfig
	// finds them) count where resolving found nothing more specific.
	own, err := c.problems()
	if err != nil {
		return nil, err
	}
	if ps = preferFirst(ps, own); len(ps) > 0 {
		return nil, configError(ps)
	}
	commit, err := SelectFreightCommit(c.RepoURL, c.Warehouse, c.Commit, sc.Freight)
	if err != nil {
		return nil, err
	}
	p.FreightCommit = commit
	p.FreightName = freightNameOf(commit, c.RepoURL, sc.Freight)
	return p, nil
}

// targetsNameStage reports whether a target path (or values file) has a
// directory named stage, or a file named stage.<ext>.
func targetsNameStage(ts []ResolvedTarget, stage string) bool {
	for _, t := range ts {
		for _, p := range []string{t.Path, t.ValuesFile} {
			for _, seg := range strings.Split(p, "/") {
				if seg == stage || strings.TrimSuffix(seg, path.Ext(seg)) == stage {
					return true
				}
			}
		}
	}
	return false
}

// resolveTargets defaults and validates the targets, appending problems.
func (c *Config) resolveTargets(p *Plan, ps *[]problem) []ResolvedTarget {
	add := func(ptr, format string, args ...any) {
		*ps = append(*ps, problem{ptr, fmt.Sprintf(format, args...)})
	}
	// stageDir returns apps/<app>/deployments/<stage>, or "" after
	// reporting why it cannot.
	stageDir := func(ptr string) string {
		switch {
		case p.App == "":
			add(ptr, "has no default: set it, or set app (buildLockDir %q is not warehouses/<app>/builds)", c.BuildLockDir)
		case p.Stage == "":
			add(ptr, "has no default without a stage name in the step context; set it")
		case checkSegment(p.Stage) != nil:
			add(ptr, "has no default: stage name %q is not a single path segment; set it", p.Stage)
		default:
			return path.Join("apps", p.App, "deployments", p.Stage)
		}
		return ""
	}
	pathOr := func(ptr, given, rel string) string {
		if given != "" {
			return given
		}
		if dir := stageDir(ptr); dir != "" {
			return path.Join(dir, rel)
		}
		return ""
	}
	var out []ResolvedTarget
	seen := map[string]string{}
	for i, t := range c.Targets {
		base := fmt.Sprintf("/targets/%d", i)
		var rt ResolvedTarget
		var ptr string
		switch {
		case t.DeploymentFile != nil:
			d := t.DeploymentFile
			ptr = base + "/deploymentFile"
			rt = ResolvedTarget{
				Kind:      TargetDeploymentFile,
				Path:      pathOr(ptr+"/path", d.Path, "deployment.yaml"),
				Key:       cmp.Or(d.Key, DefaultKey),
				SetImage:  boolOr(d.SetImage, true),
				PinDigest: d.PinDigest,
			}
			if rt.SetImage {
				rt.ImageKey = cmp.Or(d.ImageKey, DefaultImageKey)
				rt.ValuesFile = pathOr(ptr+"/valuesFile", d.ValuesFile, "values.yaml")
				if rt.ValuesFile != "" {
					if err := checkRelPath(rt.ValuesFile); err != nil {
						add(ptr+"/valuesFile", "%v", err)
					}
				}
			}
		case t.Application != nil:
			ptr = base + "/application"
			rt = ResolvedTarget{Kind: TargetApplication, Path: t.Application.Path}
		case t.Kustomization != nil:
			k := t.Kustomization
			ptr = base + "/kustomization"
			rt = ResolvedTarget{
				Kind:      TargetKustomization,
				Path:      pathOr(ptr+"/path", k.Path, "deploy/kustomization.yaml"),
				ImageName: k.ImageName,
				PinDigest: k.PinDigest,
				Contract:  boolOr(k.Contract, true),
				Strict:    k.Strict,
			}
			switch {
			case !rt.Contract && k.Strict:
				add(ptr+"/strict", "has no effect with contract false; drop one of them")
			case rt.Contract && k.DeploymentFile != "":
				rt.MetaPath = k.DeploymentFile
			case rt.Contract && rt.Path != "":
				rt.MetaPath = path.Join(path.Dir(path.Dir(rt.Path)), "deployment.yaml")
			}
		default:
			add(base, "no target kind; set exactly one of deploymentFile, application, kustomization")
			continue
		}
		if rt.Path == "" {
			continue
		}
		if err := checkRelPath(rt.Path); err != nil {
			add(ptr+"/path", "%v", err)
			continue
		}
		// The build-lock records are never a target: rewriting current.yaml
		// would break its twin, and every later Freight with it.
		for _, f := range [][2]string{{"/path", rt.Path}, {"/valuesFile", rt.ValuesFile}} {
			if f[1] != "" && p.BuildLockDir != "" && (f[1] == p.BuildLockDir || strings.HasPrefix(f[1], p.BuildLockDir+"/")) {
				add(ptr+f[0], "%s is inside buildLockDir %s, whose records a promotion must never edit", f[1], p.BuildLockDir)
			}
		}
		id := rt.Kind + "\x00" + rt.Path + "\x00" + rt.Key
		if prev, dup := seen[id]; dup {
			add(ptr+"/path", "%s is already edited the same way by %s", rt.Path, prev)
			continue
		}
		seen[id] = base
		out = append(out, rt)
	}
	return out
}

// gitHubApp reads Kargo's GitHub App keys, for the GitHub that serves
// repoURL.
func gitHubApp(g *GitCredentials, repoURL string) (*githubapp.App, error) {
	u, err := url.Parse(repoURL)
	if err != nil {
		return nil, fmt.Errorf("repoURL: %w", err)
	}
	issuer := cmp.Or(g.GitHubAppClientID, g.GitHubAppID)
	return githubapp.New(issuer, g.GitHubAppInstallationID, g.GitHubAppPrivateKey, githubapp.Options{APIURL: githubapp.APIURLFor(strings.ToLower(u.Scheme), u.Host)})
}

// GitAuthFor returns the Git credentials for the repository rawURL, or nil:
// those of the config or the environment, on repoURL's host, and, when the
// credentials name their repository (Kargo's repoURL), only for a
// repository that matches it.
func (p *Plan) GitAuthFor(rawURL string) *UserPass {
	if p.GitAuth == nil || !sameHost(rawURL, p.RepoURL) {
		return nil
	}
	if p.gitScope.repoURL != "" && !p.gitScope.matches(rawURL) {
		return nil
	}
	return p.GitAuth
}

// CheckURL returns a terminal error unless rawURL is an http(s) URL without
// user information whose plain-http host, if any, is loopback or listed in
// InsecureHTTPHosts. The step applies it to URLs it learns at run time, such
// as a record's sourceRepo.
func (p *Plan) CheckURL(rawURL string) error {
	if err := checkURL(rawURL, p.InsecureHTTPHosts); err != nil {
		return Terminal(fmt.Errorf("checking URL %s: %w", netpolicy.RedactURL(rawURL), err))
	}
	return nil
}
