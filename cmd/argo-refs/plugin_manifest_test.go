package main

import (
	"bytes"
	"context"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/argo-refs/argo-refs/internal/manifests"
	"github.com/argo-refs/argo-refs/step/plugin"
)

// runPluginManifest runs `argo-refs plugin-manifest args...` and returns the
// exit code, stdout and stderr.
func runPluginManifest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"plugin-manifest"}, args...), stdio{
		stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		getenv: func(string) string { return "" },
	})
	return code, stdout.String(), stderr.String()
}

// wantPlugin is plugin.yaml for image example.test/argo-refs:t1, name ar,
// namespace kargo-project-x, written by hand from kargo-extended's StepPlugin
// format (keys sorted, as sigs.k8s.io/yaml writes them).
const wantPlugin = `apiVersion: kargo-extended.code.org/v1alpha1
kind: StepPlugin
metadata:
  name: ar
  namespace: kargo-project-x
spec:
  sidecar:
    automountServiceAccountToken: false
    container:
      args:
      - serve
      env:
      - name: TMPDIR
        value: /workspace
      image: example.test/argo-refs:t1
      imagePullPolicy: IfNotPresent
      name: ar
      ports:
      - containerPort: 9765
        name: http
      resources:
        limits:
          cpu: "1"
          memory: 512Mi
        requests:
          cpu: 100m
          memory: 128Mi
      securityContext:
        allowPrivilegeEscalation: false
        capabilities:
          drop:
          - ALL
        readOnlyRootFilesystem: true
        runAsGroup: 65532
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile:
          type: RuntimeDefault
  steps:
  - defaultErrorThreshold: 3
    defaultTimeout: 10m
    kind: argo-refs-promote
  - defaultErrorThreshold: 3
    defaultTimeout: 5m
    kind: argo-refs-verify
`

const wantConfigMapHead = `apiVersion: v1
data:
  sidecar.automountServiceAccountToken: "false"
  sidecar.container: |
    args:
    - serve
`

const wantConfigMapTail = `  steps.yaml: |
    - defaultErrorThreshold: 3
      defaultTimeout: 10m
      kind: argo-refs-promote
    - defaultErrorThreshold: 3
      defaultTimeout: 5m
      kind: argo-refs-verify
kind: ConfigMap
metadata:
  labels:
    kargo-extended.code.org/configmap-type: StepPlugin
  name: ar-step-plugin
  namespace: kargo-project-x
`

func TestPluginManifestPlugin(t *testing.T) {
	code, out, errOut := runPluginManifest(t, "--image", "example.test/argo-refs:t1", "--name", "ar", "--namespace", "kargo-project-x", "--output", "plugin")
	if code != exitOK {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, errOut)
	}
	if out != wantPlugin {
		t.Errorf("plugin.yaml differs\n--- got\n%s--- want\n%s", out, wantPlugin)
	}
}

