package step

// The step config as a Stage writes it: its Go types, defaults and the
// schema it is validated against. Parsing is in parse.go, resolving a
// config into a Plan in plan.go.

import (
	_ "embed" // the config schema ships inside the binary
	"encoding/json"
	"fmt"
	"time"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/trust/spec"
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
	// Gates are what argo-refs-promote requires at the branch tip before
	// it edits anything.
	Gates *Gates `json:"gates,omitempty"`
	// Targets are what argo-refs-promote edits.
	Targets []Target `json:"targets,omitempty"`
	// Message is the commit message template; default DefaultMessage.
	Message string `json:"message,omitempty"`
	// SkipCI appends " [skip ci]" to the message; default false.
	SkipCI *bool `json:"skipCI,omitempty"`
	// Author of the commit; default DefaultAuthorName <DefaultAuthorEmail>.
	Author *Author `json:"author,omitempty"`
	// TargetBranch, when set, receives the push as a new branch.
	TargetBranch string `json:"targetBranch,omitempty"`
	// GenerateTargetBranch pushes to kargo/promotion/<promotion>.
	GenerateTargetBranch bool `json:"generateTargetBranch,omitempty"`
	// RequireAlreadyApplied makes argo-refs-promote fail unless the targets
	// already hold the release; it pushes nothing.
	RequireAlreadyApplied bool `json:"requireAlreadyApplied,omitempty"`
	// AllowTargetsOutsideStage accepts targets none of whose paths names
	// the stage.
	AllowTargetsOutsideStage bool `json:"allowTargetsOutsideStage,omitempty"`
	// Credentials for Git and the registry; default from the environment.
	Credentials *Credentials `json:"credentials,omitempty"`
	// ImageRepository, when set, is the only image repository (registry
	// host and path) a record may name, and the default registry of the
	// registry credentials.
	ImageRepository string `json:"imageRepository,omitempty"`
	// ImagePolicy requires the recorded digest to be signed, and attested
	// as built from the record's source, by whom it names.
	ImagePolicy *ImagePolicy `json:"imagePolicy,omitempty"`
	// HealthCheck asks Kargo (StepPlugin runtime) for argocd-update's health
	// check on the stage's Applications, pinned to the promoted release.
	HealthCheck *HealthCheckConfig `json:"healthCheck,omitempty"`
	// Render makes argo-refs-promote render the stage's manifests at its
	// current and new refs and review what changes (outputs renderSummary
	// and reviewMarkdown), and may refuse some changes.
	Render *RenderConfig `json:"render,omitempty"`
	// TreeFetch says how the GitOps repository's trees are fetched:
	// "auto" (default), "whole" or "paths".
	TreeFetch string `json:"treeFetch,omitempty"`
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

// ImagePolicy is what the image must prove besides its digest: who signed
// it and what built it, from what.
type ImagePolicy struct {
	// TrustedRoot is a trusted_root.json's content or "public-good"
	// (default); TrustedRootFile a file holding one.
	TrustedRoot     string `json:"trustedRoot,omitempty"`
	TrustedRootFile string `json:"trustedRootFile,omitempty"`
	// Signature, when set, requires a signature by its signer: a public
	// key, or a keyless identity and issuer (each exact or a regular
	// expression).
	Signature *spec.Signer `json:"signature,omitempty"`
	// Provenance, when set, requires build provenance.
	Provenance *ImageProvenance `json:"provenance,omitempty"`
}

// ImageProvenance requires build provenance signed by its signer (default
// the signature's) naming an allowed builder.
type ImageProvenance struct {
	spec.Signer
	Builders []string `json:"builders"`
}

// RenderConfig says how a stage's manifests are rendered and reviewed.
type RenderConfig struct {
	// ApplicationSet is the ApplicationSet (a path in the GitOps
	// repository) whose template makes the stages' Applications in the
	// helm layout; default apps/<app>/applicationset.yaml when it exists.
	ApplicationSet string `json:"applicationSet,omitempty"`
	// Helm overrides what the Application says.
	Helm *RenderHelm `json:"helm,omitempty"`
	// KubeVersion and APIVersions are the cluster's, as charts see them
	// in .Capabilities.
	KubeVersion string   `json:"kubeVersion,omitempty"`
	APIVersions []string `json:"apiVersions,omitempty"`
	// AllowedKinds, when set, refuses a rendered change to any other kind.
	AllowedKinds []string `json:"allowedKinds,omitempty"`
	// FailOnRenderError refuses a release whose manifests do not render
	// (default true).
	FailOnRenderError *bool `json:"failOnRenderError,omitempty"`
	// MaxMarkdownBytes bounds reviewMarkdown (default 60000).
	MaxMarkdownBytes int `json:"maxMarkdownBytes,omitempty"`
}

// RenderHelm overrides the Helm settings of a stage's Application.
type RenderHelm struct {
	ReleaseName string   `json:"releaseName,omitempty"`
	Namespace   string   `json:"namespace,omitempty"`
	ValueFiles  []string `json:"valueFiles,omitempty"`
}

// HealthCheckConfig names the Argo CD Applications whose health the Stage
// follows.
type HealthCheckConfig struct {
	Apps []HealthCheckApp `json:"apps"`
}

// HealthCheckApp is one Application and what each of its sources must reach.
type HealthCheckApp struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	// DesiredRevisions are "gitCommit", "gitopsCommit" or "", one per source.
	DesiredRevisions []string `json:"desiredRevisions"`
}

