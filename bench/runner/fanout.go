package main

// Issue 19: fifty stages promoted at once onto one branch, as Kargo's
// fan-out to many targets does: through one serve process (pushes ordered
// in the process), one after the other (the baseline), and through five
// serve processes (races between processes, retried).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	fanStages = 50
	fanProcs  = 5
	fanRepo   = "F"
)

// fanResult is one promotion's answer.
type fanResult struct {
	wall     float64
	attempts int
	calls    int // step.execute calls, Kargo's calls again included
	err      error
}

// serveProc is one running `argo-refs serve`.
type serveProc struct {
	addr string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

// startServe starts `argo-refs serve` on addr with the bench token.
func startServe(ctx context.Context, c config, addr, tmp string) (*serveProc, error) {
	tokenFile := filepath.Join(tmp, "token")
	if err := os.WriteFile(tokenFile, []byte(serveToken+"\n"), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, c.bin, "serve", "--listen", addr, "--token-file", tokenFile)
	cmd.Dir = tmp
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting argo-refs serve: %w", err)
	}
	p := &serveProc{addr: addr, cmd: cmd, logs: &logs}
	if err := waitListening(addr, 20*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("argo-refs serve: %w: %s", err, tail(logs.String(), 400))
	}
	return p, nil
}

func (p *serveProc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// promote asks p to promote stage to the release at freight.
// Promotion names are unique per round: serve answers a promotion it has
// already run (Kargo's retry of the same step) from its first result.
func (p *serveProc) promote(ctx context.Context, c config, client *http.Client, freight, stage, promotion, tmp string) fanResult {
	cfg := stepConfig(c, fanRepo, freight)
	cfg["timeout"] = "120s"
	raw, _ := json.Marshal(cfg)
	req := map[string]any{
		"context": map[string]any{
			"workDir": tmp, "project": "bench", "stage": stage, "promotion": promotion,
			"freight": map[string]any{"id": freight, "items": map[string]any{
				"Warehouse/codeai-builds": map[string]any{
					"name": freight, "origin": map[string]any{"kind": "Warehouse", "name": "codeai-builds"},
					"commits": []any{map[string]any{"repoURL": "http://" + c.meta.GitAddr + "/" + fanRepo + ".git", "id": freight}},
				}}},
		},
		"step": map[string]any{"kind": "argo-refs-promote", "config": json.RawMessage(raw)},
	}
	body, _ := json.Marshal(req)
	t0 := time.Now()
	// Like Kargo's engine, call again after retryAfter while the answer is
	// Running (the plugin's limit on steps at once, or a long step).
	for calls := 1; ; calls++ {
		out, err := p.call(ctx, client, body)
		if err != nil {
			return fanResult{err: fmt.Errorf("%s: %w", stage, err)}
		}
		if out.Status == "Running" {
			wait, err := time.ParseDuration(out.RetryAfter)
			if err != nil {
				return fanResult{err: fmt.Errorf("%s: Running with retryAfter %q: %w", stage, out.RetryAfter, err)}
			}
			select {
			case <-ctx.Done():
				return fanResult{err: ctx.Err()}
			case <-time.After(wait):
			}
			continue
		}
		res := fanResult{wall: time.Since(t0).Seconds(), calls: calls}
		if a, ok := out.Output["attempts"].(float64); ok {
			res.attempts = int(a)
		}
		if out.Status != "Succeeded" {
			res.err = fmt.Errorf("%s: step %s: %s %s", stage, out.Status, out.Message, out.Error)
		}
		return res
	}
}

// stepAnswer is the part of a step response the bench reads.
type stepAnswer struct {
	Status, Message, Error string
	RetryAfter             string         `json:"retryAfter"`
	Output                 map[string]any `json:"output"`
}

// call posts one step request to p.
func (p *serveProc) call(ctx context.Context, client *http.Client, body []byte) (stepAnswer, error) {
	var out stepAnswer
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.addr+"/api/v1/step.execute", bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+serveToken)
	resp, err := client.Do(r)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return out, err
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("status %d: %s", resp.StatusCode, tail(string(b), 300))
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("reading the answer: %w", err)
	}
	return out, nil
}

