// Command runner runs the benchmark's promotions side by side against a
// running gitserve, each way as a whole process, and writes a Markdown table
// with medians, ratios and the targets checked. bench/run.sh builds,
// generates, starts gitserve and calls it; run that instead.
//
// main.go is long (the table of ways and scenarios, the measuring loop and
// the Markdown writer) because the table and the loop are read together:
// each way's row is checked against its scenario's target right where it
// is measured. extra.go holds the serve and publish measurements.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/argo-refs/argo-refs/bench/internal/benchdata"
)

// way is one implementation of a promotion, run as a script in bench/ways.
type way struct {
	ID, Label, Script string
	// NoPush marks a baseline that changes nothing on the server.
	NoPush bool
	// Render marks the ways of the rendered-review scenario (issue 17),
	// which run there only, beside promote.
	Render bool
}

var allWays = []way{
	{"full", "chain, full bare clone + worktrees", "chain-full.sh", false, false},
	{"blobless", "chain, blobless + sparse", "chain-blobless.sh", false, false},
	{"limit", "git CLI limit recipe (depth-1 blob:none fetch + one blob fetch, trees by hand)", "limit.sh", false, false},
	{"promote", "argo-refs promote (record, registry and source checks on)", "promote.sh", false, false},
	{"promote-paths", "argo-refs promote with `treeFetch: paths` (only the trees on the paths read and written)", "promote-paths.sh", false, false},
	{"floor", "floor: `argo-refs version` (process start and package init only, no work)", "floor.sh", true, false},
	{"promote-render", "argo-refs promote with `render: {}` (the chart rendered at both commits, reviewed, then pushed)", "promote-render.sh", false, true},
	{"render-by-hand", "by hand: clone the GitOps repo, sparse-checkout the chart at both commits, `helm template` each, `diff` (no push)", "render-by-hand.sh", true, true},
}

// scenario is one repo served one way.
type scenario struct {
	ID, Repo string
	Filter   bool
	// Render runs promote and the render ways only.
	Render bool
	// Ways, when set, are the ways run (default: every way that is not a
	// render way, but promote-paths).
	Ways []string
}

var scenarios = []scenario{
	{"L", "L", true, false, []string{"full", "blobless", "limit", "promote", "promote-paths", "floor"}},
	{"H1k", "H1k", true, false, nil},
	{"H10k", "H10k", true, false, nil},
	{"H100k", "H100k", true, false, nil},
	{"L-nofilter", "L", false, false, nil},
	{"L-render", "L", true, true, nil},
	// Issue 19: L's history and layout in a monorepo's tip tree (300,000
	// files in 30,000 directories); the chains are left out (minutes of
	// checkout that say nothing new).
	{"M", "M", true, false, []string{"limit", "promote", "promote-paths", "floor"}},
}

type counter struct {
	Requests   int64   `json:"requests"`
	BytesOut   int64   `json:"bytesOut"`
	BytesIn    int64   `json:"bytesIn"`
	CPUSeconds float64 `json:"cpuSeconds,omitempty"`
}

// sample is one measured run of one way.
type sample struct {
	Wall   float64 `json:"wallSeconds"`
	RSSKiB int64   `json:"peakRSSKiB"`
	// CPU is the process tree's user+sys time; ServerCPU is gitserve's and
	// its children's (git http-backend and the git it runs) during the run.
	CPU       float64 `json:"cpuSeconds"`
	ServerCPU float64 `json:"serverCPUSeconds"`
	GitOps    counter `json:"gitops"`
	Source    counter `json:"source"`
	Registry  counter `json:"registry"`
	Err       string  `json:"error,omitempty"`
}

// result is every sample of one way on one scenario.
type result struct {
	Scenario string   `json:"scenario"`
	Way      string   `json:"way"`
	NotReady string   `json:"notReady,omitempty"`
	Skipped  string   `json:"skipped,omitempty"`
	Failed   string   `json:"failed,omitempty"`
	Samples  []sample `json:"samples"`
}

type config struct {
	dir, waysDir, bin, out string
	waysAbs                string
	runs                   int
	noGoBench              bool
	budget                 time.Duration
	deadline               time.Time
	scenarios              map[string]bool
	meta                   benchdata.Meta
	gitBase                string
}

