// Package e2e runs the built argo-refs binary the way its users' runtimes
// do: as a Kargo custom step (a non-root process in the promotion's work
// dir, outputs in $KARGO_OUTPUT, exit codes 0/1/2/3) and as a
// kargo-extended StepPlugin sidecar (HTTP requests shaped as kargo-extended
// sends them), against a real git http-backend and a real registry on
// 127.0.0.1.
//
// Run: go test -race ./e2e/ (as root, the binary runs as uid/gid 65532).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/gitopstest"
	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/internal/regtest"
	"github.com/argo-refs/argo-refs/warehouse"
)

const (
	lockDir   = "warehouses/codeai/builds"
	secret    = leaktest.Secret
	gitUser   = "kargo"
	regUser   = "puller"
	whName    = "codeai-builds"
	imageRepo = "code-dot-org/code-dot-org"
	// runAs is the user and group Kargo runs custom steps and the image as.
	runAs = 65532
	// testVersion is stamped into the binary as the Dockerfile stamps one.
	testVersion = "v0.0.0-e2e"
)

// binary is the argo-refs executable TestMain built, the way the
// Dockerfile builds it.
var binary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "argo-refs-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The user the binary runs as must reach it.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	binary = filepath.Join(dir, "argo-refs")
	// The Dockerfile's build command; GOFLAGS is cleared so that a -race
	// from the caller's environment cannot make it a cgo build.
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+testVersion, "-o", binary, "../cmd/argo-refs")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building argo-refs: %v\n%s", err, out)
		return 1
	}
	// The helpers go next to argo-refs, as in the image.
	for _, helper := range []string{"argo-refs-render", "argo-refs-cloud-auth", "argo-refs-trust"} {
		build = exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, helper), "../cmd/"+helper)
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building %s: %v\n%s", helper, err, out)
			return 1
		}
	}
	return m.Run()
}

// TestBinaryIsStatic checks that the binary has no ELF interpreter, so it
// runs in a scratch image with no libc.
func TestBinaryIsStatic(t *testing.T) {
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary has a PT_INTERP program header: it is dynamically linked")
		}
	}
	if f.Section(".interp") != nil || f.Section(".dynamic") != nil {
		t.Fatal("the binary has an .interp or .dynamic section: it is dynamically linked")
	}
	out, err := exec.Command(binary, "version").Output()
	if err != nil || string(out) != "argo-refs "+testVersion+"\n" {
		t.Fatalf("argo-refs version printed %q (%v), want the stamped %s", out, err, testVersion)
	}
}

// fixture is a GitOps repository in the helm layout, a source repository
// and a registry, all real and on 127.0.0.1, holding one published release.
type fixture struct {
	git       *gittest.Server
	reg       *regtest.Registry
	gitopsURL string
	gitopsDir string
	sourceURL string
	srcCommit string
	imageRef  string
	digest    string
	freight   string // the GitOps commit that published the record
}

func newFixture(t *testing.T, regOpts ...regtest.Option) *fixture {
	t.Helper()
	return newFixtureWithGit(t, nil, regOpts...)
}

