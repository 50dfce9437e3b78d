package step

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig checks that no input makes ParseConfig panic, and that a
// config it accepts resolves against a fixed context without panicking.
func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/config/*.json")
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"repoURL":"https://h/r","buildLockDir":"b","targets":[{"deploymentFile":{"setImage":false}},{"application":{"path":"a"}}],"message":"{{if .Stage}}{{slice .GitCommit 0 7}}{{end}}"}`))
	sc := testContext()
	env := envOf(map[string]string{EnvGitHubToken: "t"})
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := ParseConfig(raw)
		if err != nil {
			if cfg != nil {
				t.Fatalf("config and error both returned")
			}
			return
		}
		for _, kind := range Kinds {
			plan, err := cfg.Resolve(kind, sc, env)
			if err == nil {
				if _, err := plan.CommitMessage(MessageVars{ReleaseID: "git-x"}); err != nil && !IsTerminal(err) {
					t.Fatalf("CommitMessage error not terminal: %v", err)
				}
			}
		}
	})
}
