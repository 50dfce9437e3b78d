package customstep

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJSONOutputsKeepTheirTypes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out")
	in := map[string]any{"changed": true, "attempts": 2, "targets": []any{map[string]any{"path": "a"}}, "releaseId": "git-1"}
	if err := WriteFileAs(p, in, FormatJSON); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got["changed"] != true || got["attempts"] != 2.0 || len(got["targets"].([]any)) != 1 || got["releaseId"] != "git-1" {
		t.Fatalf("read back %v", got)
	}
	if err := WriteFileAs(p, map[string]any{"big": strings.Repeat("x", MaxOutputBytes)}, FormatJSON); !errors.Is(err, ErrOutputTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	if err := WriteFileAs(p, in, "yaml"); err == nil {
		t.Fatal("an unknown format was accepted")
	}
}