// newFixtureWithGit is newFixture with more options for the Git server
// (its set-up writes the repositories directly, so middlewares see only
// the step's requests).
func newFixtureWithGit(t *testing.T, gitOpts []gittest.Option, regOpts ...regtest.Option) *fixture {
	t.Helper()
	f := &fixture{}
	f.git = gittest.New(t, append([]gittest.Option{gittest.WithBasicAuth(gitUser, secret)}, gitOpts...)...)
	f.reg = regtest.New(t, append([]regtest.Option{regtest.WithCredentials(regUser, secret)}, regOpts...)...)

	f.sourceURL = f.git.CreateRepo(t, "source.git")
	f.srcCommit = gittest.CommitFiles(t, f.git.Dir("source.git"), "main", map[string]string{
		"k8s/helm/Chart.yaml": "apiVersion: v2\nname: codeai\nversion: 0.1.0\n",
	}, "chart")
	tag := imageRepo + ":git-" + f.srcCommit
	f.imageRef = f.reg.Ref(tag)
	f.digest = f.reg.PushImage(t, tag, map[string]string{"org.opencontainers.image.revision": f.srcCommit})

	f.gitopsURL = f.git.CreateRepo(t, "gitops.git")
	f.gitopsDir = f.git.Dir("gitops.git")
	files := gitopstest.HelmStages("staging", "production")
	gittest.CommitFiles(t, f.gitopsDir, "main", files, "layout")
	rec, err := warehouse.New(f.srcCommit, f.imageRef, f.digest, warehouse.PackagingHelm, f.sourceURL, "k8s/helm",
		time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	f.freight = gitopstest.PublishRecord(t, f.gitopsDir, "main", lockDir, rec)
	return f
}

// configYAML is a step config as a CustomPromotionStep's templates leave it:
// every ${{ }} already replaced by a plain value, secrets included.
func (f *fixture) configYAML(extra string) string {
	return "repoURL: " + f.gitopsURL + "\n" +
		"warehouse: " + whName + "\n" +
		"buildLockDir: " + lockDir + "\n" +
		"packaging:\n  kind: helm\n  sourcePath: k8s/helm\n" +
		"targets:\n  - deploymentFile: {}\n" +
		"credentials:\n" +
		"  git: {username: " + gitUser + ", password: " + strconv.Quote(secret) + "}\n" +
		"  registry: {username: " + regUser + ", password: " + strconv.Quote(secret) + ", registry: " + f.reg.Host + "}\n" +
		"timeout: 20s\n" + extra
}

// configJSON is the config as Kargo hands it to a StepPlugin: plain JSON.
func (f *fixture) configJSON(extra map[string]any) map[string]any {
	cfg := map[string]any{
		"repoURL":      f.gitopsURL,
		"warehouse":    whName,
		"buildLockDir": lockDir,
		"targets":      []any{map[string]any{"deploymentFile": map[string]any{}}},
		"credentials": map[string]any{
			"git":      map[string]any{"username": gitUser, "password": secret},
			"registry": map[string]any{"username": regUser, "password": secret, "registry": f.reg.Host},
		},
		"timeout": "20s",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func (f *fixture) tip(t *testing.T) string {
	t.Helper()
	return gittest.Git(t, f.gitopsDir, "rev-parse", "main")
}

func (f *fixture) show(t *testing.T, path string) string {
	t.Helper()
	return gittest.Git(t, f.gitopsDir, "show", "main:"+path)
}

// sandbox is the file system a step process sees: a work dir shared with
// other steps, a TMPDIR, the directory of $KARGO_OUTPUT, and a sentinel
// directory it must not touch. Only work, tmp and out belong to runAs.
type sandbox struct {
	root, work, tmp, out, sentinel string
	outputFile                     string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	root, err := os.MkdirTemp("", "argo-refs-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A non-root owner cannot empty the read-only sentinel.
		_ = os.Chmod(filepath.Join(root, "sentinel"), 0o755)
		_ = os.RemoveAll(root)
	})
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &sandbox{
		root:     root,
		work:     filepath.Join(root, "workspace"),
		tmp:      filepath.Join(root, "tmp"),
		out:      filepath.Join(root, "out"),
		sentinel: filepath.Join(root, "sentinel"),
	}
	s.outputFile = filepath.Join(s.out, "kargo-output")
	for _, d := range []string{s.work, s.tmp, s.out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		chownRunAs(t, d)
	}
	// Another step's file in the shared work dir, which must stay as it is.
	other := filepath.Join(s.work, "other-step.txt")
	if err := os.WriteFile(other, []byte("left by git-clone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	chownRunAs(t, other)
	// A read-only directory open to everyone's reading.
	if err := os.Mkdir(s.sentinel, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.sentinel, "keep.txt"), []byte("untouched\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.sentinel, 0o555); err != nil {
		t.Fatal(err)
	}
	return s
}

func chownRunAs(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return // the process runs as this same non-root user
	}
	if err := os.Chown(path, runAs, runAs); err != nil {
		t.Fatal(err)
	}
}

// writeFile writes a file the step process can read.
func (s *sandbox) writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(s.root, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// snapshot lists every path under root with its size, mode and mtime, and
// its owner.
func (s *sandbox) snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		files[p] = fmt.Sprintf("%s %d %d uid=%d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano(), st.Uid)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkUntouched fails if anything changed under the sandbox other than
// the outputs file and the scratch TMPDIR, which must be empty again.
func (s *sandbox) checkUntouched(t *testing.T, before map[string]string) {
	t.Helper()
	after := s.snapshot(t, s.root)
	var diffs []string
	for p, v := range after {
		if p == s.outputFile || p == s.out || p == s.work || p == s.tmp {
			continue // a dir's own mtime may move when scratch files come and go
		}
		if before[p] != v {
			diffs = append(diffs, fmt.Sprintf("%s: %q -> %q", p, before[p], v))
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok && p != s.outputFile {
			diffs = append(diffs, p+": removed")
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("the process changed files outside its outputs file:\n%s", strings.Join(diffs, "\n"))
	}
}

// result is what one run of the binary left.
type result struct {
	code           int
	stdout, stderr string
	outputs        map[string]string // nil when the outputs file is missing
	rawOutputs     string
	elapsed        time.Duration
}

// runStep runs the binary as the custom-step runtime does: as runAs, in
// the work dir, with a minimal environment (no HOME), KARGO_OUTPUT set.
func (s *sandbox) runStep(t *testing.T, env []string, args ...string) result {
	t.Helper()
	_ = os.Remove(s.outputFile)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = s.work
	// No PATH, as in the scratch image: the binary must need no other
	// program (git included).
	cmd.Env = append([]string{
		"TMPDIR=" + s.tmp,
		"KARGO_OUTPUT=" + s.outputFile,
	}, env...)
	cmd.SysProcAttr = runAsAttr()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running argo-refs %v: %v", args, err)
		}
		r.code = ee.ExitCode()
	}
	if fi, err := os.Stat(s.outputFile); err == nil && os.Geteuid() == 0 {
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != runAs {
			t.Errorf("the outputs file is owned by uid %d: the step did not run as %d", uid, runAs)
		}
	}
	if b, err := os.ReadFile(s.outputFile); err == nil {
		r.rawOutputs = string(b)
		if !strings.HasPrefix(r.rawOutputs, "{") { // JSON (--kargo-output=json) is read by its test
			r.outputs = parseOutputs(t, r.rawOutputs)
		}
	}
	for what, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr, "outputs": r.rawOutputs} {
		if form := leaktest.Find(text, gitUser, secret); form != "" {
			t.Errorf("argo-refs %s: the credential shows on %s as %q", args[0], what, form)
		}
	}
	return r
}

func runAsAttr() *syscall.SysProcAttr {
	if os.Geteuid() != 0 {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: runAs, Gid: runAs}}
}

// parseOutputs reads a $KARGO_OUTPUT file the way Kargo and GitHub Actions
// do: "key=value" lines, and "key<<DELIM" ... "DELIM" blocks whose value is
// the lines in between joined by "\n".
func parseOutputs(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		eq := strings.Index(line, "=")
		hd := strings.Index(line, "<<")
		if hd >= 0 && (eq < 0 || hd < eq) {
			key, delim := line[:hd], line[hd+2:]
			if delim == "" {
				t.Fatalf("outputs: heredoc for %q without a delimiter", key)
			}
			var lines []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				lines = append(lines, sc.Text())
			}
			if !closed {
				t.Fatalf("outputs: heredoc for %q not closed by %q", key, delim)
			}
			out[key] = strings.Join(lines, "\n")
			continue
		}
		if eq <= 0 {
			t.Fatalf("outputs: line %q is neither key=value nor key<<DELIM", line)
		}
		out[line[:eq]] = line[eq+1:]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lines returns the non-empty lines of s.
func lines(s string) []string {
	var ls []string
	for l := range strings.Lines(s) {
		if l = strings.TrimRight(l, "\r\n"); strings.TrimSpace(l) != "" {
			ls = append(ls, l)
		}
	}
	return ls
}

// jsonLines decodes every line of a JSON log.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range lines(s) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}
