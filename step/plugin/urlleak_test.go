package plugin_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/argo-refs/argo-refs/internal/leaktest"
	"github.com/argo-refs/argo-refs/internal/logbuf"
	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/step/plugin"
)

// TestServeNeverEchoesAPasswordInAURL: URLs with a password in them (the
// config's repoURL and packaging.sourceRepo, a Freight commit's repoURL)
// are refused, and neither serve's answer nor its JSON log (debug level)
// holds the password in any form.
func TestServeNeverEchoesAPasswordInAURL(t *testing.T) {
	logs := &logbuf.Buffer{}
	srv := httptest.NewServer(plugin.NewHandler(step.Run, plugin.HandlerOptions{
		Token:  func() []byte { return []byte(leakToken) },
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}))
	defer srv.Close()
	withPassword := "https://kargo:" + leakSecret + "@git.example.com/gitops.git"
	plain := "https://git.example.com/gitops.git"
	for name, tc := range map[string]struct {
		repoURL, freightURL string
		packaging           map[string]any
	}{
		"repoURL":              {repoURL: withPassword, freightURL: plain},
		"packaging.sourceRepo": {repoURL: plain, freightURL: plain, packaging: map[string]any{"sourceRepo": withPassword}},
		"a Freight commit":     {repoURL: plain, freightURL: withPassword},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := map[string]any{"repoURL": tc.repoURL, "buildLockDir": lockDir, "timeout": "5s"}
			if tc.packaging != nil {
				cfg["packaging"] = tc.packaging
			}
			config, _ := json.Marshal(cfg)
			body, _ := json.Marshal(kargo.StepRequest{
				Context: kargo.StepContext{Project: "codeai", Stage: "staging", Promotion: "staging." + name,
					Freight: kargo.FreightCollection{ID: "f1", Items: map[string]kargo.FreightReference{
						"Warehouse/codeai-builds": {Name: "f1", Origin: kargo.FreightOrigin{Kind: "Warehouse", Name: "codeai-builds"},
							Commits: []kargo.GitCommit{{RepoURL: tc.freightURL, ID: "0123456789012345678901234567890123456789", Branch: "main"}}},
					}}},
				Step: kargo.StepRequestStep{Kind: string(step.KindVerify), Config: config},
			})
			resp, err := post(http.DefaultClient, srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var got kargo.StepResponse
			if err := json.Unmarshal(raw, &got); err != nil || got.Status != kargo.StatusFailed {
				t.Fatalf("answer %s (%v), want a Failed step", raw, err)
			}
			if form := leaktest.Find(string(raw), "kargo", leakSecret); form != "" {
				t.Errorf("the answer holds the password as %q: %s", form, raw)
			}
		})
	}
	if form := leaktest.Find(logs.String(), "kargo", leakSecret); form != "" {
		t.Errorf("the log holds the password as %q:\n%s", form, logs.String())
	}
}
