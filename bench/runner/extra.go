package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/argo-refs/argo-refs/bench/internal/benchdata"
)

const (
	serveAddr        = "127.0.0.1:18090"
	serveConcurrency = 50
	serveToken       = "bench-plugin-token"
)

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(p*float64(len(s))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

// stepConfig is the config the benchmark gives both promote and verify.
func stepConfig(c config, repo, freight string) map[string]any {
	return map[string]any{
		"repoURL":           "http://" + c.meta.GitAddr + "/" + repo + ".git",
		"branch":            "main",
		"commit":            freight,
		"buildLockDir":      "warehouses/codeai/builds",
		"targets":           []any{map[string]any{"deploymentFile": map[string]any{}}},
		"checks":            map[string]any{"imageDigest": true, "sourceCommit": true},
		"packaging":         map[string]any{"kind": "helm", "sourceRepo": c.meta.SourceURL, "sourcePath": "k8s/helm"},
		"insecureHTTPHosts": []any{},
	}
}

// serveSection starts `argo-refs serve` under /usr/bin/time, sends one
// warm-up verify, then serveConcurrency verifies at once, and reports
// latency percentiles, peak RSS and registry requests per verification.
func serveSection(c config) section {
	sec := section{title: fmt.Sprintf("serve: %d concurrent verify requests (StepPlugin API, repo L)", serveConcurrency)}
	regTarget := target{what: "Registry: with a warm token, one verification is one HTTP round trip"}
	if why := readiness(c.bin, "serve"); why != "" {
		sec.body = "not ready: " + why
		regTarget.measured = "serve not ready"
		sec.targets = []target{regTarget}
		return sec
	}
	body, tgt, err := runServe(c)
	if err != nil && strings.Contains(err.Error(), "not implemented") {
		sec.body = "not ready: " + tail(err.Error(), 200)
		regTarget.measured = "serve: step not implemented yet"
		sec.targets = []target{regTarget}
		return sec
	}
	if err != nil {
		sec.body = "FAILED: " + err.Error()
		regTarget.measured = "serve failed"
		regTarget.pass = yes(false)
		sec.targets = []target{regTarget}
		return sec
	}
	sec.body = body
	sec.targets = []target{tgt}
	return sec
}

func runServe(c config) (string, target, error) {
	t := target{what: "Registry: with a warm token, one verification is one HTTP round trip"}
	rm, ok := c.meta.Repos["L"]
	if !ok {
		return "", t, fmt.Errorf("repo L not generated")
	}
	tmp, err := os.MkdirTemp("", "argo-refs-bench-serve-")
	if err != nil {
		return "", t, err
	}
	defer os.RemoveAll(tmp)
	tokenFile := filepath.Join(tmp, "token")
	if err := os.WriteFile(tokenFile, []byte(serveToken+"\n"), 0o600); err != nil {
		return "", t, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, "serve", "--listen", serveAddr, "--token-file", tokenFile)
	cmd.Dir = tmp
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return "", t, fmt.Errorf("starting argo-refs serve: %w", err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	defer stop()
	if err := waitListening(serveAddr, 20*time.Second); err != nil {
		return "", t, fmt.Errorf("argo-refs serve: %w: %s", err, tail(logs.String(), 400))
	}
	cfg, _ := json.Marshal(stepConfig(c, "L", rm.Freight))
	req := map[string]any{
		"context": map[string]any{
			"workDir": tmp, "project": "bench", "stage": "staging", "promotion": "p1",
			"freight": map[string]any{"id": rm.Freight, "items": map[string]any{
				"Warehouse/codeai-builds": map[string]any{
					"name": rm.Freight, "origin": map[string]any{"kind": "Warehouse", "name": "codeai-builds"},
					"commits": []any{map[string]any{"repoURL": "http://" + c.meta.GitAddr + "/L.git", "id": rm.Freight}},
				}}},
		},
		"step": map[string]any{"kind": "argo-refs-verify", "config": json.RawMessage(cfg)},
	}
	reqBody, _ := json.Marshal(req)
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: serveConcurrency}}
	call := func() (float64, error) {
		t0 := time.Now()
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+serveAddr+"/api/v1/step.execute", bytes.NewReader(reqBody))
		if err != nil {
			return 0, err
		}
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+serveToken)
		resp, err := client.Do(r)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out struct {
			Status, Message, Error string
		}
		_ = json.Unmarshal(b, &out)
		if resp.StatusCode != http.StatusOK || out.Status != "Succeeded" {
			return 0, fmt.Errorf("status %d, step %s: %s %s", resp.StatusCode, out.Status, out.Message, out.Error)
		}
		return time.Since(t0).Seconds(), nil
	}
	warm, err := call()
	if err != nil {
		return "", t, fmt.Errorf("warm-up verify: %w", err)
	}
	if _, err := readStats(c); err != nil {
		return "", t, err
	}
	lat := make([]float64, serveConcurrency)
	errs := make([]error, serveConcurrency)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range serveConcurrency {
		wg.Add(1)
		go func() { defer wg.Done(); lat[i], errs[i] = call() }()
	}
	wg.Wait()
	total := time.Since(t0).Seconds()
	st, err := readStats(c)
	if err != nil {
		return "", t, err
	}
	stop()
	var rss int64 // KiB, from wait4's rusage
	var cpu float64
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss
		}
		cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	}
	var okLat []float64
	var firstErr error
	for i, e := range errs {
		if e != nil {
			if firstErr == nil {
				firstErr = e
			}
			continue
		}
		okLat = append(okLat, lat[i])
	}
	reg := st["registry"].Requests + st["registry-token"].Requests + st["registry-401"].Requests
	perVerify := float64(reg) / float64(serveConcurrency)
	var b strings.Builder
	fmt.Fprintf(&b, "| requests | succeeded | p50 | p95 | max | all done in | serve CPU (whole life) / git server CPU (the 50) | peak RSS | registry reqs / verify | GitOps bytes / verify | source bytes / verify | warm-up (cold) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %d | %.3f s | %.3f s | %.3f s | %.3f s | %.2f s / %.2f s | %.1f MiB | %.2f (token %d, 401 %d) | %s | %s | %.3f s |\n",
		serveConcurrency, len(okLat), percentile(okLat, 0.5), percentile(okLat, 0.95), percentile(okLat, 1), total, cpu, st["_server"].CPUSeconds, float64(rss)/1024,
		perVerify, st["registry-token"].Requests, st["registry-401"].Requests,
		bytesStr(float64(st["L.git"].BytesOut)/serveConcurrency), bytesStr(float64(st["S.git"].BytesOut)/serveConcurrency), warm)
	if firstErr != nil {
		fmt.Fprintf(&b, "\nFirst error: %s\n", tail(firstErr.Error(), 300))
	}
	t.measured = fmt.Sprintf("%.2f registry requests per verification after warm-up (%d token requests)", perVerify, st["registry-token"].Requests)
	t.pass = yes(len(okLat) == serveConcurrency && perVerify <= 1.0 && st["registry-token"].Requests == 0)
	return b.String(), t, nil
}