func TestPluginManifestConfigMap(t *testing.T) {
	code, out, errOut := runPluginManifest(t, "--image", "example.test/argo-refs:t1", "--name", "ar", "--namespace", "kargo-project-x", "--output", "configmap")
	if code != exitOK {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, errOut)
	}
	if !strings.HasPrefix(out, wantConfigMapHead) || !strings.HasSuffix(out, wantConfigMapTail) {
		t.Errorf("ConfigMap does not start with\n%s\nand end with\n%s\ngot:\n%s", wantConfigMapHead, wantConfigMapTail, out)
	}

	// The ConfigMap must carry exactly the plugin's container and steps, in
	// the shapes kargo-extended reads back strictly.
	_, pluginOut, _ := runPluginManifest(t, "--image", "example.test/argo-refs:t1", "--name", "ar", "--namespace", "kargo-project-x", "--output", "plugin")
	var pl struct {
		Spec struct {
			Sidecar struct {
				Container corev1.Container `json:"container"`
			} `json:"sidecar"`
			Steps []kargoExtendedStep `json:"steps"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(pluginOut), &pl); err != nil {
		t.Fatalf("parsing plugin.yaml: %v", err)
	}
	var cm struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   map[string]any    `json:"metadata"`
		Data       map[string]string `json:"data"`
	}
	if err := yaml.UnmarshalStrict([]byte(out), &cm); err != nil {
		t.Fatalf("parsing the ConfigMap: %v", err)
	}
	if len(cm.Data) != 3 {
		t.Errorf("ConfigMap data has keys %v, want exactly sidecar.container, sidecar.automountServiceAccountToken, steps.yaml", reflect.ValueOf(cm.Data).MapKeys())
	}
	var c corev1.Container
	if err := yaml.UnmarshalStrict([]byte(cm.Data["sidecar.container"]), &c); err != nil {
		t.Fatalf("data[sidecar.container] is not a strict Kubernetes container spec: %v", err)
	}
	if !reflect.DeepEqual(c, pl.Spec.Sidecar.Container) {
		t.Errorf("data[sidecar.container] = %+v\nwant the plugin's container %+v", c, pl.Spec.Sidecar.Container)
	}
	var steps []kargoExtendedStep
	if err := yaml.UnmarshalStrict([]byte(cm.Data["steps.yaml"]), &steps); err != nil {
		t.Fatalf("data[steps.yaml]: %v", err)
	}
	if !reflect.DeepEqual(steps, pl.Spec.Steps) {
		t.Errorf("data[steps.yaml] = %v, want the plugin's steps %v", steps, pl.Spec.Steps)
	}
}

// kargoExtendedStep is kargo-extended's spec.Step
// (extended/pkg/argoworkflows/pkg/plugins/spec/plugin_types.go).
type kargoExtendedStep struct {
	Kind                  string          `json:"kind"`
	DefaultTimeout        metav1.Duration `json:"defaultTimeout,omitempty"`
	DefaultErrorThreshold uint32          `json:"defaultErrorThreshold,omitempty"`
}

// TestPluginManifestDeclaresTimeoutAndThreshold: without them kargo-extended
// gives each step an error threshold of 1 (one registry blip fails the
// Promotion) and no timeout.
func TestPluginManifestDeclaresTimeoutAndThreshold(t *testing.T) {
	code, out, errOut := runPluginManifest(t, "--image", "example.test/argo-refs:t1", "--output", "plugin")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, errOut)
	}
	var pl struct {
		Spec struct {
			Steps []kargoExtendedStep `json:"steps"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(out), &pl); err != nil {
		t.Fatal(err)
	}
	want := map[string]kargoExtendedStep{
		"argo-refs-promote": {Kind: "argo-refs-promote", DefaultTimeout: metav1.Duration{Duration: 10 * time.Minute}, DefaultErrorThreshold: 3},
		"argo-refs-verify":  {Kind: "argo-refs-verify", DefaultTimeout: metav1.Duration{Duration: 5 * time.Minute}, DefaultErrorThreshold: 3},
	}
	if len(pl.Spec.Steps) != len(want) {
		t.Fatalf("steps = %+v, want %d", pl.Spec.Steps, len(want))
	}
	for _, s := range pl.Spec.Steps {
		if s != want[s.Kind] {
			t.Errorf("step %+v, want %+v", s, want[s.Kind])
		}
		if s.DefaultErrorThreshold < 2 || s.DefaultTimeout.Duration <= 0 {
			t.Errorf("step %s: a threshold of %d and a timeout of %s leave a blip fatal or the step unbounded", s.Kind, s.DefaultErrorThreshold, s.DefaultTimeout.Duration)
		}
	}
}

func TestPluginManifestBothIsDeterministic(t *testing.T) {
	code, first, errOut := runPluginManifest(t, "--image", "example.test/argo-refs:t1", "--name", "ar", "--namespace", "kargo-project-x")
	if code != exitOK {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, errOut)
	}
	pluginYAML, cm, ok := strings.Cut(first, "---\n")
	if !ok || pluginYAML != wantPlugin || !strings.HasSuffix(cm, wantConfigMapTail) {
		t.Errorf("default output is not plugin.yaml, ---, ConfigMap:\n%s", first)
	}
	for range 5 {
		if _, again, _ := runPluginManifest(t, "--image", "example.test/argo-refs:t1", "--name", "ar", "--namespace", "kargo-project-x"); again != first {
			t.Fatalf("output changed between runs:\n%s\n---- vs ----\n%s", first, again)
		}
	}
}

