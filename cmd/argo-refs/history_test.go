package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
)

// TestHistoryCommand reads promotion trailers back as text and JSON.
func TestHistoryCommand(t *testing.T) {
	srv := gittest.New(t)
	repo := srv.CreateRepo(t, "gitops.git")
	bare := srv.Dir("gitops.git")
	a, b := strings.Repeat("a", 40), strings.Repeat("b", 40)
	digest := "sha256:" + strings.Repeat("5", 64)
	gittest.CommitFiles(t, bare, "main", map[string]string{"README.md": "x\n"}, "init")
	c1 := gittest.CommitFiles(t, bare, "main", map[string]string{"s.yaml": "1\n"},
		"Promote staging to git-"+a+"\n\nKargo-Stage: staging\nPromoted-By: alice\nSource-Commit: "+a+"\nImage: ghcr.io/o/app:git-"+a+"@"+digest+"\n")
	gittest.CommitFiles(t, bare, "main", map[string]string{"s.yaml": "2\n"},
		"Promote staging to git-"+b+"\n\nKargo-Stage: staging\nSource-Commit: "+b+"\nPrevious-Source-Commit: "+a+"\n")

	run1 := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"history", "--repo", repo}, args...), stdio{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
			getenv: func(string) string { return "" }})
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run1()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// One line per promotion, oldest first, after the stage's name; the
	// time is the commit's.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "staging" ||
		!strings.HasSuffix(lines[1], "Z  (none) → aaaaaaa  sha256:555555555555  by alice  commit "+c1[:7]) ||
		!strings.Contains(lines[2], "Z  aaaaaaa → bbbbbbb  (no image)  by ?  commit ") {
		t.Errorf("text output:\n%s", out)
	}
	code, out, _ = run1("-o", "json", "--stage", "staging")
	var res struct {
		Stages []struct {
			Name       string
			Promotions []struct{ From, To, By, Digest string }
		}
	}
	if err := json.Unmarshal([]byte(out), &res); code != exitOK || err != nil {
		t.Fatalf("exit %d, json %v:\n%s", code, err, out)
	}
	if len(res.Stages) != 1 || len(res.Stages[0].Promotions) != 2 || res.Stages[0].Promotions[1].From != a || res.Stages[0].Promotions[0].Digest != digest {
		t.Errorf("json: %+v", res)
	}
	if code, out, _ = run1("--stage", "production"); code != exitOK || !strings.Contains(out, "no promotions of production") {
		t.Errorf("unknown stage: exit %d: %s", code, out)
	}
	if code, _, _ = run1("--limit", "0"); code != exitUsage {
		t.Errorf("--limit 0: exit %d, want %d", code, exitUsage)
	}
}
