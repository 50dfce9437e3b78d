package step

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestParseConfigCorpus runs ParseConfig over the step's test configs, its
// fuzz corpus and thousands of variants of them (every value replaced by
// every type, every member removed, an unknown member added): each answer
// is a config or a *ConfigError whose every line starts with a JSON
// pointer, the same answer twice, and no line shows a credential value.
func TestParseConfigCorpus(t *testing.T) {
	secrets := []string{"hunter2", "s3cret"}
	corpus := configCorpus(t)
	if len(corpus) < 1000 {
		t.Fatalf("corpus of %d configs; the seeds went missing", len(corpus))
	}
	invalid := 0
	for _, raw := range corpus {
		cfg, err := ParseConfig(raw)
		cfg2, err2 := ParseConfig(raw)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("ParseConfig(%s) answered %v, then %v", raw, err, err2)
		}
		if err == nil {
			if cfg == nil || cfg2 == nil {
				t.Fatalf("ParseConfig(%s) = nil, nil", raw)
			}
			continue
		}
		invalid++
		ce, ok := err.(*ConfigError)
		if !ok || len(ce.Problems) == 0 {
			t.Fatalf("ParseConfig(%s) = %T %v; want a *ConfigError with problems", raw, err, err)
		}
		for _, line := range ce.Problems {
			if !strings.HasPrefix(line, "/") && !strings.HasPrefix(line, "(root): ") {
				t.Errorf("ParseConfig(%s): problem %q does not start with a JSON pointer", raw, line)
			}
			for _, s := range secrets {
				if strings.Contains(line, s) {
					t.Errorf("ParseConfig(%s): problem %q shows %q", raw, line, s)
				}
			}
		}
	}
	if invalid == 0 || invalid == len(corpus) {
		t.Fatalf("%d of %d configs invalid; the corpus should hold both kinds", invalid, len(corpus))
	}
}

