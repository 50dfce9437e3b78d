package step

import (
	"bytes"
	_ "embed" // the config schema ships inside the binary
	"encoding/json"
	"errors"
	"fmt"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/relpath"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"time"
)

// Defaults applied by Resolve.
const (
	DefaultBranch        = "main"
	DefaultTimeout       = 5 * time.Minute
	DefaultMessage       = "Promote {{.Stage}} to {{.ReleaseID}}"
	DefaultAuthorName    = "argo-refs"
	DefaultAuthorEmail   = "argo-refs@users.noreply.github.com"
	DefaultKey           = "targetRevision"
	DefaultImageKey      = "image"
	generatedBranchStem  = "kargo/promotion/"
	skipCIMarker         = "[skip ci]"
	maxMessageOutputSize = 64 << 10
)

// The target kinds, as ResolvedTarget.Kind names them.
const (
	TargetDeploymentFile = "deploymentFile"
	TargetApplication    = "application"
	TargetKustomization  = "kustomization"
)

// Environment variables Resolve reads credentials from when the config has
// none.
const (
	EnvGitUsername      = netpolicy.EnvGitUsername
	EnvGitPassword      = netpolicy.EnvGitPassword
	EnvGitHubToken      = netpolicy.EnvGitHubToken
	EnvRegistryUsername = netpolicy.EnvRegistryUsername
	EnvRegistryPassword = netpolicy.EnvRegistryPassword
	// EnvRegistryHost names the registry host the environment's registry
	// credentials are for, when the config pins no imageRepository.
	EnvRegistryHost = netpolicy.EnvRegistryHost
)

// ConfigSchema is the JSON Schema (draft 2020-12) every step config is
// validated against; it doubles as the config's reference documentation.
//
//go:embed schema/config.json
var ConfigSchema []byte

// Config is a step's configuration as a Stage writes it. Both step kinds take
// the same shape. Obtain one with ParseConfig; Resolve turns it into a Plan.
type Config struct {
	// RepoURL is the GitOps repository (http or https).
	RepoURL string `json:"repoURL"`
	// Branch holds the targets and receives the push; default "main".
	Branch string `json:"branch,omitempty"`
	// Commit is the GitOps commit holding the release (40 hex); default
	// from the Freight.
	Commit string `json:"commit,omitempty"`
	// Warehouse restricts the Freight lookup to origin Warehouse/<name>.
	Warehouse string `json:"warehouse,omitempty"`
	// BuildLockDir is the records' directory, e.g. warehouses/codeai/builds.
	BuildLockDir string `json:"buildLockDir"`
	// App names the application for default target paths; default <app>
	// from a BuildLockDir of the form warehouses/<app>/builds.
	App string `json:"app,omitempty"`
	// Packaging holds optional expectations on the record's packaging.
	Packaging *PackagingExpect `json:"packaging,omitempty"`
	// Checks selects the verifications.
	Checks Checks `json:"checks,omitempty"`
	// Targets are what argo-refs-promote edits.
	Targets []Target `json:"targets,omitempty"`
	// Message is the commit message template; default DefaultMessage.
	Message string `json:"message,omitempty"`
	// SkipCI appends " [skip ci]" to the message; default true.
	SkipCI *bool `json:"skipCI,omitempty"`
	// Author of the commit; default DefaultAuthorName <DefaultAuthorEmail>.
	Author *Author `json:"author,omitempty"`
	// TargetBranch, when set, receives the push as a new branch.
	TargetBranch string `json:"targetBranch,omitempty"`
	// GenerateTargetBranch pushes to kargo/promotion/<promotion>.
	GenerateTargetBranch bool `json:"generateTargetBranch,omitempty"`
	// AllowTargetsOutsideStage accepts targets none of whose paths names
	// the stage.
	AllowTargetsOutsideStage bool `json:"allowTargetsOutsideStage,omitempty"`
	// Credentials for Git and the registry; default from the environment.
	Credentials *Credentials `json:"credentials,omitempty"`
	// ImageRepository, when set, is the only image repository (registry
	// host and path) a record may name, and the default registry of the
	// registry credentials.
	ImageRepository string `json:"imageRepository,omitempty"`
	// Timeout is a Go duration bounding every network call; default "5m".
	Timeout string `json:"timeout,omitempty"`
	// InsecureHTTPHosts may be reached over plain http besides loopback.
	InsecureHTTPHosts []string `json:"insecureHTTPHosts,omitempty"`
	// InsecureSkipTLSVerifyHosts are Git and registry hosts whose TLS
	// certificates are not verified; every other host's certificate is.
	InsecureSkipTLSVerifyHosts []string `json:"insecureSkipTLSVerifyHosts,omitempty"`
}