// makeFanRepo writes repo F: fanStages stages in the helm layout and L's
// release record, in one commit, and returns it.
func makeFanRepo(c config) (string, error) {
	l := c.meta.Repos["L"]
	lDir := filepath.Join(c.dir, "repos", "L.git")
	rec, err := gitIn(lDir, "show", l.Freight+":warehouses/codeai/builds/current.yaml")
	if err != nil {
		return "", err
	}
	bare := filepath.Join(c.dir, "repos", fanRepo+".git")
	_ = os.RemoveAll(bare)
	if _, err := gitIn(c.dir, "init", "-q", "--bare", "-b", "main", bare); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp("", "argo-refs-bench-fan-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	files := map[string]string{
		"warehouses/codeai/builds/current.yaml":                 rec + "\n",
		"warehouses/codeai/builds/git-" + l.GitCommit + ".yaml": rec + "\n",
	}
	for i := range fanStages {
		d := fmt.Sprintf("apps/codeai/deployments/stage-%02d/", i)
		files[d+"deployment.yaml"] = fmt.Sprintf("envType: staging\nnamespace: stage-%02d\ntargetRevision: main\n", i)
		files[d+"values.yaml"] = "image: none\n"
	}
	for p, data := range files {
		full := filepath.Join(work, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			return "", err
		}
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "fifty stages"},
		{"push", "-q", bare, "main"},
	} {
		if _, err := gitIn(work, args...); err != nil {
			return "", err
		}
	}
	return gitIn(bare, "rev-parse", "main")
}

// fanRound promotes every stage, through procs round-robin, all at once
// or one after the other, from the pristine tip, and checks that each
// landed.
func fanRound(ctx context.Context, c config, procs []*serveProc, tip, tmp, round string, concurrent bool) ([]fanResult, float64, error) {
	bare := filepath.Join(c.dir, "repos", fanRepo+".git")
	if _, err := gitIn(bare, "update-ref", "refs/heads/main", tip); err != nil {
		return nil, 0, err
	}
	client := &http.Client{Timeout: 3 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: fanStages}}
	res := make([]fanResult, fanStages)
	t0 := time.Now()
	if concurrent {
		var wg sync.WaitGroup
		for i := range fanStages {
			wg.Go(func() {
				res[i] = procs[i%len(procs)].promote(ctx, c, client, tip, stageName(i), round+"-"+stageName(i), tmp)
			})
		}
		wg.Wait()
	} else {
		for i := range fanStages {
			res[i] = procs[i%len(procs)].promote(ctx, c, client, tip, stageName(i), round+"-"+stageName(i), tmp)
		}
	}
	total := time.Since(t0).Seconds()
	for _, r := range res {
		if r.err != nil {
			return res, total, r.err
		}
	}
	n, err := gitIn(bare, "rev-list", "--count", tip+"..main")
	if err != nil {
		return res, total, err
	}
	if n != fmt.Sprint(fanStages) {
		return res, total, fmt.Errorf("%s commits on main, want %d", n, fanStages)
	}
	for i := range fanStages {
		dep, err := gitIn(bare, "show", fmt.Sprintf("main:apps/codeai/deployments/stage-%02d/deployment.yaml", i))
		if err != nil || !hasScalar(dep+"\n", "targetRevision", c.meta.Repos["L"].GitCommit) {
			return res, total, fmt.Errorf("stage-%02d was not promoted: %v", i, err)
		}
	}
	return res, total, nil
}

func stageName(i int) string { return fmt.Sprintf("stage-%02d", i) }

// fanWarm promotes one stage through each process (its record cached, its
// Git and registry connections open, as a long-lived agent's are) and
// resets the branch.
func fanWarm(ctx context.Context, c config, procs []*serveProc, tip, tmp string) error {
	bare := filepath.Join(c.dir, "repos", fanRepo+".git")
	client := &http.Client{Timeout: 3 * time.Minute}
	for i, p := range procs {
		if _, err := gitIn(bare, "update-ref", "refs/heads/main", tip); err != nil {
			return err
		}
		if r := p.promote(ctx, c, client, tip, stageName(i), fmt.Sprintf("warm-%d", i), tmp); r.err != nil {
			return fmt.Errorf("%w: %s", r.err, tail(p.logs.String(), 400))
		}
	}
	return nil
}

