package helperbin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/internal/helperbin"
)

var errMissing = errors.New("argo-refs-nothing not found")

// TestPath: a configured path is used as it is; a helper found nowhere is
// an error that wraps the caller's and says what needs it and where the
// image has it.
func TestPath(t *testing.T) {
	if p, err := helperbin.Path("/opt/x", "argo-refs-nothing", "testing", errMissing); err != nil || p != "/opt/x" {
		t.Fatalf("configured: %q, %v", p, err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err := helperbin.Path("", "argo-refs-nothing-such-helper", "testing", errMissing)
	if !errors.Is(err, errMissing) || !strings.Contains(err.Error(), "needed for testing") || !strings.Contains(err.Error(), "/argo-refs-nothing-such-helper") {
		t.Fatalf("missing helper: %v", err)
	}
}