// PackagingExpect lists values the record's packaging section must have;
// empty fields are not checked.
type PackagingExpect struct {
	Kind       string `json:"kind,omitempty"`
	SourceRepo string `json:"sourceRepo,omitempty"`
	SourcePath string `json:"sourcePath,omitempty"`
}

// Checks selects the verifications; nil fields take their defaults.
type Checks struct {
	ImageDigest        *bool `json:"imageDigest,omitempty"`
	SourceCommit       *bool `json:"sourceCommit,omitempty"`
	ImageRevisionLabel *bool `json:"imageRevisionLabel,omitempty"`
}

// ImageDigestEnabled reports whether the image digest is re-checked
// (default true).
func (c Checks) ImageDigestEnabled() bool { return boolOr(c.ImageDigest, true) }

// SourceCommitEnabled reports whether the source commit and path are
// checked (default true).
func (c Checks) SourceCommitEnabled() bool { return boolOr(c.SourceCommit, true) }

// ImageRevisionLabelEnabled reports whether the image revision label is
// checked (default false).
func (c Checks) ImageRevisionLabelEnabled() bool { return boolOr(c.ImageRevisionLabel, false) }

// Target is one thing argo-refs-promote edits; exactly one field is set.
type Target struct {
	DeploymentFile *DeploymentFileTarget `json:"deploymentFile,omitempty"`
	Application    *ApplicationTarget    `json:"application,omitempty"`
	Kustomization  *KustomizationTarget  `json:"kustomization,omitempty"`
}

// DeploymentFileTarget is a YAML file whose key feeds an ApplicationSet
// template, plus optionally the stage's values file image key.
type DeploymentFileTarget struct {
	// Path defaults to apps/<app>/deployments/<stage>/deployment.yaml.
	Path string `json:"path,omitempty"`
	// Key defaults to targetRevision.
	Key string `json:"key,omitempty"`
	// ValuesFile defaults to apps/<app>/deployments/<stage>/values.yaml.
	ValuesFile string `json:"valuesFile,omitempty"`
	// ImageKey defaults to "image".
	ImageKey string `json:"imageKey,omitempty"`
	// SetImage defaults to true.
	SetImage *bool `json:"setImage,omitempty"`
	// PinDigest writes repository@digest instead of the tagged ref.
	PinDigest bool `json:"pinDigest,omitempty"`
}

// ApplicationTarget is an Argo CD Application manifest kept in Git.
type ApplicationTarget struct {
	Path string `json:"path"`
}

// KustomizationTarget is a kustomization.yaml with a remote base and an
// images: entry.
type KustomizationTarget struct {
	// Path defaults to apps/<app>/deployments/<stage>/deploy/kustomization.yaml.
	Path string `json:"path,omitempty"`
	// ImageName selects the images: entry; empty means the entry whose
	// newName or name is the record's image repository.
	ImageName string `json:"imageName,omitempty"`
	// PinDigest sets digest instead of newTag.
	PinDigest bool `json:"pinDigest,omitempty"`
}

// Author names the author and committer of the promotion commit.
type Author struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// Credentials holds the credentials a step may use.
type Credentials struct {
	Git      *UserPass            `json:"git,omitempty"`
	Registry *RegistryCredentials `json:"registry,omitempty"`
}

// RegistryCredentials are credentials for one registry host, sent to no
// other (netpolicy.RegistryCredentials).
type RegistryCredentials = netpolicy.RegistryCredentials

// UserPass is a user name and password (or token) that never prints its
// password (netpolicy.UserPass).
type UserPass = netpolicy.UserPass

