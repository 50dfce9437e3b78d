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
	"strings"
	"sync"
	"syscall"
	"time"
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
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss
		}
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
	fmt.Fprintf(&b, "| requests | succeeded | p50 | p95 | max | all done in | peak RSS | registry reqs / verify | GitOps bytes / verify | source bytes / verify | warm-up (cold) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %d | %.3f s | %.3f s | %.3f s | %.3f s | %.1f MiB | %.2f (token %d, 401 %d) | %s | %s | %.3f s |\n",
		serveConcurrency, len(okLat), percentile(okLat, 0.5), percentile(okLat, 0.95), percentile(okLat, 1), total, float64(rss)/1024,
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

// publishSection reports `argo-refs publish` (20 concurrent publishers).
func publishSection(c config) section {
	sec := section{title: "publish: 20 concurrent publishers on L"}
	tgt := target{what: "publish on L: ≤ 0.3 s and ≤ 1.2× the limit recipe's bytes"}
	if why := readiness(c.bin, "publish"); why != "" {
		sec.body = "not ready: " + why
		tgt.measured = "publish not ready"
		sec.targets = []target{tgt}
		return sec
	}
	sec.body = "not measured yet: the runner does not drive `argo-refs publish` yet"
	tgt.measured = "not measured"
	sec.targets = []target{tgt}
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
