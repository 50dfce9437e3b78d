package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/argo-refs/argo-refs/images"
	"github.com/argo-refs/argo-refs/internal/gitopstest"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/internal/regtest"
)

// actionDir holds the publish-once action and its script.
var actionDir = filepath.Join("..", "actions", "publish-once")

// ciFixture is a source commit without an image yet, a GitOps repository
// in the helm layout with no record, a registry, and a "build" that pushes
// a new image (a new digest every time, as real builds do) to the tag it
// is given: a loopback endpoint the build command calls from bash.
type ciFixture struct {
	git       *gittest.Server
	reg       *regtest.Registry
	gitopsURL string
	gitopsDir string
	sourceURL string
	src       string
	builds    atomic.Int64
	buildURL  string // host:port of the builder
}

func newCIFixture(t *testing.T) *ciFixture {
	t.Helper()
	f := &ciFixture{}
	// The user GitHub expects with a token (GITHUB_TOKEN, as the action
	// passes it).
	f.git = gittest.New(t, gittest.WithBasicAuth(netpolicy.GitHubTokenUser, secret))
	f.reg = regtest.New(t, regtest.WithCredentials(regUser, secret))
	f.sourceURL = f.git.CreateRepo(t, "source.git")
	f.src = gittest.CommitFiles(t, f.git.Dir("source.git"), "main", map[string]string{"k8s/helm/Chart.yaml": "apiVersion: v2\nname: codeai\nversion: 0.1.0\n"}, "chart")
	f.gitopsURL = f.git.CreateRepo(t, "gitops.git")
	f.gitopsDir = f.git.Dir("gitops.git")
	gittest.CommitFiles(t, f.gitopsDir, "main", gitopstest.HelmStages("staging", "production"), "layout")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ref := r.URL.Query().Get("ref")
		repoTag, ok := strings.CutPrefix(ref, f.reg.Host+"/")
		if !ok {
			http.Error(w, "not this registry", http.StatusBadRequest)
			return
		}
		f.builds.Add(1)
		f.reg.PushImage(t, repoTag, map[string]string{"org.opencontainers.image.revision": f.src})
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	f.buildURL = ln.Addr().String()
	return f
}

// buildCommand is what a CI job's build step does here: build and push
// $IMAGE_REF (through the loopback builder), in plain bash.
func (f *ciFixture) buildCommand() string {
	host, port, _ := net.SplitHostPort(f.buildURL)
	return `exec 3<>/dev/tcp/` + host + `/` + port + ` && printf 'POST /build?ref=%s HTTP/1.0\r\n\r\n' "$IMAGE_REF" >&3 && head -n1 <&3 | grep -q ' 200 '`
}

func (f *ciFixture) imageRepo() string { return f.reg.Host + "/" + imageRepo }

// tagDigest is the digest the registry serves for git-<src> now.
func (f *ciFixture) tagDigest(t *testing.T) string {
	t.Helper()
	cl, err := images.New(images.Options{Getenv: func(k string) string {
		return map[string]string{images.EnvUsername: regUser, images.EnvPassword: secret, images.EnvRegistryHost: f.reg.Host}[k]
	}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := cl.Resolve(context.Background(), f.imageRepo()+":git-"+f.src)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}

// ciEnv is the environment of a CI job: the GitOps and registry
// credentials, and argo-refs.
func (f *ciFixture) ciEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"ARGO_REFS=" + binary,
		"GIT_USERNAME=" + netpolicy.GitHubTokenUser, "GIT_PASSWORD=" + secret,
		"ARGO_REFS_REGISTRY_USERNAME=" + regUser, "ARGO_REFS_REGISTRY_PASSWORD=" + secret,
		"HOME=" + os.TempDir(),
		"DOCKER_CONFIG=" + filepath.Join(os.TempDir(), "no-docker-config"),
	}
}

type ciRun struct {
	code           int
	stdout, stderr string
	outputs        map[string]string // $GITHUB_OUTPUT
}