// ConfigError lists every problem found in a step config, each starting with
// the JSON pointer of the offending value. It is terminal, and it never
// contains a credential value.
type ConfigError struct {
	Problems []string
}

// Error returns the problems, one per line.
func (e *ConfigError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid step config"
	}
	return strings.Join(e.Problems, "\n")
}

// Terminal reports true: a bad config does not get better by retrying.
func (e *ConfigError) Terminal() bool { return true }

// problem is one finding about a config, located by JSON pointer.
type problem struct {
	ptr string
	msg string
}

func (p problem) String() string {
	ptr := p.ptr
	if ptr == "" {
		ptr = "(root)"
	}
	return ptr + ": " + p.msg
}

func configError(ps []problem) *ConfigError {
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lines = append(lines, p.String())
	}
	sort.Strings(lines)
	lines = slices.Compact(lines)
	return &ConfigError{Problems: lines}
}

// ParseConfig validates raw against ConfigSchema and decodes it. Every
// problem is reported at once in a *ConfigError, schema violations and
// cross-field rules alike.
func ParseConfig(raw []byte) (*Config, error) {
	cs, err := loadSchema()
	if err != nil {
		return nil, Terminal(fmt.Errorf("loading the config schema: %w", err))
	}
	inst, err := decodeJSON(raw)
	if err != nil {
		return nil, configError([]problem{{"", "not valid JSON: " + err.Error()}})
	}
	var ps []problem
	for _, v := range cs.validate(inst) {
		collect(v, &ps)
	}
	cfg := new(Config)
	if len(ps) == 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return nil, configError([]problem{{"", "decoding: " + err.Error()}})
		}
	} else {
		// Decode what decodes so the cross-field rules below can still
		// report their findings together with the schema's.
		_ = json.Unmarshal(raw, cfg)
	}
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		seen[p.ptr] = true
	}
	for _, p := range cfg.check() {
		if !seen[p.ptr] {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return nil, configError(ps)
	}
	return cfg, nil
}

// check applies the rules the schema does not express. It must cope with a
// partially decoded config.
func (c *Config) check() []problem {
	var ps []problem
	add := func(ptr, format string, args ...any) {
		ps = append(ps, problem{ptr, fmt.Sprintf(format, args...)})
	}
	if c.Timeout != "" {
		if _, err := parseTimeout(c.Timeout); err != nil {
			add("/timeout", "%v", err)
		}
	}
	if c.Branch != "" {
		if err := checkBranchName(c.Branch); err != nil {
			add("/branch", "%v", err)
		}
	}
	if c.TargetBranch != "" {
		if err := checkBranchName(c.TargetBranch); err != nil {
			add("/targetBranch", "%v", err)
		}
		if c.GenerateTargetBranch {
			add("/generateTargetBranch", "cannot be combined with targetBranch; set one of them")
		}
	}
	if c.RepoURL != "" {
		if err := checkURL(c.RepoURL, c.InsecureHTTPHosts); err != nil {
			add("/repoURL", "%v", err)
		}
	}
	if c.Packaging != nil && c.Packaging.SourceRepo != "" {
		if err := checkURL(c.Packaging.SourceRepo, c.InsecureHTTPHosts); err != nil {
			add("/packaging/sourceRepo", "%v", err)
		}
	}
	if c.Message != "" {
		if _, err := parseMessage(c.Message); err != nil {
			add("/message", "%v", err)
		}
	}
	if c.Author != nil {
		// Repeats the schema's rule for configs built in Go: these
		// characters would corrupt the commit's author line.
		if strings.ContainsAny(c.Author.Name, "<>\n\r\x00") {
			add("/author/name", "must not contain '<', '>' or line breaks")
		}
		if strings.ContainsAny(c.Author.Email, "<>\n\r\x00 ") {
			add("/author/email", "must not contain '<', '>', spaces or line breaks")
		}
	}
	for i, t := range c.Targets {
		d := t.DeploymentFile
		if d == nil || d.SetImage == nil || *d.SetImage {
			continue
		}
		base := fmt.Sprintf("/targets/%d/deploymentFile/", i)
		if d.ImageKey != "" {
			add(base+"imageKey", "has no effect with setImage false; drop one of them")
		}
		if d.ValuesFile != "" {
			add(base+"valuesFile", "has no effect with setImage false; drop one of them")
		}
		if d.PinDigest {
			add(base+"pinDigest", "has no effect with setImage false; drop one of them")
		}
	}
	return ps
}