// configSeeds are the configs of the step's tests and fuzz corpus, plus
// some aimed at the schema's keywords.
func configSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	files, err := filepath.Glob("testdata/config/*.json")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no testdata configs: %v", err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, raw)
	}
	fuzzFiles, err := filepath.Glob("testdata/fuzz/FuzzParseConfig/*")
	if err != nil || len(fuzzFiles) == 0 {
		tb.Fatalf("no fuzz corpus: %v", err)
	}
	for _, name := range fuzzFiles {
		raw, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		_, lit, _ := strings.Cut(string(raw), "[]byte(")
		s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")))
		if err != nil {
			tb.Fatalf("reading %s: %v", name, err)
		}
		seeds = append(seeds, []byte(s))
	}
	const ok = `"repoURL": "https://h/r", "buildLockDir": "b"`
	for _, s := range []string{
		`{}`, `null`, `[]`, `"x"`, `1`, `1.0`, `true`, ``, `{`, `{} {}`, `{}x`, `[1,]`, "\"\xff\"", `{"repoURL": `,
		`{"repoURL":"https://h/r","buildLockDir":"b","targets":[{"deploymentFile":{"setImage":false}},{"application":{"path":"a"}}],"message":"{{if .Stage}}{{slice .GitCommit 0 7}}{{end}}"}`,
		`{"repoUrl": "https://h/r", "buildLockDir": "b"}`,
		`{` + ok + `, "bogus": true, "a/b~c": 1, "Branch": "x"}`,
		`{` + ok + `, "targets": {}, "skipCI": "yes", "timeout": 300, "checks": {"imageDigest": 1, "sourceCommit": null, "x": 1}}`,
		`{` + ok + `, "targets": [{"kustomization": {}, "application": {"path": "a.yaml"}}]}`,
		`{` + ok + `, "targets": [{"kustomization": {}, "application": {"path": "a.yaml"}, "deploymentFile": {}}]}`,
		`{` + ok + `, "targets": [{}, null, 1, "x", [], {"deploymentFile": null}, {"application": {}}, {"application": {"path": 1}}]}`,
		`{` + ok + `, "targets": [{"deploymentFile": {"kee": "x", "foo": 1, "key": "", "imageKey": 1, "path": "/a", "valuesFile": "a//b"}}]}`,
		`{` + ok + `, "targets": [{"kustomization": {"imageName": "", "pinDigest": "yes", "path": "."}}]}`,
		`{` + ok + `, "commit": "4F1C2B9E8D7A6B5C4D3E2F1A0B9C8D7E6F5A4B3C", "timeout": "5 minutes", "warehouse": "-x"}`,
		`{` + ok + `, "warehouse": "` + strings.Repeat("é", 300) + `"}`,
		`{` + ok + `, "warehouse": "` + strings.Repeat("é", 253) + `", "app": "` + strings.Repeat("a", 254) + `"}`,
		`{` + ok + `, "message": "` + strings.Repeat("€", 4096) + `"}`,
		`{` + ok + `, "message": "` + strings.Repeat("€", 4097) + `"}`,
		`{` + ok + `, "message": "", "author": {"name": "", "email": ""}}`,
		`{` + ok + `, "author": {"name": "a <b>", "email": "a b@c", "x": 1}}`,
		`{` + ok + `, "author": {"name": "名前", "email": "ü@ü"}}`,
		`{` + ok + `, "packaging": {"kind": "docker", "sourceRepo": "git@github.com:o/r", "sourcePath": "../x"}}`,
		`{` + ok + `, "packaging": {"kind": 1}}`,
		`{` + ok + `, "packaging": {"kind": null, "extra": {}}}`,
		`{` + ok + `, "packaging": []}`,
		`{"repoURL": "https://user:hunter2@github.com/o/r.git", "buildLockDir": "warehouses/../secrets"}`,
		`{"repoURL": "ftp://h/r", "buildLockDir": "b/", "extra": 1}`,
		`{` + ok + `, "credentials": {"git": {"username": "u"}, "registry": {"username": "u", "password": ""}}}`,
		`{` + ok + `, "credentials": {"git": {"username": "u", "password": "p", "hunter2": 1}, "registry": "s3cret"}}`,
		`{` + ok + `, "credentials": {"git": null, "registry": {"username": 1, "password": ["hunter2"]}, "other": {}}}`,
		`{` + ok + `, "credentials": "hunter2"}`,
		`{` + ok + `, "targetBranch": "review/x", "generateTargetBranch": true, "branch": "-x"}`,
		`{` + ok + `, "targetBranch": "", "generateTargetBranch": 1, "branch": "a..b"}`,
		`{` + ok + `, "insecureHTTPHosts": [1, "bad host", "h:123456", "[::1]:80", "h"], "insecureSkipTLSVerifyHosts": "h"}`,
		`{` + ok + `, "insecureSkipTLSVerifyHosts": [null, "` + strings.Repeat("h", 262) + `"]}`,
		`{` + ok + `, "timeout": 1e3, "skipCI": 1.0, "app": -0}`,
		`{"repoURL": 1, "repoURL": "https://h/r", "buildLockDir": "b", "buildLockDir": null}`,
		`{"repoURL": null, "buildLockDir": ["b"]}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// configCorpus is configSeeds plus, for each seed that is a JSON object,
// variants with every value in turn replaced by values of every type,
// every member in turn removed, and an unknown member added to every
// object.
func configCorpus(tb testing.TB) [][]byte {
	tb.Helper()
	seeds := configSeeds(tb)
	corpus := slices.Clone(seeds)
	replacements := []any{nil, true, json.Number("1"), json.Number("1.5"), "", "x", strings.Repeat("é", 300), []any{}, []any{"a"}, map[string]any{}, map[string]any{"bogus": json.Number("1")}}
	for _, raw := range seeds {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var doc any
		err := dec.Decode(&doc)
		if _, ok := doc.(map[string]any); err != nil || !ok {
			continue
		}
		var walk func(v any, replace func(any), remove func())
		emit := func() {
			b, err := json.Marshal(doc)
			if err != nil {
				tb.Fatal(err)
			}
			corpus = append(corpus, b)
		}
		walk = func(v any, replace func(any), remove func()) {
			if replace != nil {
				for _, r := range replacements {
					replace(r)
					emit()
				}
				replace(v)
			}
			if remove != nil {
				remove()
				emit()
				replace(v)
			}
			switch v := v.(type) {
			case map[string]any:
				v["bogus"] = json.Number("1")
				emit()
				delete(v, "bogus")
				for _, k := range sortedKeys(v) {
					val := v[k]
					walk(val, func(r any) { v[k] = r }, func() { delete(v, k) })
				}
			case []any:
				for i, val := range v {
					walk(val, func(r any) { v[i] = r }, nil)
				}
			}
		}
		walk(doc, nil, nil)
	}
	return corpus
}