func TestPluginManifestDefaults(t *testing.T) {
	code, out, errOut := runPluginManifest(t, "--image=ghcr.io/argo-refs/argo-refs:v0.1.0", "--output=configmap")
	if code != exitOK {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, errOut)
	}
	for _, want := range []string{"\n  name: argo-refs-step-plugin\n", "\n  namespace: kargo-system-resources\n", "    name: argo-refs\n", "    image: ghcr.io/argo-refs/argo-refs:v0.1.0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("default ConfigMap lacks %q:\n%s", want, out)
		}
	}
}

func TestPluginManifestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no image", []string{"--output", "plugin"}, "--image is required"},
		{"bad output", []string{"--image", "x/y:z", "--output", "json"}, `--output is "json", want plugin, configmap or both`},
		{"stray argument", []string{"--image", "x/y:z", "extra"}, `unexpected argument "extra"`},
		{"upper-case name", []string{"--image", "x/y:z", "--name", "Argo"}, `name "Argo" is not a DNS-1123 label`},
		{"bad namespace", []string{"--image", "x/y:z", "--namespace", "a_b"}, `namespace "a_b" is not a DNS-1123 label`},
		{"image with space", []string{"--image", "x/y :z"}, "contains white space"},
		{"unknown flag", []string{"--image", "x/y:z", "--port", "1"}, "unknown flag: --port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runPluginManifest(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d", code, exitUsage)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing on a usage error", out)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tc.wantErr)
			}
		})
	}
}