// Plan is a config resolved against one promotion: defaults applied, kind
// rules checked, paths validated, credentials and the Freight commit chosen.
// The step runs on it and nothing else.
type Plan struct {
	// Config is the config the plan came from.
	Config *Config
	Kind   Kind
	// Stage, Project and Promotion come from the step context.
	Stage, Project, Promotion string
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
	GitAuth      *UserPass
	RegistryAuth *RegistryCredentials
	// Checks are the verifications to run.
	Checks EnabledChecks
	// Packaging holds expectations on the record; empty fields unchecked.
	Packaging PackagingExpect
	// ImageRepository, when set, is the only repository the record's image
	// may be in.
	ImageRepository string
	// Author signs the commit.
	Author Author
	// SkipCI appends " [skip ci]" to the commit message.
	SkipCI bool
	// InsecureHTTPHosts may be reached over plain http besides loopback.
	InsecureHTTPHosts []string
	// InsecureSkipTLSVerifyHosts are hosts whose TLS certificates are not
	// verified.
	InsecureSkipTLSVerifyHosts []string

	message *template.Template
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
	ps := c.check()
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
		RepoURL:                    c.RepoURL,
		BuildLockDir:               c.BuildLockDir,
		Branch:                     strOr(c.Branch, DefaultBranch),
		Timeout:                    DefaultTimeout,
		SkipCI:                     boolOr(c.SkipCI, true),
		InsecureHTTPHosts:          c.InsecureHTTPHosts,
		InsecureSkipTLSVerifyHosts: c.InsecureSkipTLSVerifyHosts,
		Checks: EnabledChecks{
			ImageDigest:        c.Checks.ImageDigestEnabled(),
			SourceCommit:       c.Checks.SourceCommitEnabled(),
			ImageRevisionLabel: c.Checks.ImageRevisionLabelEnabled(),
		},
		Author: Author{Name: DefaultAuthorName, Email: DefaultAuthorEmail},
	}
	if c.RepoURL == "" {
		add("/repoURL", "required key is missing")
	}
	if c.BuildLockDir == "" {
		add("/buildLockDir", "required key is missing")
	} else if err := checkRelPath(c.BuildLockDir); err != nil {
		add("/buildLockDir", "%v", err)
	}
	if c.Packaging != nil {
		p.Packaging = *c.Packaging
	}
	if c.Author != nil {
		p.Author.Name = strOr(c.Author.Name, p.Author.Name)
		p.Author.Email = strOr(c.Author.Email, p.Author.Email)
	}
	if c.Timeout != "" {
		if d, err := parseTimeout(c.Timeout); err == nil {
			p.Timeout = d
		}
	}
	if t, err := parseMessage(strOr(c.Message, DefaultMessage)); err == nil {
		p.message = t
	}
	p.App = c.App
	if p.App == "" {
		p.App = appFromBuildLockDir(c.BuildLockDir)
	}

	p.PushBranch = p.Branch
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
		if p.NewBranch && p.PushBranch == p.Branch {
			add("/targetBranch", "is the same as branch %q; a new branch must differ", p.Branch)
		}
		if len(c.Targets) == 0 {
			add("/targets", "%s needs at least one target", KindPromote)
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
		up := *c.Credentials.Git
		p.GitAuth = &up
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
		default:
			add("/credentials/registry", "the credentials in %s name no registry: set %s (e.g. ghcr.io), the only host they are sent to, or pin imageRepository", EnvRegistryUsername, EnvRegistryHost)
		}
	}

	if len(ps) > 0 {
		return nil, configError(ps)
	}
	commit, err := SelectFreightCommit(c.RepoURL, c.Warehouse, c.Commit, sc.Freight)
	if err != nil {
		return nil, err
	}
	p.FreightCommit = commit
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
				Key:       strOr(d.Key, DefaultKey),
				SetImage:  boolOr(d.SetImage, true),
				PinDigest: d.PinDigest,
			}
			if rt.SetImage {
				rt.ImageKey = strOr(d.ImageKey, DefaultImageKey)
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
			if rt.Path == "" {
				add(ptr+"/path", "required key is missing")
			}
		case t.Kustomization != nil:
			k := t.Kustomization
			ptr = base + "/kustomization"
			rt = ResolvedTarget{
				Kind:      TargetKustomization,
				Path:      pathOr(ptr+"/path", k.Path, "deploy/kustomization.yaml"),
				ImageName: k.ImageName,
				PinDigest: k.PinDigest,
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

// MessageVars are the values a commit message template sees.
type MessageVars struct {
	Stage       string
	ReleaseID   string
	GitCommit   string
	ImageRef    string
	ImageDigest string
	Project     string
}

// CommitMessage renders the plan's message template with v; an empty Stage
// or Project in v is taken from the plan. With SkipCI, " [skip ci]" is
// appended to the first line unless the message already contains it.
func (p *Plan) CommitMessage(v MessageVars) (string, error) {
	t := p.message
	if t == nil {
		var err error
		if t, err = parseMessage(DefaultMessage); err != nil {
			return "", err
		}
	}
	v.Stage = strOr(v.Stage, p.Stage)
	v.Project = strOr(v.Project, p.Project)
	msg, err := renderMessage(t, v)
	if err != nil {
		return "", Terminal(fmt.Errorf("rendering the commit message: %w", err))
	}
	if msg == "" {
		return "", Terminal(errors.New("rendering the commit message: the template gave an empty message"))
	}
	if p.SkipCI && !strings.Contains(msg, skipCIMarker) {
		subject, body, hasBody := strings.Cut(msg, "\n")
		msg = strings.TrimRight(subject, " \t") + " " + skipCIMarker
		if hasBody {
			msg += "\n" + body
		}
	}
	return msg, nil
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

// --- schema ---

var loadSchema = sync.OnceValues(func() (*compiledSchema, error) {
	cs, err := compileSchema(ConfigSchema)
	if err != nil {
		return nil, fmt.Errorf("compiling schema/config.json: %w", err)
	}
	return cs, nil
})

// patternHints explain the schema's patterns in words.
var patternHints = map[string]string{
	`^[0-9a-f]{40}$`:                                                             "is not a full commit SHA (40 lowercase hex digits)",
	`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`:                                           "is not a Kubernetes resource name",
	`^[A-Za-z0-9][A-Za-z0-9._-]*$`:                                               "is not a single name (letters, digits, '.', '_', '-')",
	`^[^<>\x00-\x1f]+$`:                                                          "must not contain '<', '>' or control characters",
	`^[^<>@\s]+@[^<>@\s]+$`:                                                      "is not an email address",
	`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`:                                  `is not a Go duration such as "90s" or "5m"`,
	`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`:                        "is not a host or host:port",
	`^[Hh][Tt][Tt][Pp][Ss]?://[^/@\s?#]+(/[^\s?#]*)?$`:                           "is not an http(s) URL without user information, query or fragment",
	`^[A-Za-z0-9][A-Za-z0-9._/+-]*$`:                                             "is not a branch name (letters, digits, '.', '_', '/', '+', '-'; no refs/heads/)",
	`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?/[a-z0-9]+([._/-][a-z0-9]+)*$`: "is not an image repository such as ghcr.io/org/app (the registry host, then the path, in lower case, without tag or digest)",
	relPathPattern:                                                               "is not a clean relative path (no leading '/', no empty, '.' or '..' segments, no backslash)",
}

const relPathSegment = `(?:[^./\\\x00-\x1f][^/\\\x00-\x1f]*|\.[^./\\\x00-\x1f][^/\\\x00-\x1f]*|\.\.[^/\\\x00-\x1f]+)`
const relPathPattern = `^` + relPathSegment + `(?:/` + relPathSegment + `)*$`

// collect turns a schema violation into problems.
func collect(v violation, ps *[]problem) {
	ptr := jsonPointer(v.loc)
	add := func(ptr, msg string) { *ps = append(*ps, problem{ptr, msg}) }
	secret := strings.HasPrefix(ptr, "/credentials")
	switch v.kw {
	case kwAdditionalProperties:
		allowed := v.node.propertyNames()
		if secret {
			// A misplaced key here may be the secret itself: never echo it.
			add(ptr, fmt.Sprintf("%d unknown key(s); allowed: %s", len(v.names), strings.Join(allowed, ", ")))
			return
		}
		for _, name := range v.names {
			add(ptr+"/"+escapePointer(name), unknownKeyMessage(name, allowed))
		}
	case kwRequired:
		for _, name := range v.names {
			add(ptr+"/"+escapePointer(name), "required key is missing")
		}
	case kwOneOf:
		kinds := v.node.oneOfRequired()
		var set []string
		if obj, ok := v.value.(map[string]any); ok {
			for _, name := range kinds {
				if _, ok := obj[name]; ok {
					set = append(set, name)
				}
			}
		}
		want := "set exactly one of " + strings.Join(kinds, ", ")
		if len(set) == 0 {
			add(ptr, "no target kind; "+want)
		} else {
			add(ptr, fmt.Sprintf("several target kinds (%s); %s", strings.Join(set, ", "), want))
		}
	case kwType:
		add(ptr, fmt.Sprintf("wrong type: got %s, want %s", jsonType(v.value), strings.Join(v.node.types, " or ")))
	case kwPattern:
		hint, ok := patternHints[v.node.pattern.String()]
		if !ok {
			hint = fmt.Sprintf("does not match pattern %s", v.node.pattern)
		}
		if secret {
			add(ptr, "value "+hint)
		} else {
			s, _ := v.value.(string)
			add(ptr, strconv.Quote(netpolicy.RedactURL(s))+" "+hint)
		}
	case kwEnum:
		want := make([]string, len(v.node.enum))
		for i, w := range v.node.enum {
			want[i] = fmt.Sprintf("%q", w)
		}
		if s, ok := v.value.(string); ok && !secret {
			add(ptr, fmt.Sprintf("got %q, want one of %s", s, strings.Join(want, ", ")))
		} else {
			add(ptr, "want one of "+strings.Join(want, ", "))
		}
	case kwMinLength:
		if v.node.minLength == 1 {
			add(ptr, "must not be empty")
		} else {
			add(ptr, fmt.Sprintf("too short: %d characters, want at least %d", v.length, v.node.minLength))
		}
	case kwMaxLength:
		add(ptr, fmt.Sprintf("too long: %d characters, want at most %d", v.length, v.node.maxLength))
	default:
		add(ptr, "fails the schema's "+string(v.kw))
	}
}

func unknownKeyMessage(name string, allowed []string) string {
	// Suggest the closest allowed key when it is a plausible typo: equal
	// but for case, or a small edit away relative to the key's length.
	best, bestDist := "", 1<<30
	for _, a := range allowed {
		d := editDistance(strings.ToLower(a), strings.ToLower(name))
		if strings.EqualFold(a, name) {
			d = 0
		}
		if d < bestDist {
			best, bestDist = a, d
		}
	}
	limit := 2
	if len(name) <= 4 {
		limit = 1
	}
	if best != "" && bestDist <= limit {
		return fmt.Sprintf("unknown key; did you mean %q?", best)
	}
	return "unknown key; allowed: " + strings.Join(allowed, ", ")
}

// editDistance is the Levenshtein distance, for "did you mean" hints on
// short keys.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func jsonPointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		sb.WriteString(escapePointer(t))
	}
	return sb.String()
}

func escapePointer(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

// --- value rules ---

func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a Go duration such as \"90s\" or \"5m\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return d, nil
}

// checkRelPath is the one rule for repository paths (internal/relpath).
func checkRelPath(p string) error { return relpath.Check(p) }

func checkSegment(s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00") {
		return fmt.Errorf("%q is not a single path segment", s)
	}
	return nil
}

