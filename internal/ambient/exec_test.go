package ambient_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/ambient"
	"github.com/argo-refs/argo-refs/internal/cloudtest"
)

// helper builds argo-refs-cloud-auth, as the image carries it.
func helper(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), ambient.HelperBinary)
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/argo-refs-cloud-auth")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", ambient.HelperBinary, err, out)
	}
	return bin
}

// TestExecAsksTheHelper: the step's binary gets ambient credentials from
// argo-refs-cloud-auth, which inherits the environment that holds the cloud
// identity; its exit codes keep their meaning (refused is ErrDenied, an
// unreachable identity service ErrUnavailable), and no error shows the
// credential.
func TestExecAsksTheHelper(t *testing.T) {
	bin := helper(t)

	md := cloudtest.NewGCEMetadata(t)
	md.Setenv(t)
	c, err := ambient.Exec(bin, nil)(context.Background(), ambient.GAR, "europe-docker.pkg.dev")
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if c.Username != "oauth2accesstoken" || c.Password != md.Token || time.Until(c.Expires) < 50*time.Minute {
		t.Errorf("credential %v, expires %s", c, c.Expires)
	}

	aws := cloudtest.NewAWS(t, "123456789012", "eu-west-1")
	aws.Setenv(t)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/not-trusted")
	_, err = ambient.Exec(bin, nil)(context.Background(), ambient.ECR, aws.Registry())
	if !errors.Is(err, ambient.ErrDenied) || !strings.Contains(err.Error(), "AccessDenied") || strings.Contains(err.Error(), aws.Password) {
		t.Errorf("a role the token may not assume: %v, want ErrDenied naming AccessDenied", err)
	}

	md.Close()
	_, err = ambient.Exec(bin, nil)(context.Background(), ambient.GAR, "us-docker.pkg.dev")
	if !errors.Is(err, ambient.ErrUnavailable) || strings.Contains(err.Error(), md.Token) {
		t.Errorf("metadata server gone: %v, want ErrUnavailable", err)
	}

	_, err = ambient.Exec(filepath.Join(t.TempDir(), "missing"), nil)(context.Background(), ambient.GAR, "gcr.io")
	if !errors.Is(err, ambient.ErrUnavailable) && !errors.Is(err, ambient.ErrDenied) {
		t.Errorf("a helper that is not there: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err = ambient.Exec("", nil)(context.Background(), ambient.GAR, "gcr.io")
	if !errors.Is(err, ambient.ErrNoHelper) || !errors.Is(err, ambient.ErrDenied) {
		t.Errorf("no helper next to the binary or on PATH: %v, want ErrNoHelper (terminal)", err)
	}
}