func waitListening(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not listening on %s after %s", addr, d)
}

const publishers = 20

// publishRun is one `argo-refs publish` process.
type publishRun struct {
	wall   float64
	rssKiB int64
	err    string
}

// runPublish runs bench/ways/publish.sh for build b as a process under
// /usr/bin/time.
func runPublish(ctx context.Context, c config, b benchdata.Build) publishRun {
	var pr publishRun
	work, err := os.MkdirTemp("", "argo-refs-bench-publish-")
	if err != nil {
		pr.err = err.Error()
		return pr
	}
	defer os.RemoveAll(work)
	runDir := filepath.Join(work, "w")
	if err := os.Mkdir(runDir, 0o755); err != nil {
		pr.err = err.Error()
		return pr
	}
	rssFile := filepath.Join(work, ".rss")
	cmd := exec.CommandContext(ctx, "/usr/bin/time", "-f", "%M", "-o", rssFile, "bash", filepath.Join(c.waysAbs, "publish.sh"))
	cmd.Env = append(os.Environ(),
		"GITOPS_URL=http://"+c.meta.GitAddr+"/L.git", "BRANCH=main", "BUILDS=warehouses/codeai/builds",
		"WORK="+runDir, "ARGO_REFS="+c.bin,
		"GIT_COMMIT="+b.GitCommit, "IMAGE_REF="+b.ImageRef, "IMAGE_DIGEST="+b.Digest, "SOURCE_URL="+c.meta.SourceURL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err = cmd.Run()
	pr.wall = time.Since(t0).Seconds()
	pr.rssKiB = readRSS(rssFile)
	if err != nil {
		pr.err = fmt.Sprintf("%v: %s", err, tail(out.String(), 400))
	}
	return pr
}

// hasScalar reports whether a line of text is `key: value`, the value plain
// or in single or double quotes (writers quote what YAML could misread).
func hasScalar(text, key, value string) bool {
	for _, q := range []string{"", "'", `"`} {
		if strings.Contains(text, key+": "+q+value+q+"\n") {
			return true
		}
	}
	return false
}

func readRSS(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	n, _ := strconv.ParseInt(strings.TrimSpace(lines[len(lines)-1]), 10, 64)
	return n
}

// publishedOK checks that main holds build b's record and it is byte-identical
// in git-<sha>.yaml; current.yaml is checked by the caller.
func publishedOK(repoDir string, b benchdata.Build) error {
	rec, err := gitIn(repoDir, "show", "main:warehouses/codeai/builds/git-"+b.GitCommit+".yaml")
	if err != nil {
		return fmt.Errorf("record of %s not on main: %w", b.GitCommit, err)
	}
	if !hasScalar(rec, "gitCommit", b.GitCommit) || !strings.Contains(rec, b.Digest) {
		return fmt.Errorf("record of %s on main does not name its commit and digest", b.GitCommit)
	}
	return nil
}

// publishSection measures `argo-refs publish` on L: one publisher (median of
// c.runs after a warm-up), then publishers at once, all of which must land.
func publishSection(c config, limitL summary) section {
	sec := section{title: fmt.Sprintf("publish: one publisher, then %d concurrent publishers (repo L)", publishers)}
	// Issue 19: the wall of a publish is the Git server's CPU on this
	// machine; what argo-refs controls is its requests and bytes.
	tgt := target{what: "publish on L: ≤ 4 GitOps requests and ≤ 1.2× the limit recipe's bytes (wall for information)"}
	all := target{what: fmt.Sprintf("publish: %d concurrent publishers all land", publishers)}
	fail := func(msg string, pass *bool) section {
		sec.body = msg
		tgt.measured, all.measured = msg, msg
		tgt.pass, all.pass = pass, pass
		sec.targets = []target{tgt, all}
		return sec
	}
	if why := readiness(c.bin, "publish"); why != "" {
		return fail("not ready: "+why, nil)
	}
	rm, ok := c.meta.Repos["L"]
	if !ok || len(c.meta.Spare) < publishers {
		return fail("needs repo L and spare builds in meta.json: regenerate with the current bench/gen", nil)
	}
	repoDir := filepath.Join(c.dir, "repos", "L.git")
	defer func() { _, _ = gitIn(repoDir, "update-ref", "refs/heads/main", rm.Tip) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// One publisher.
	var walls, rss, bytesOut, reqs, attempts, gitopsReqs []float64
	var firstErr string
	for i := 0; i <= c.runs; i++ {
		if _, err := gitIn(repoDir, "update-ref", "refs/heads/main", rm.Tip); err != nil {
			return fail(err.Error(), yes(false))
		}
		if _, err := readStats(c); err != nil {
			return fail(err.Error(), yes(false))
		}
		pr := runPublish(ctx, c, c.meta.Spare[0])
		st, _ := readStats(c)
		if pr.err == "" {
			if err := publishedOK(repoDir, c.meta.Spare[0]); err != nil {
				pr.err = err.Error()
			}
		}
		if pr.err != "" {
			if strings.Contains(pr.err, "not implemented") {
				return fail("not ready: "+tail(pr.err, 200), nil)
			}
			if firstErr == "" {
				firstErr = pr.err
			}
			continue
		}
		if i == 0 {
			continue // warm-up
		}
		walls = append(walls, pr.wall)
		rss = append(rss, float64(pr.rssKiB)/1024)
		bytesOut = append(bytesOut, float64(st["L.git"].BytesOut))
		gitopsReqs = append(gitopsReqs, float64(st["L.git"].Requests))
		reqs = append(reqs, float64(st["L.git"].Requests+st["S.git"].Requests+st["registry"].Requests+st["registry-token"].Requests+st["registry-401"].Requests))
		attempts = append(attempts, float64(st["L.git POST git-receive-pack"].Requests))
	}
	var b strings.Builder
	if len(walls) == 0 {
		return fail("FAILED: "+tail(firstErr, 400), yes(false))
	}
	sort.Float64s(walls)
	fmt.Fprintf(&b, "One publisher, median of %d: %.3f s (%.3f–%.3f), peak RSS %.1f MiB, %s from the GitOps server, %.0f requests, %.0f push(es).\n",
		len(walls), median(walls), walls[0], walls[len(walls)-1], median(rss), bytesStr(median(bytesOut)), median(reqs), median(attempts))
	if firstErr != "" {
		fmt.Fprintf(&b, "\nSome single runs failed; first error: %s\n", tail(firstErr, 300))
	}
	tgt.measured = fmt.Sprintf("%.0f GitOps requests; %s vs limit recipe %s (%s); %.3f s", median(gitopsReqs), bytesStr(median(bytesOut)), bytesStr(limitL.gitops), ratio(median(bytesOut), limitL.gitops), median(walls))
	tgt.pass = yes(median(gitopsReqs) <= 4 && limitL.ok && median(bytesOut) <= 1.2*limitL.gitops)

	// Publishers at once.
	if _, err := gitIn(repoDir, "update-ref", "refs/heads/main", rm.Tip); err != nil {
		return fail(err.Error(), yes(false))
	}
	if _, err := readStats(c); err != nil {
		return fail(err.Error(), yes(false))
	}
	runs := make([]publishRun, publishers)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range publishers {
		wg.Add(1)
		go func() { defer wg.Done(); runs[i] = runPublish(ctx, c, c.meta.Spare[i]) }()
	}
	wg.Wait()
	total := time.Since(t0).Seconds()
	st, _ := readStats(c)
	var lat []float64
	var maxRSS int64
	landed := 0
	var errs []string
	for i, pr := range runs {
		if pr.rssKiB > maxRSS {
			maxRSS = pr.rssKiB
		}
		if pr.err != "" {
			errs = append(errs, pr.err)
			continue
		}
		lat = append(lat, pr.wall)
		if err := publishedOK(repoDir, c.meta.Spare[i]); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		landed++
	}
	count, _ := gitIn(repoDir, "rev-list", "--count", rm.Tip+"..main")
	current, _ := gitIn(repoDir, "show", "main:warehouses/codeai/builds/current.yaml")
	currentIs := "none of them"
	for i, sp := range c.meta.Spare[:publishers] {
		if hasScalar(current, "gitCommit", sp.GitCommit) {
			currentIs = fmt.Sprintf("build %d of %d (in S's order)", i+1, publishers)
		}
	}
	pushes := st["L.git POST git-receive-pack"].Requests
	fmt.Fprintf(&b, "\n| publishers | exit 0 | records on main | commits added | p50 | p95 | max | all done in | push attempts (receive-pack POSTs) | GitOps bytes | peak RSS (largest) | current.yaml names |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %s | %.3f s | %.3f s | %.3f s | %.3f s | %d (%.1f per publisher) | %s | %.1f MiB | %s |\n",
		publishers, len(lat), landed, count, percentile(lat, 0.5), percentile(lat, 0.95), percentile(lat, 1), total,
		pushes, float64(pushes)/publishers, bytesStr(float64(st["L.git"].BytesOut)), float64(maxRSS)/1024, currentIs)
	if len(errs) > 0 {
		fmt.Fprintf(&b, "\n%d error(s); first: %s\n", len(errs), tail(errs[0], 300))
	}
	all.measured = fmt.Sprintf("%d of %d landed, %s commits added, %d push attempts", landed, publishers, count, pushes)
	all.pass = yes(landed == publishers && count == strconv.Itoa(publishers))
	sec.body = b.String()
	sec.targets = []target{tgt, all}
	return sec
}

// goBench runs the hot-path benchmarks and returns their lines.
func goBench() section {
	sec := section{title: "go test -bench (hot paths, with allocations)"}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-bench=.", "-benchmem", "-run=^$", "-timeout=6m", "./...")
	out, err := cmd.CombinedOutput()
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "pkg:") || strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "---") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "(no benchmarks found)")
	}
	if err != nil {
		lines = append(lines, "go test: "+err.Error())
	}
	sec.body = "```\n" + strings.Join(lines, "\n") + "\n```"
	return sec
}