// checkBranchName applies the parts of git check-ref-format the schema
// pattern cannot.
func checkBranchName(b string) error {
	switch {
	case strings.HasPrefix(b, "refs/"):
		return fmt.Errorf("branch %q: give the short name, without refs/", b)
	case strings.Contains(b, ".."), strings.Contains(b, "//"), strings.Contains(b, "/."),
		strings.Contains(b, "@{"), strings.HasSuffix(b, "/"), strings.HasSuffix(b, "."),
		strings.HasSuffix(b, ".lock"), strings.HasPrefix(b, "."), strings.HasPrefix(b, "/"),
		strings.ContainsAny(b, " ~^:?*[\\\x7f") || strings.ContainsFunc(b, func(r rune) bool { return r < 0x20 }):
		return fmt.Errorf("%q is not a valid Git branch name", b)
	}
	return nil
}

// appFromBuildLockDir returns <app> from "warehouses/<app>/builds".
func appFromBuildLockDir(dir string) string {
	parts := strings.Split(dir, "/")
	if len(parts) == 3 && parts[0] == "warehouses" && parts[2] == "builds" && checkSegment(parts[1]) == nil {
		return parts[1]
	}
	return ""
}

// checkURL requires http(s), no user information, and plain http only to
// loopback or an allowed host. Errors never contain user information.
func checkURL(raw string, insecureHosts []string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", netpolicy.RedactURL(raw))
	}
	if u.User != nil {
		return errors.New("must not contain user information; use credentials or the environment")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if netpolicy.PlainHTTPAllowed(u.Host, insecureHosts) {
			return nil
		}
		return fmt.Errorf("plain http to %q is not allowed; use https or list the host in insecureHTTPHosts", u.Host)
	default:
		return fmt.Errorf("%q is not an http(s) URL", netpolicy.RedactURL(raw))
	}
}