// Gates are conditions a promotion must meet at the tip of the branch it
// edits; nil fields are not checked.
type Gates struct {
	SourceChecks  *SourceChecksGate  `json:"sourceChecks,omitempty"`
	LegacyGitflow *LegacyGitflowGate `json:"legacyGitflow,omitempty"`
}

// SourceChecksGate requires CI's results on the release's source commit.
type SourceChecksGate struct {
	// Contexts are the status contexts or check run names that must have
	// succeeded; empty means every one, and at least one.
	Contexts []string `json:"contexts,omitempty"`
	// APIURL is the GitHub API; default https://api.github.com.
	APIURL string `json:"apiURL,omitempty"`
}

// LegacyGitflowGate requires the release's legacy gitflow merge record.
type LegacyGitflowGate struct {
	// Env is the legacy branch (warehouse.LegacyEnvs).
	Env string `json:"env"`
	// Dir defaults to warehouses/<app>/legacy-gitflow.
	Dir string `json:"dir,omitempty"`
}

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
	// Contract applies the whole deploy-wrapper contract; default true.
	Contract *bool `json:"contract,omitempty"`
	// Strict refuses a wrapper with fields outside the contract.
	Strict bool `json:"strict,omitempty"`
	// DeploymentFile is the deployment's metadata; default deployment.yaml
	// in the directory above the wrapper's.
	DeploymentFile string `json:"deploymentFile,omitempty"`
}

// Author names the author and committer of the promotion commit, and the
// key that signs it.
type Author struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// SigningKey is an OpenPGP or OpenSSH private key (internal/commitsign).
	SigningKey netpolicy.Secret `json:"signingKey,omitempty"`
}

// Credentials holds the credentials a step may use.
type Credentials struct {
	Git      *GitCredentials      `json:"git,omitempty"`
	Registry *RegistryCredentials `json:"registry,omitempty"`
	// GitHubAPI is the token gates.sourceChecks sends to the GitHub API.
	GitHubAPI *netpolicy.Token `json:"githubAPI,omitempty"`
}

// GitCredentials are Git credentials in the shape of Kargo's Git
// credential Secret, so that one can be passed whole.
type GitCredentials struct {
	UserPass
	// RepoURL, when set, is the repository (a regular expression when
	// RepoURLIsRegex) the credentials are for; they go nowhere else.
	RepoURL        string   `json:"repoURL,omitempty"`
	RepoURLIsRegex FlexBool `json:"repoURLIsRegex,omitempty"`
	// Kargo's GitHub App keys, refused for now with a clear message.
	GitHubAppClientID       string `json:"githubAppClientID,omitempty"`
	GitHubAppID             string `json:"githubAppID,omitempty"`
	GitHubAppInstallationID string `json:"githubAppInstallationID,omitempty"`
	GitHubAppPrivateKey     string `json:"githubAppPrivateKey,omitempty"`
}

// usesGitHubApp reports whether any GitHub App key is set.
func (g *GitCredentials) usesGitHubApp() bool {
	return g.GitHubAppClientID != "" || g.GitHubAppID != "" || g.GitHubAppInstallationID != "" || g.GitHubAppPrivateKey != ""
}

// MarshalJSON encodes the credentials with the password redacted and the
// private key left out.
func (g GitCredentials) MarshalJSON() ([]byte, error) {
	type wire struct {
		Username       string   `json:"username,omitempty"`
		Password       string   `json:"password,omitempty"`
		RepoURL        string   `json:"repoURL,omitempty"`
		RepoURLIsRegex FlexBool `json:"repoURLIsRegex,omitempty"`
	}
	red := g.UserPass
	if red.Password != "" {
		red.Password = "redacted"
	}
	return json.Marshal(wire{red.Username, red.Password, g.RepoURL, g.RepoURLIsRegex})
}

// FlexBool is a boolean written as JSON true/false or, as Kargo's Secrets
// hold it, the string "true"/"false".
type FlexBool bool

// UnmarshalJSON reads true, false, "true" or "false".
func (b *FlexBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`:
		*b = false
	default:
		return fmt.Errorf("want true or false, found %s", data)
	}
	return nil
}

// RegistryCredentials are credentials for one registry host, sent to no
// other (netpolicy.RegistryCredentials).
type RegistryCredentials = netpolicy.RegistryCredentials

// UserPass is a user name and password (or token) that never prints its
// password (netpolicy.UserPass).
type UserPass = netpolicy.UserPass

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}
