package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/images"
	"github.com/argo-refs/argo-refs/internal/regtest"
)

func runImages(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no host credentials
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"images"}, args...), stdio{
		stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		getenv: func(k string) string { return env[k] },
	})
	return code, stdout.String(), stderr.String()
}

func TestImagesCommand(t *testing.T) {
	const pass = "cli-s3cret-never-print"
	reg := regtest.New(t, regtest.WithCredentials("ci", pass))
	v1 := reg.PushImage(t, "app:v1", nil)
	old := reg.PushImage(t, "app:moving", nil)
	now := reg.PushImage(t, "app:moving", nil)
	env := map[string]string{images.EnvUsername: "ci", images.EnvPassword: pass}
	closed := regtest.New(t)
	closed.Close()

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		stdout   []string // substrings
		stderr   []string
	}{
		{"resolve", env, []string{"resolve", reg.Ref("app:v1")}, exitOK, []string{reg.Ref("app:v1") + " resolves to " + v1}, nil},
		{"verify match", env, []string{"verify", reg.Ref("app:v1"), v1}, exitOK, []string{"match: "}, nil},
		{"verify moved", env, []string{"verify", reg.Ref("app:moving"), old}, exitFailed, []string{"moved: ", now}, []string{old, now}},
		{"verify gone", env, []string{"verify", reg.Ref("app:none"), v1}, exitFailed, []string{"not-found: "}, nil},
		{"wrong credentials", map[string]string{images.EnvUsername: "ci", images.EnvPassword: "nope"}, []string{"verify", reg.Ref("app:v1"), v1}, exitFailed, []string{"unauthorized: "}, nil},
		{"registry down", env, []string{"verify", "--retries", "0", closed.Ref("app:v1"), v1}, exitTransient, []string{"unavailable: "}, nil},
		{"flags after arguments", env, []string{"verify", reg.Ref("app:v1"), v1, "--output", "json"}, exitOK, []string{`"result": "match"`}, nil},
		{"bad digest", env, []string{"verify", reg.Ref("app:v1"), "sha256:nope"}, exitUsage, nil, []string{"sha256:<64 lowercase hex>", "Example:"}},
		{"bad reference", env, []string{"resolve", "HTTPS://x"}, exitUsage, nil, []string{"invalid image reference"}},
		{"missing argument", env, []string{"verify", reg.Ref("app:v1")}, exitUsage, nil, []string{"REF DIGEST"}},
		{"unknown sub-command", env, []string{"push", "x"}, exitUsage, nil, []string{`"push"`}},
		{"bad output", env, []string{"resolve", "--output", "yaml", "x"}, exitUsage, nil, []string{"--output"}},
		{"ambient for a registry no cloud serves", map[string]string{"ARGO_REFS_REGISTRY_AMBIENT": "true"}, []string{"resolve", "ghcr.io/org/app:v1"},
			exitUsage, nil, []string{"ghcr.io is not an Amazon ECR, Google Artifact Registry or Container Registry, or Azure Container Registry host"}},
		{"ambient and a password", map[string]string{"ARGO_REFS_REGISTRY_AMBIENT": "true", images.EnvUsername: "ci", images.EnvPassword: pass}, []string{"resolve", "gcr.io/p/app:v1"},
			exitUsage, nil, []string{"give one kind of credentials"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runImages(t, tt.env, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout %q lacks %q", out, s)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr %q lacks %q", errOut, s)
				}
			}
			if strings.Contains(out+errOut, pass) {
				t.Errorf("output leaks the password:\n%s\n%s", out, errOut)
			}
		})
	}
}

func TestImagesJSON(t *testing.T) {
	reg := regtest.New(t)
	old := reg.PushImage(t, "app:v1", nil)
	now := reg.PushImage(t, "app:v1", nil)
	code, out, _ := runImages(t, nil, "verify", "--output", "json", reg.Ref("app:v1"), old)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	var got imageResult
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	want := imageResult{Ref: reg.Ref("app:v1"), Result: "moved", Want: old, Digest: now}
	if got.Message == "" {
		t.Error("message is empty")
	}
	got.Message = ""
	if got != want {
		t.Errorf("JSON = %+v, want %+v", got, want)
	}

	code, out, _ = runImages(t, nil, "resolve", "--output", "json", reg.Ref("app:v1"))
	if code != exitOK {
		t.Fatalf("resolve: exit %d", code)
	}
	var res imageResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Digest != now || res.Result != "resolved" || res.MediaType == "" || res.Size <= 0 {
		t.Errorf("resolve JSON = %+v (%v)", res, err)
	}
}

// TestImagesFlagSpellings: -o is --output, flags may follow the arguments,
// and the old --insecure-host still works, with a warning that names
// --insecure-http-hosts, the one spelling of plain http everywhere.
func TestImagesFlagSpellings(t *testing.T) {
	reg := regtest.New(t)
	reg.PushImage(t, "app:v1", nil)
	_, long, _ := runImages(t, nil, "resolve", reg.Ref("app:v1"), "--output", "json")
	code, short, _ := runImages(t, nil, "-o", "json", "resolve", reg.Ref("app:v1"))
	if code != exitOK || short != long || !strings.Contains(short, `"digest"`) {
		t.Fatalf("-o json: exit %d, %q; --output json: %q", code, short, long)
	}
	code, out, errOut := runImages(t, nil, "resolve", reg.Ref("app:v1"), "--insecure-host", "registry.internal:5000")
	if code != exitOK || !strings.Contains(out, "resolves to") || !strings.Contains(errOut, "--insecure-http-hosts") {
		t.Fatalf("--insecure-host: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runImages(t, nil, "resolve", reg.Ref("app:v1"), "--insecure-http-hosts", "a.internal,b.internal:5000", "--insecure-http-hosts", "c.internal")
	if code != exitOK || errOut != "" {
		t.Fatalf("--insecure-http-hosts: exit %d, stderr %q", code, errOut)
	}
}