// --- commit message ---

// messageFuncs are the template functions a commit message may call; none
// can loop or allocate more than its inputs.
var messageFuncs = map[string]bool{
	"and": true, "or": true, "not": true, "eq": true, "ne": true,
	"len": true, "slice": true, "print": true,
}

func parseMessage(s string) (*template.Template, error) {
	t, err := template.New("message").Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a valid template: %v", strings.TrimPrefix(err.Error(), "template: "))
	}
	if err := checkMessageNode(t.Tree.Root); err != nil {
		return nil, err
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("must not define templates")
	}
	if _, err := renderMessage(t, sampleMessageVars); err != nil {
		return nil, fmt.Errorf("does not render: %v", strings.TrimPrefix(err.Error(), "template: "))
	}
	return t, nil
}

// sampleMessageVars has realistic lengths so a trial render catches
// templates that fail on every real release (unknown fields, bad slices).
var sampleMessageVars = MessageVars{
	Stage:       "staging",
	ReleaseID:   "git-" + strings.Repeat("0", 40),
	GitCommit:   strings.Repeat("0", 40),
	ImageRef:    "registry.example.com/app:git-" + strings.Repeat("0", 40),
	ImageDigest: "sha256:" + strings.Repeat("0", 64),
	Project:     "project",
}

func checkMessageNode(n parse.Node) error {
	const allowed = "may use only {{.Field}}, {{if}}/{{else if}}/{{else}} and the functions and, or, not, eq, ne, len, slice, print"
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkMessageNode(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.TextNode, *parse.FieldNode, *parse.DotNode, *parse.StringNode,
		*parse.NumberNode, *parse.BoolNode, *parse.NilNode:
		return nil
	case *parse.ActionNode:
		return checkMessageNode(n.Pipe)
	case *parse.IfNode:
		for _, c := range []parse.Node{n.Pipe, n.List, n.ElseList} {
			if err := checkMessageNode(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		if len(n.Decl) > 0 {
			return errors.New(allowed + "; no variables")
		}
		for _, c := range n.Cmds {
			if err := checkMessageNode(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkMessageNode(a); err != nil {
				return err
			}
		}
		return nil
	case *parse.IdentifierNode:
		if messageFuncs[n.Ident] {
			return nil
		}
		return fmt.Errorf("%s; not %s", allowed, n.Ident)
	default:
		return fmt.Errorf("%s; not %s", allowed, n)
	}
}

type limitedBuffer struct {
	bytes.Buffer
}

var errMessageTooLong = errors.New("commit message longer than 64 KiB")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxMessageOutputSize {
		return 0, errMessageTooLong
	}
	return b.Buffer.Write(p)
}

func renderMessage(t *template.Template, v MessageVars) (string, error) {
	var b limitedBuffer
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// --- small helpers ---

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func strOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