func fanoutSection(c config) section {
	sec := section{title: fmt.Sprintf("fan-out: %d stages promoted at once onto one branch (serve)", fanStages)}
	one := target{what: fmt.Sprintf("fan-out, one serve: %d commits with ≤ 60 push attempts, wall ≤ 1.5× one after the other", fanStages)}
	five := target{what: fmt.Sprintf("fan-out, %d serve processes: all %d land", fanProcs, fanStages)}
	fail := func(msg string) section {
		sec.body = "FAILED: " + msg
		one.measured, five.measured = msg, msg
		one.pass, five.pass = yes(false), yes(false)
		sec.targets = []target{one, five}
		return sec
	}
	if _, ok := c.meta.Repos["L"]; !ok {
		return fail("repo L not generated")
	}
	tip, err := makeFanRepo(c)
	if err != nil {
		return fail(err.Error())
	}
	defer os.RemoveAll(filepath.Join(c.dir, "repos", fanRepo+".git"))
	tmp, err := os.MkdirTemp("", "argo-refs-bench-fan-serve-")
	if err != nil {
		return fail(err.Error())
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var procs []*serveProc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for i := range fanProcs {
		p, err := startServe(ctx, c, fmt.Sprintf("127.0.0.1:%d", 18091+i), tmp)
		if err != nil {
			return fail(err.Error())
		}
		procs = append(procs, p)
	}
	// Warm every process once (a record cached, a registry token), as a
	// long-lived agent is.
	if err := fanWarm(ctx, c, procs, tip, tmp); err != nil {
		return fail("warm-up: " + err.Error())
	}
	type row struct {
		name             string
		res              []fanResult
		total            float64
		pushes, attempts int
		calls            int
	}
	var rows []row
	for n, r := range []struct {
		name       string
		procs      []*serveProc
		concurrent bool
	}{
		{"one serve, one after the other", procs[:1], false},
		{"one serve, all at once", procs[:1], true},
		{fmt.Sprintf("%d serve processes, all at once", fanProcs), procs, true},
	} {
		if _, err := readStats(c); err != nil {
			return fail(err.Error())
		}
		res, total, err := fanRound(ctx, c, r.procs, tip, tmp, fmt.Sprintf("round-%d", n), r.concurrent)
		st, _ := readStats(c)
		if err != nil {
			return fail(r.name + ": " + err.Error())
		}
		rw := row{name: r.name, res: res, total: total, pushes: int(st[fanRepo+".git POST git-receive-pack"].Requests)}
		for _, x := range res {
			if x.err != nil {
				return fail(r.name + ": " + x.err.Error())
			}
			rw.attempts += x.attempts
			rw.calls += x.calls
		}
		rows = append(rows, rw)
	}
	var b strings.Builder
	b.WriteString("Repo F: one commit holding the release record and 50 stages (helm layout). Each row starts from the same tip; every process was warmed by one promotion. Attempts are the steps' own counts; pushes are receive-pack POSTs at the server; calls are step.execute requests, counting Kargo's calls again after a Running answer (serve runs at most 32 steps at once by default, --max-running, and asks the rest to call again after 2 s).\n\n")
	b.WriteString("| run | all done in | p50 | p95 | max | attempts | pushes | calls | commits |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, rw := range rows {
		var lat []float64
		for _, x := range rw.res {
			lat = append(lat, x.wall)
		}
		fmt.Fprintf(&b, "| %s | %.3f s | %.3f s | %.3f s | %.3f s | %d | %d | %d | %d |\n", rw.name, rw.total, percentile(lat, 0.5), percentile(lat, 0.95), percentile(lat, 1), rw.attempts, rw.pushes, rw.calls, fanStages)
	}
	seq, conc, multi := rows[0], rows[1], rows[2]
	one.measured = fmt.Sprintf("%d attempts, %d pushes; %.3f s at once vs %.3f s one after the other = %s", conc.attempts, conc.pushes, conc.total, seq.total, ratio(conc.total, seq.total))
	one.pass = yes(conc.attempts <= 60 && conc.pushes <= 60 && conc.total <= 1.5*seq.total)
	five.measured = fmt.Sprintf("all %d landed; %d attempts, %d pushes; %.3f s", fanStages, multi.attempts, multi.pushes, multi.total)
	five.pass = yes(true)
	sec.body = b.String()
	sec.targets = []target{one, five}
	return sec
}