func main() {
	var c config
	var only string
	flag.StringVar(&c.dir, "dir", "/tmp/argo-refs-bench", "generated repos (bench/gen -dir)")
	flag.StringVar(&c.waysDir, "ways", "bench/ways", "directory of the way scripts")
	flag.StringVar(&c.bin, "bin", "bench/bin/argo-refs", "argo-refs binary")
	flag.StringVar(&c.out, "out", "bench/results", "results directory")
	flag.IntVar(&c.runs, "runs", 5, "measured runs per way and scenario (after one warm-up)")
	flag.BoolVar(&c.noGoBench, "no-go-bench", false, "skip go test -bench")
	flag.DurationVar(&c.budget, "budget", 12*time.Minute, "time for all promotion runs; past it, scenarios stop after 3 measured runs (noted in the report)")
	flag.StringVar(&only, "scenarios", "L,H1k,H10k,H100k,L-nofilter,L-render,M", "scenarios to run")
	flag.Parse()
	c.scenarios = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		c.scenarios[strings.TrimSpace(s)] = true
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "runner:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	b, err := os.ReadFile(filepath.Join(c.dir, "meta.json"))
	if err != nil {
		return fmt.Errorf("reading meta.json: %w", err)
	}
	if err := json.Unmarshal(b, &c.meta); err != nil {
		return fmt.Errorf("parsing meta.json: %w", err)
	}
	c.gitBase = "http://" + c.meta.GitAddr
	if _, err := admin(c, "/_health"); err != nil {
		return fmt.Errorf("gitserve is not answering on %s: %w", c.gitBase, err)
	}
	if c.waysAbs, err = filepath.Abs(c.waysDir); err != nil {
		return err
	}
	for i, w := range allWays {
		abs, err := filepath.Abs(filepath.Join(c.waysDir, w.Script))
		if err != nil {
			return err
		}
		allWays[i].Script = abs
	}
	if c.bin, err = filepath.Abs(c.bin); err != nil {
		return err
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	outDir := filepath.Join(c.out, stamp)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", outDir, err)
	}
	machine := machineInfo()
	machine["load at start"] = loadAvg()
	start := time.Now()

	c.deadline = start.Add(c.budget)
	promoteReady := readiness(c.bin, "promote")
	var results []result
	for _, sc := range scenarios {
		if !c.scenarios[sc.ID] {
			continue
		}
		rm, ok := c.meta.Repos[sc.Repo]
		if !ok {
			fmt.Fprintf(os.Stderr, "skipping %s: repo %s not generated\n", sc.ID, sc.Repo)
			continue
		}
		if _, err := admin(c, "/_filter?on="+map[bool]string{true: "1", false: "0"}[sc.Filter]); err != nil {
			return err
		}
		rs := runScenario(c, sc, rm, promoteReady)
		results = append(results, rs...)
	}
	if _, err := admin(c, "/_filter?on=1"); err != nil {
		return err
	}
	machine["load at end"] = loadAvg()
	machine["promotion runs took"] = time.Since(start).Round(time.Second).String()

	var limitL summary
	for _, r := range results {
		if r.Scenario == "L" && r.Way == "limit" {
			limitL = summarize(r)
		}
	}
	extra := []section{
		serveSection(c),
		publishSection(c, limitL),
		fanoutSection(c),
	}
	if !c.noGoBench {
		extra = append(extra, goBench())
	}
	report := render(c, machine, results, extra)
	if err := os.WriteFile(filepath.Join(outDir, "results.md"), []byte(report), 0o644); err != nil {
		return err
	}
	j, _ := json.MarshalIndent(map[string]any{"machine": machine, "results": results}, "", "  ")
	if err := os.WriteFile(filepath.Join(outDir, "results.json"), j, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, "latest.md"), []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Print(report)
	fmt.Fprintf(os.Stderr, "\nresults in %s\n", outDir)
	return nil
}

// readiness returns "" when `argo-refs <cmd>` exists and is implemented,
// else why not.
func readiness(bin, cmd string) string {
	if _, err := os.Stat(bin); err != nil {
		return "binary not built"
	}
	out, _ := exec.Command(bin, cmd, "--help").CombinedOutput()
	s := string(out)
	switch {
	case strings.Contains(s, "not yet implemented"):
		return "`argo-refs " + cmd + "` not implemented yet"
	case strings.Contains(s, "unknown command"):
		return "`argo-refs " + cmd + "` does not exist"
	}
	return ""
}