// runAction runs the action's last step as GitHub runs a composite
// action's bash step: its run text with its env, the inputs (defaults from
// action.yml where not given) put in.
func (f *ciFixture) runAction(t *testing.T, inputs map[string]string) ciRun {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(actionDir, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs map[string]struct {
			Default  string `yaml:"default"`
			Required bool   `yaml:"required"`
		} `yaml:"inputs"`
		Runs struct {
			Using string `yaml:"using"`
			Steps []struct {
				ID    string            `yaml:"id"`
				Shell string            `yaml:"shell"`
				Env   map[string]string `yaml:"env"`
				Run   string            `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(raw, &action); err != nil {
		t.Fatal(err)
	}
	step := action.Runs.Steps[len(action.Runs.Steps)-1]
	if action.Runs.Using != "composite" || step.ID != "publish" || step.Shell != "bash" {
		t.Fatalf("action.yml: want a composite action whose last step (id publish) runs bash; got %s, %s, %s", action.Runs.Using, step.ID, step.Shell)
	}
	expr := regexp.MustCompile(`\$\{\{\s*([a-z.-]+)\s*\}\}`)
	eval := func(s string) string {
		return expr.ReplaceAllStringFunc(s, func(m string) string {
			name := expr.FindStringSubmatch(m)[1]
			switch {
			case name == "runner.temp":
				return filepath.Dir(binary)
			case strings.HasPrefix(name, "inputs."):
				in := strings.TrimPrefix(name, "inputs.")
				decl, ok := action.Inputs[in]
				if !ok {
					t.Fatalf("action.yml uses undeclared input %s", in)
				}
				if v, ok := inputs[in]; ok {
					return v
				}
				if decl.Required {
					t.Fatalf("required input %s not given", in)
				}
				return decl.Default
			}
			t.Fatalf("action.yml: unexpected expression %s in the publish step", m)
			return ""
		})
	}
	if expr.MatchString(step.Run) {
		t.Fatalf("the run text must take inputs through env, not ${{ }}:\n%s", step.Run)
	}
	out := filepath.Join(t.TempDir(), "github-output")
	env := []string{"PATH=" + os.Getenv("PATH"), "GITHUB_ACTION_PATH=" + actionDir, "GITHUB_OUTPUT=" + out, "HOME=" + os.TempDir()}
	for k, v := range step.Env {
		env = append(env, k+"="+eval(v))
	}
	script := filepath.Join(t.TempDir(), "step.sh")
	if err := os.WriteFile(script, []byte(step.Run), 0o600); err != nil {
		t.Fatal(err)
	}
	// What a runner does with `shell: bash`.
	r := f.run(t, env, "bash", "--noprofile", "--norc", "-eo", "pipefail", script)
	r.outputs = readGitHubOutput(t, out)
	return r
}

// runScript runs publish-once.sh as another CI system would.
func (f *ciFixture) runScript(t *testing.T, args ...string) ciRun {
	t.Helper()
	out := filepath.Join(t.TempDir(), "github-output")
	env := append(f.ciEnv(), "GITHUB_OUTPUT="+out)
	r := f.run(t, env, append([]string{filepath.Join(actionDir, "publish-once.sh")}, args...)...)
	r.outputs = readGitHubOutput(t, out)
	return r
}

func (f *ciFixture) run(t *testing.T, env []string, args ...string) ciRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := ciRun{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %v: %v", args, err)
		}
		r.code = ee.ExitCode()
	}
	for what, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		if strings.Contains(text, secret) {
			t.Errorf("the credential shows on %s", what)
		}
	}
	return r
}

func readGitHubOutput(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}

// TestCIRerunNeverMovesTheTag runs the CI logic twice for one commit: the
// action on the first run, the plain script on the re-run. The first run
// builds and publishes; the re-run builds nothing, pushes nothing and is
// "already published": one record, the tag's digest unchanged, and a
// promotion of the build succeeds afterwards. The old way (build and push
// again, then publish) moves the tag, and publish refuses it.
func TestCIRerunNeverMovesTheTag(t *testing.T) {
	t.Parallel()
	f := newCIFixture(t)
	inputs := map[string]string{
		"image-repo": f.imageRepo(), "git-commit": f.src, "build": f.buildCommand(),
		"gitops-repo": f.gitopsURL, "build-lock-dir": lockDir, "source-repo": f.sourceURL,
		"gitops-token": secret, "registry-username": regUser, "registry-password": secret,
	}
	first := f.runAction(t, inputs)
	if first.code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", first.code, first.stdout, first.stderr)
	}
	if first.outputs["built"] != "true" || f.builds.Load() != 1 {
		t.Fatalf("first run: built=%q, %d builds; want one build", first.outputs["built"], f.builds.Load())
	}
	d1 := f.tagDigest(t)
	if first.outputs["digest"] != d1 {
		t.Fatalf("first run recorded %s, the tag is at %s", first.outputs["digest"], d1)
	}
	published := gittest.Git(t, f.gitopsDir, "rev-parse", "main")

	rerun := f.runScript(t, "--image-repo", f.imageRepo(), "--git-commit", f.src,
		"--repo", f.gitopsURL, "--dir", lockDir, "--source-repo", f.sourceURL, "--source-path", "k8s/helm",
		"--", "bash", "-c", f.buildCommand())
	if rerun.code != 0 {
		t.Fatalf("re-run: exit %d\n%s\n%s", rerun.code, rerun.stdout, rerun.stderr)
	}
	if rerun.outputs["built"] != "false" || f.builds.Load() != 1 || rerun.outputs["digest"] != d1 {
		t.Errorf("re-run: built=%q digest=%q, %d builds; want no build and %s", rerun.outputs["built"], rerun.outputs["digest"], f.builds.Load(), d1)
	}
	if !strings.Contains(rerun.stdout, "already published") {
		t.Errorf("re-run output does not say already published:\n%s", rerun.stdout)
	}
	if tip := gittest.Git(t, f.gitopsDir, "rev-parse", "main"); tip != published {
		t.Errorf("the re-run committed (%s → %s)", published, tip)
	}
	if d := f.tagDigest(t); d != d1 {
		t.Errorf("the tag moved: %s → %s", d1, d)
	}
	records := gittest.Git(t, f.gitopsDir, "ls-tree", "--name-only", "main:"+lockDir)
	if records != "current.yaml\ngit-"+f.src+".yaml" {
		t.Errorf("records: %q", records)
	}

	// The build promotes after the re-run.
	s := newSandbox(t)
	cfg := s.writeFile(t, "config.yaml", "repoURL: "+f.gitopsURL+"\nbuildLockDir: "+lockDir+"\n"+
		"targets:\n  - deploymentFile: {}\n"+
		"credentials:\n  git: {username: "+netpolicy.GitHubTokenUser+", password: "+strconv.Quote(secret)+"}\n"+
		"  registry: {username: "+regUser+", password: "+strconv.Quote(secret)+", registry: "+f.reg.Host+"}\ntimeout: 20s\n")
	r := s.runStep(t, nil, stepArgs("promote", "staging", published, "--config="+cfg)...)
	wantCode(t, r, 0)

	// The old workflow: build and push again (a new digest), then publish.
	if c := f.run(t, append(f.ciEnv(), "IMAGE_REF="+f.imageRepo()+":git-"+f.src), "bash", "-c", f.buildCommand()); c.code != 0 {
		t.Fatalf("rebuild: %s", c.stderr)
	}
	d2 := f.tagDigest(t)
	old := f.run(t, f.ciEnv(), binary, "publish", "--repo", f.gitopsURL, "--dir", lockDir, "--git-commit", f.src,
		"--image-ref", f.imageRepo()+":git-"+f.src, "--image-digest", d2, "--source-repo", f.sourceURL)
	if old.code != 1 || !strings.Contains(old.stderr, d1) || !strings.Contains(old.stderr, d2) {
		t.Errorf("publishing a moved tag: exit %d, stderr %s; want 1 naming both digests", old.code, old.stderr)
	}
}

// TestCIBuildsThenPublishesAfterSigning: with sign or attest, the action
// first builds with --no-publish (the image exists, no record yet, so no
// Freight can name an unsigned image), signs and attests, then its last
// step publishes the digest without building again.
func TestCIBuildsThenPublishesAfterSigning(t *testing.T) {
	t.Parallel()
	f := newCIFixture(t)
	before := gittest.Git(t, f.gitopsDir, "rev-parse", "main")
	build := f.runScript(t, "--image-repo", f.imageRepo(), "--git-commit", f.src, "--no-publish", "--", "bash", "-c", f.buildCommand())
	if build.code != 0 || build.outputs["built"] != "true" || build.outputs["digest"] != f.tagDigest(t) {
		t.Fatalf("--no-publish: exit %d, outputs %v\n%s", build.code, build.outputs, build.stderr)
	}
	if !strings.Contains(build.stdout, "is not recorded yet") {
		t.Errorf("--no-publish output:\n%s", build.stdout)
	}
	if tip := gittest.Git(t, f.gitopsDir, "rev-parse", "main"); tip != before {
		t.Fatal("--no-publish committed a record")
	}
	publish := f.runAction(t, map[string]string{
		"image-repo": f.imageRepo(), "git-commit": f.src, "build": f.buildCommand(), "sign": "true", "attest": "true",
		"gitops-repo": f.gitopsURL, "build-lock-dir": lockDir, "source-repo": f.sourceURL,
		"gitops-token": secret, "registry-username": regUser, "registry-password": secret,
	})
	if publish.code != 0 || publish.outputs["built"] != "false" || publish.outputs["digest"] != build.outputs["digest"] || f.builds.Load() != 1 {
		t.Fatalf("publish step: exit %d, outputs %v, %d builds\n%s", publish.code, publish.outputs, f.builds.Load(), publish.stderr)
	}
	records := gittest.Git(t, f.gitopsDir, "ls-tree", "--name-only", "main:"+lockDir)
	if records != "current.yaml\ngit-"+f.src+".yaml" {
		t.Errorf("records: %q", records)
	}
}