func TestPluginManifestHelp(t *testing.T) {
	// Help is asked for, so it goes to stdout, as with kubectl and argocd.
	code, out, errOut := runPluginManifest(t, "--help")
	if code != exitOK || errOut != "" {
		t.Errorf("exit code = %d, stderr %q; want 0 and nothing", code, errOut)
	}
	for _, want := range []string{"Usage: argo-refs plugin-manifest --image IMAGE", "-o, --output", "Example:\n  argo-refs plugin-manifest --image"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

// TestPluginManifestExamplesUpToDate regenerates the committed example files
// with the command itself and compares them byte for byte.
func TestPluginManifestExamplesUpToDate(t *testing.T) {
	for output, file := range map[string]string{
		"plugin":    "../../examples/plugin/plugin.yaml",
		"configmap": "../../examples/plugin/argo-refs-step-plugin-configmap.yaml",
	} {
		code, out, errOut := runPluginManifest(t, "--image", "ghcr.io/argo-refs/argo-refs:v0.1.0", "--output", output)
		if code != exitOK {
			t.Fatalf("exit code = %d; stderr:\n%s", code, errOut)
		}
		committed, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(committed) != out {
			t.Errorf("%s is out of date; regenerate it with\n  go run ./cmd/argo-refs plugin-manifest --image ghcr.io/argo-refs/argo-refs:v0.1.0 --output %s > %s", file, output, strings.TrimPrefix(file, "../../"))
		}
	}
}

// TestExampleCommandsUseRealFlags checks that the commands the examples run
// (the Akuity custom steps and the GitHub Actions workflow) only pass flags
// the argo-refs commands define.
func TestExampleCommandsUseRealFlags(t *testing.T) {
	data, err := os.ReadFile("../../examples/custom-step/custom-promotion-steps.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, d := range strings.Split(string(data), "\n---\n") {
		var cps struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				Command []string `json:"command"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(d), &cps); err != nil {
			t.Fatal(err)
		}
		if len(cps.Spec.Command) < 2 || cps.Spec.Command[0] != "/argo-refs" {
			t.Fatalf("%s: command %v does not run /argo-refs", cps.Metadata.Name, cps.Spec.Command)
		}
		checkFlagsDefined(t, cps.Metadata.Name, cps.Spec.Command[1], cps.Spec.Command[2:])
		checked++
	}
	if checked != 2 {
		t.Errorf("checked %d CustomPromotionSteps, want 2", checked)
	}

	for file, command := range map[string]string{"record-legacy-merge.yaml": "legacy-merge", "gitops-contract.yaml": "lint"} {
		data, err = os.ReadFile("../../examples/.github/workflows/" + file)
		if err != nil {
			t.Fatal(err)
		}
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Uses string `json:"uses"`
					With struct {
						Args string `json:"args"`
					} `json:"with"`
				} `json:"steps"`
			} `json:"jobs"`
		}
		if err := yaml.Unmarshal(data, &wf); err != nil {
			t.Fatal(err)
		}
		expr := regexp.MustCompile(`\$\{\{.*?\}\}`)
		runs := 0
		for _, j := range wf.Jobs {
			for _, s := range j.Steps {
				if !strings.HasPrefix(s.Uses, "docker://ghcr.io/argo-refs/argo-refs:") {
					continue
				}
				args := strings.Fields(expr.ReplaceAllString(s.With.Args, "x"))
				if len(args) == 0 || args[0] != command {
					t.Fatalf("%s runs the argo-refs image with args %v, want %s", file, args, command)
				}
				checkFlagsDefined(t, file, args[0], args[1:])
				runs++
			}
		}
		if runs != 1 {
			t.Errorf("%s runs the argo-refs image %d times, want 1", file, runs)
		}
	}

	// publish-build-lock.yaml runs actions/publish-once, whose script hands
	// every flag but its own two, before --, to argo-refs publish.
	data, err = os.ReadFile("../../actions/publish-once/action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Runs struct {
			Steps []struct {
				Run string `json:"run"`
			} `json:"steps"`
		} `json:"runs"`
	}
	if err := yaml.Unmarshal(data, &action); err != nil {
		t.Fatal(err)
	}
	run := action.Runs.Steps[len(action.Runs.Steps)-1].Run
	before, _, ok := strings.Cut(run, " -- ")
	fields := strings.Fields(before)
	if !ok || len(fields) < 5 || !strings.HasSuffix(fields[0], `/publish-once.sh"`) {
		t.Fatalf("action.yml's last step does not run publish-once.sh FLAGS -- BUILD: %q", run)
	}
	var publishFlags []string
	for i := 1; i < len(fields); i++ {
		if fields[i] == "--image-repo" || fields[i] == "--git-commit" {
			i++
			continue
		}
		publishFlags = append(publishFlags, fields[i])
	}
	checkFlagsDefined(t, "actions/publish-once/action.yml", "publish", publishFlags)
}

// checkFlagsDefined fails for every --flag in args that command cmdName does
// not define.
func checkFlagsDefined(t *testing.T, where, cmdName string, args []string) {
	t.Helper()
	var cmd *command
	for _, c := range commands() {
		if c.name == cmdName {
			cmd = c
		}
	}
	if cmd == nil {
		t.Fatalf("%s runs unknown command %q", where, cmdName)
	}
	fs := pflag.NewFlagSet(cmdName, pflag.ContinueOnError)
	if cmd.setup != nil {
		cmd.setup(fs)
	}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			continue
		}
		if fs.Lookup(name) == nil {
			t.Errorf("%s passes %s, but `argo-refs %s` has no flag %q", where, a, cmdName, name)
		}
	}
}

// TestPluginManifestMatchesServeDefaults ties the sidecar's port and token
// path to what `argo-refs serve` uses when given no flags, since plugin.yaml
// runs it with args [serve] only.
func TestPluginManifestMatchesServeDefaults(t *testing.T) {
	if want := ":" + strconv.Itoa(manifests.DefaultPort); plugin.DefaultListen != want {
		t.Errorf("serve listens on %q by default, but plugin.yaml declares port %d", plugin.DefaultListen, manifests.DefaultPort)
	}
	if plugin.DefaultTokenFile != "/var/run/kargo/token" {
		t.Errorf("serve reads its token from %q by default; kargo-extended mounts it at /var/run/kargo/token", plugin.DefaultTokenFile)
	}
}