func admin(c config, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.gitBase+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("calling gitserve %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("calling gitserve %s: status %d: %v", path, resp.StatusCode, err)
	}
	return b, nil
}

func readStats(c config) (map[string]counter, error) {
	b, err := admin(c, "/_stats?reset=1")
	if err != nil {
		return nil, err
	}
	m := map[string]counter{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parsing stats: %w", err)
	}
	return m, nil
}

func gitIn(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func runScenario(c config, sc scenario, rm benchdata.RepoMeta, promoteReady string) []result {
	repoDir := filepath.Join(c.dir, "repos", sc.Repo+".git")
	var ways []way
	for _, w := range allWays {
		switch {
		case sc.Ways != nil:
			if slices.Contains(sc.Ways, w.ID) {
				ways = append(ways, w)
			}
		case w.ID == "promote-paths":
		case w.Render == sc.Render || (sc.Render && w.ID == "promote"):
			ways = append(ways, w)
		}
	}
	res := make([]result, len(ways))
	for i, w := range ways {
		res[i] = result{Scenario: sc.ID, Way: w.ID}
		if (w.ID == "promote" || w.ID == "promote-paths" || w.ID == "floor") && promoteReady != "" {
			res[i].NotReady = promoteReady
		}
		if w.ID == "full" && !sc.Filter {
			res[i].Skipped = "not run: a full clone does not use filters; see the L table"
		}
	}
	// One warm-up per way (page cache, server state), not counted; a way
	// that fails it is not timed further.
	for i, w := range ways {
		if res[i].NotReady != "" || res[i].Skipped != "" {
			continue
		}
		fmt.Fprintf(os.Stderr, "%s %s: warm-up\n", sc.ID, w.ID)
		if s := runOnce(c, sc, rm, repoDir, w); s.Err != "" {
			if strings.Contains(s.Err, "not implemented") {
				res[i].NotReady = tail(s.Err, 200)
			} else {
				res[i].Failed = s.Err
			}
		}
	}
	for n := 0; n < c.runs; n++ {
		if n >= 3 && time.Now().After(c.deadline) {
			fmt.Fprintf(os.Stderr, "%s: time budget spent; stopping after %d measured runs\n", sc.ID, n)
			break
		}
		for i, w := range ways {
			if res[i].NotReady != "" || res[i].Failed != "" || res[i].Skipped != "" {
				continue
			}
			s := runOnce(c, sc, rm, repoDir, w)
			fmt.Fprintf(os.Stderr, "%s %s #%d: %.3fs %d KiB gitops %d B source %d B %s\n",
				sc.ID, w.ID, n+1, s.Wall, s.RSSKiB, s.GitOps.BytesOut, s.Source.BytesOut, s.Err)
			res[i].Samples = append(res[i].Samples, s)
		}
	}
	if _, err := gitIn(repoDir, "update-ref", "refs/heads/main", rm.Tip); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return res
}

// runOnce restores the pristine branch tip, runs one way as a process under
// /usr/bin/time, and checks that its push landed with the right edits.
func runOnce(c config, sc scenario, rm benchdata.RepoMeta, repoDir string, w way) sample {
	var s sample
	if _, err := gitIn(repoDir, "update-ref", "refs/heads/main", rm.Tip); err != nil {
		s.Err = err.Error()
		return s
	}
	if _, err := readStats(c); err != nil {
		s.Err = err.Error()
		return s
	}
	work, err := os.MkdirTemp("", "argo-refs-bench-run-")
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer os.RemoveAll(work)
	rssFile := filepath.Join(work, ".rss")
	runDir := filepath.Join(work, "w")
	if err := os.Mkdir(runDir, 0o755); err != nil {
		s.Err = err.Error()
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/time", "-f", "%M %U %S", "-o", rssFile, "bash", w.Script)
	cmd.Env = append(os.Environ(),
		"GITOPS_URL="+"http://"+c.meta.GitAddr+"/"+sc.Repo+".git",
		"FREIGHT="+rm.Freight,
		"WORK="+runDir,
		"STAGE=staging",
		"BRANCH=main",
		"BUILDS=warehouses/codeai/builds",
		"ARGO_REFS="+c.bin,
		"HELM="+filepath.Join(filepath.Dir(c.bin), "helm"),
		"SOURCE_URL="+c.meta.SourceURL,
	)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	t0 := time.Now()
	runErr := cmd.Run()
	s.Wall = time.Since(t0).Seconds()
	if b, err := os.ReadFile(rssFile); err == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if f := strings.Fields(lines[len(lines)-1]); len(f) == 3 {
			s.RSSKiB, _ = strconv.ParseInt(f[0], 10, 64)
			u, _ := strconv.ParseFloat(f[1], 64)
			sy, _ := strconv.ParseFloat(f[2], 64)
			s.CPU = u + sy
		}
	}
	st, err := readStats(c)
	if err == nil {
		s.GitOps = st[sc.Repo+".git"]
		s.ServerCPU = st["_server"].CPUSeconds
		s.Source = st[benchdata.SourceRepo]
		for _, k := range []string{"registry", "registry-token", "registry-401"} {
			r := st[k]
			s.Registry.Requests += r.Requests
			s.Registry.BytesOut += r.BytesOut
			s.Registry.BytesIn += r.BytesIn
		}
	}
	if runErr != nil {
		s.Err = fmt.Sprintf("%v: %s", runErr, tail(out.String(), 600))
		return s
	}
	if w.NoPush {
		return s
	}
	if err := checkPush(repoDir, rm); err != nil {
		s.Err = err.Error()
	}
	return s
}

func tail(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// checkPush verifies the branch moved by exactly one commit on top of the
// pristine tip, with the stage's files pointing at the release.
func checkPush(repoDir string, rm benchdata.RepoMeta) error {
	parent, err := gitIn(repoDir, "rev-parse", "main^")
	if err != nil {
		return fmt.Errorf("checking push: %w", err)
	}
	if parent != rm.Tip {
		return fmt.Errorf("checking push: main^ is %s, want the pristine tip %s", parent, rm.Tip)
	}
	dep, err := gitIn(repoDir, "show", "main:apps/codeai/deployments/staging/deployment.yaml")
	if err != nil {
		return fmt.Errorf("checking push: %w", err)
	}
	if !hasScalar(dep+"\n", "targetRevision", rm.GitCommit) {
		return fmt.Errorf("checking push: deployment.yaml has no targetRevision: %s", rm.GitCommit)
	}
	val, err := gitIn(repoDir, "show", "main:apps/codeai/deployments/staging/values.yaml")
	if err != nil {
		return fmt.Errorf("checking push: %w", err)
	}
	if !strings.Contains(val, rm.ImageRef) {
		return fmt.Errorf("checking push: values.yaml does not name %s", rm.ImageRef)
	}
	return nil
}

// summary is the medians of one result.
type summary struct {
	ok                        bool
	wall, wallMin, wallMax    float64
	rss                       float64 // MiB
	gitops, source, registryR float64
	gitopsR, sourceR          float64
	cpu, serverCPU            float64
	requests                  float64
	n                         int
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func summarize(r result) summary {
	var sm summary
	var walls, rss, gb, sb, rr, req, gr, sr, cpu, scpu []float64
	for _, s := range r.Samples {
		if s.Err != "" {
			continue
		}
		walls = append(walls, s.Wall)
		rss = append(rss, float64(s.RSSKiB)/1024)
		gb = append(gb, float64(s.GitOps.BytesOut))
		sb = append(sb, float64(s.Source.BytesOut))
		rr = append(rr, float64(s.Registry.Requests))
		gr = append(gr, float64(s.GitOps.Requests))
		cpu = append(cpu, s.CPU)
		scpu = append(scpu, s.ServerCPU)
		sr = append(sr, float64(s.Source.Requests))
		req = append(req, float64(s.GitOps.Requests+s.Source.Requests+s.Registry.Requests))
	}
	sm.n = len(walls)
	if sm.n == 0 {
		return sm
	}
	sm.ok = true
	sm.wall, sm.rss, sm.gitops, sm.source, sm.registryR, sm.requests = median(walls), median(rss), median(gb), median(sb), median(rr), median(req)
	sm.gitopsR, sm.sourceR = median(gr), median(sr)
	sm.cpu, sm.serverCPU = median(cpu), median(scpu)
	sort.Float64s(walls)
	sm.wallMin, sm.wallMax = walls[0], walls[len(walls)-1]
	return sm
}

func bytesStr(b float64) string {
	switch {
	case b >= 1e6:
		return fmt.Sprintf("%.1f MB", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.1f KB", b/1e3)
	}
	return fmt.Sprintf("%.0f B", b)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f×", a/b)
}

// section is an extra part of the report (serve, publish, go test -bench).
type section struct {
	title, body string
	targets     []target
}

type target struct {
	what, measured string
	pass           *bool
}

func yes(b bool) *bool { return &b }

func render(c config, machine map[string]string, results []result, extra []section) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# argo-refs benchmark, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	keys := make([]string, 0, len(machine))
	for k := range machine {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "- %s: %s\n", k, machine[k])
	}
	fmt.Fprintf(&b, "\nOne promotion = read current.yaml at the Freight commit (%d commits behind the tip), "+
		"edit deployment.yaml and values.yaml of stage `staging`, one commit, push. Each way is one whole process; "+
		"the branch is reset before every run and the push is checked on the server. Median of %d runs after one warm-up; "+
		"bytes are response bodies sent by the server.\n", 50, c.runs)

	byKey := map[string]summary{}
	raw := map[string]result{}
	for _, r := range results {
		byKey[r.Scenario+"/"+r.Way] = summarize(r)
		raw[r.Scenario+"/"+r.Way] = r
	}
	var lastScenario string
	for _, r := range results {
		if r.Scenario != lastScenario {
			lastScenario = r.Scenario
			sc := scenarioByID(r.Scenario)
			rm := c.meta.Repos[sc.Repo]
			filter := "filters allowed"
			if !sc.Filter {
				filter = "server refuses filters (uploadpack.allowFilter=false)"
			}
			fmt.Fprintf(&b, "\n### %s: %d commits, tip %d files / %.1f MB, packed %.0f MiB; %s\n\n",
				r.Scenario, rm.Commits, rm.TipFiles, float64(rm.TipBytes)/1e6, float64(rm.PackedBytes)/(1<<20), filter)
			b.WriteString("| way | wall median (min–max) | CPU client / server | peak RSS | GitOps bytes (reqs) | source bytes (reqs) | registry reqs | all reqs | wall ÷ full | wall ÷ blobless | wall ÷ limit | GitOps bytes ÷ limit |\n")
			b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		}
		label := wayByID(r.Way).Label
		sm := byKey[r.Scenario+"/"+r.Way]
		switch {
		case r.Skipped != "":
			fmt.Fprintf(&b, "| %s | %s | | | | | | | | | | |\n", label, r.Skipped)
			continue
		case r.NotReady != "":
			fmt.Fprintf(&b, "| %s | not ready: %s | | | | | | | | | | |\n", label, r.NotReady)
			continue
		case r.Failed != "":
			fmt.Fprintf(&b, "| %s | FAILED: %s | | | | | | | | | | |\n", label, strings.ReplaceAll(r.Failed, "|", "/"))
			continue
		case !sm.ok:
			fmt.Fprintf(&b, "| %s | FAILED every run: %s | | | | | | | | | | |\n", label, strings.ReplaceAll(firstErr(r), "|", "/"))
			continue
		}
		full, bl, lim := byKey[r.Scenario+"/full"], byKey[r.Scenario+"/blobless"], byKey[r.Scenario+"/limit"]
		failed := ""
		if sm.n < len(r.Samples) {
			failed = fmt.Sprintf(" (%d of %d runs failed)", len(r.Samples)-sm.n, len(r.Samples))
		}
		if len(r.Samples) < c.runs {
			failed += fmt.Sprintf(" [%d runs: time budget]", len(r.Samples))
		}
		fmt.Fprintf(&b, "| %s | %.3f s (%.3f–%.3f)%s | %.2f / %.2f s | %.1f MiB | %s (%.0f) | %s (%.0f) | %.0f | %.0f | %s | %s | %s | %s |\n",
			label, sm.wall, sm.wallMin, sm.wallMax, failed, sm.cpu, sm.serverCPU, sm.rss, bytesStr(sm.gitops), sm.gitopsR, bytesStr(sm.source), sm.sourceR, sm.registryR, sm.requests,
			ratio(sm.wall, full.wall), ratio(sm.wall, bl.wall), ratio(sm.wall, lim.wall), ratio(sm.gitops, lim.gitops))
	}

	targets := promotionTargets(byKey, raw)
	for _, e := range extra {
		targets = append(targets, e.targets...)
	}
	b.WriteString("\n## Targets (issue 6)\n\n| target | measured | result |\n|---|---|---|\n")
	for _, t := range targets {
		res := "n/a"
		if t.pass != nil {
			res = map[bool]string{true: "pass", false: "**FAIL**"}[*t.pass]
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.what, t.measured, res)
	}
	for _, e := range extra {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n", e.title, e.body)
	}
	return b.String()
}

func firstErr(r result) string {
	for _, s := range r.Samples {
		if s.Err != "" {
			return s.Err
		}
	}
	return ""
}

func scenarioByID(id string) scenario {
	for _, s := range scenarios {
		if s.ID == id {
			return s
		}
	}
	return scenario{ID: id}
}

func wayByID(id string) way {
	for _, w := range allWays {
		if w.ID == id {
			return w
		}
	}
	return way{ID: id, Label: id}
}

func promotionTargets(by map[string]summary, raw map[string]result) []target {
	var ts []target
	p := by["L/promote"]
	notReady := raw["L/promote"].NotReady + raw["L/promote"].Failed
	add := func(what string, ok bool, measured string, pass bool) {
		t := target{what: what, measured: measured}
		if ok {
			t.pass = yes(pass)
		} else if notReady != "" {
			t.measured = "promote not measured: " + tail(notReady, 120)
		}
		ts = append(ts, t)
	}
	full, bl, lim := by["L/full"], by["L/blobless"], by["L/limit"]
	add("L: wall ≤ 0.05× full chain", p.ok && full.ok, fmt.Sprintf("%.3f s vs %.3f s = %s", p.wall, full.wall, ratio(p.wall, full.wall)), p.wall <= 0.05*full.wall)
	add("L: wall ≤ 0.2× blobless chain", p.ok && bl.ok, fmt.Sprintf("%.3f s vs %.3f s = %s", p.wall, bl.wall, ratio(p.wall, bl.wall)), p.wall <= 0.2*bl.wall)
	add("L: wall ≤ limit recipe", p.ok && lim.ok, fmt.Sprintf("%.3f s vs %.3f s = %s", p.wall, lim.wall, ratio(p.wall, lim.wall)), p.wall <= lim.wall)
	add("L: GitOps bytes ≤ 1.2× limit recipe", p.ok && lim.ok, fmt.Sprintf("%s vs %s = %s", bytesStr(p.gitops), bytesStr(lim.gitops), ratio(p.gitops, lim.gitops)), p.gitops <= 1.2*lim.gitops)
	add("L: peak RSS ≤ 25 MiB", p.ok, fmt.Sprintf("%.1f MiB", p.rss), p.rss <= 25)
	add("L: 4 GitOps requests per promotion (advertisement, fetch, blobs, push)", p.ok, fmt.Sprintf("%.0f", p.gitopsR), p.gitopsR == 4)
	h1, h100 := by["H1k/promote"], by["H100k/promote"]
	// Issue 19: the wall ratio is the Git server's CPU on this machine
	// (pack-objects over a longer history); what argo-refs controls is
	// its own CPU, which must stay flat.
	add("History: client CPU flat, H100k ≤ 1.2× H1k (wall ratio, server-bound, for information: "+ratio(h100.wall, h1.wall)+")",
		h1.ok && h100.ok, fmt.Sprintf("%.3f s vs %.3f s = %s; server CPU %.2f s vs %.2f s", h100.cpu, h1.cpu, ratio(h100.cpu, h1.cpu), h100.serverCPU, h1.serverCPU), h100.cpu <= 1.2*h1.cpu)
	var hb []float64
	var hs []string
	for _, id := range []string{"H1k", "H10k", "H100k"} {
		if s := by[id+"/promote"]; s.ok {
			hb = append(hb, s.gitops)
			hs = append(hs, id+" "+bytesStr(s.gitops))
		}
	}
	if len(hb) >= 2 {
		sort.Float64s(hb)
		add("History: GitOps bytes independent of history (max ≤ 1.1× min over H1k/H10k/H100k)", true, strings.Join(hs, ", "), hb[len(hb)-1] <= 1.1*hb[0])
	} else {
		add("History: GitOps bytes independent of history", false, "", false)
	}
	add("Source check: ≤ 100 KB from the source server (S tip ≥ 200 MB)", p.ok, bytesStr(p.source), p.source <= 100e3)
	nf := by["L-nofilter/promote"]
	nfRaw := raw["L-nofilter/promote"]
	t := target{what: "Server without filter support still works (fallback)"}
	switch {
	case nf.ok && nf.n == len(nfRaw.Samples):
		t.measured = fmt.Sprintf("all %d runs landed; %.3f s, %s, %.1f MiB", nf.n, nf.wall, bytesStr(nf.gitops), nf.rss)
		t.pass = yes(true)
	case nfRaw.Way == "":
		t.measured = "scenario L-nofilter not run"
	case nfRaw.NotReady != "":
		t.measured = "promote not measured: " + nfRaw.NotReady
	default:
		t.measured = "failed: " + tail(nfRaw.Failed+firstErr(nfRaw), 200)
		t.pass = yes(false)
	}
	ts = append(ts, t)
	// Issue 17: what the rendered review adds to a promotion, and what it
	// costs by hand.
	pr, rr, hand := by["L-render/promote"], by["L-render/promote-render"], by["L-render/render-by-hand"]
	bytesOf := func(s summary) float64 { return s.gitops + s.source }
	add("Render: promote-render − promote ≤ 1 s wall", pr.ok && rr.ok, fmt.Sprintf("%.3f s − %.3f s = %+.3f s (by hand: %.3f s)", rr.wall, pr.wall, rr.wall-pr.wall, hand.wall), rr.wall-pr.wall <= 1)
	add("Render: promote-render − promote ≤ 2 MB received", pr.ok && rr.ok, fmt.Sprintf("%s − %s = %s (by hand: %s)", bytesStr(bytesOf(rr)), bytesStr(bytesOf(pr)), bytesStr(bytesOf(rr)-bytesOf(pr)), bytesStr(bytesOf(hand))), bytesOf(rr)-bytesOf(pr) <= 2e6)
	// Issue 19: the monorepo costs what L costs, fetching by path.
	m, mp, ml, lp := by["M/promote"], by["M/promote-paths"], by["M/limit"], by["L/promote-paths"]
	add("M: promote (paths) GitOps bytes ≤ 2× promote on L", mp.ok && p.ok, fmt.Sprintf("%s vs %s = %s (paths on L %s; auto on M, cold: %s; limit recipe on M %s)",
		bytesStr(mp.gitops), bytesStr(p.gitops), ratio(mp.gitops, p.gitops), bytesStr(lp.gitops), bytesStr(m.gitops), bytesStr(ml.gitops)), mp.gitops <= 2*p.gitops)
	add("M: promote (paths) wall ≤ 1.5× promote on L", mp.ok && p.ok, fmt.Sprintf("%.3f s vs %.3f s = %s (paths on L %.3f s; auto on M, cold: %.3f s; limit recipe on M %.3f s); GitOps requests %.0f vs %.0f; client CPU %.2f s vs %.2f s; server CPU %.2f s vs %.2f s",
		mp.wall, p.wall, ratio(mp.wall, p.wall), lp.wall, m.wall, ml.wall, mp.gitopsR, p.gitopsR, mp.cpu, p.cpu, mp.serverCPU, p.serverCPU), mp.wall <= 1.5*p.wall)
	add("M: promote (paths) client CPU ≤ 1.5× promote on L", mp.ok && p.ok, fmt.Sprintf("%.3f s vs %.3f s = %s", mp.cpu, p.cpu, ratio(mp.cpu, p.cpu)), mp.cpu <= 1.5*p.cpu)
	return ts
}

func machineInfo() map[string]string {
	m := map[string]string{}
	m["nproc"] = strconv.Itoa(runtime.NumCPU())
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				m["cpu"] = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				f := strings.Fields(l)
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					m["memory"] = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	if out, err := exec.Command("git", "--version").Output(); err == nil {
		m["git"] = strings.TrimSpace(string(out))
	}
	m["go"] = runtime.Version()
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		rev := strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			rev += " + uncommitted changes in the work tree"
		}
		m["argo-refs built from"] = rev
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(out))
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ") + " (1/5/15 min)"
}
