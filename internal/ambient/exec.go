package ambient

// Asking argo-refs-cloud-auth, the helper that links the clouds' SDKs, so
// that a promotion without ambient credentials pays nothing for them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/argo-refs/argo-refs/internal/helperbin"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// HelperBinary is the helper's name, looked up next to the running
// executable (as the image installs it), then on PATH.
const HelperBinary = "argo-refs-cloud-auth"

// The helper's exit codes.
const (
	ExitOK          = 0
	ExitDenied      = 1
	ExitUsage       = 2
	ExitUnavailable = 3
)

// HelperAnswer is what the helper prints on stdout for `get REGISTRY`.
type HelperAnswer struct {
	Username string    `json:"username"`
	Password string    `json:"password"`
	Expires  time.Time `json:"expires"`
}

// maxHelperAnswer bounds the helper's answer.
const maxHelperAnswer = 64 << 10

// Exec is a Fetcher that runs the helper at path (empty: HelperBinary next
// to the running executable, then on PATH) as `get REGISTRY`, with
// --plain-http for the registries plainHTTP allows (nil: none). The
// helper inherits the environment, which holds the cloud identity.
func Exec(path string, plainHTTP func(string) bool) Fetcher {
	return func(ctx context.Context, p Provider, registry string) (Credential, error) {
		bin, err := helperPath(path)
		if err != nil {
			return Credential{}, err
		}
		args := []string{"get", registry}
		if plainHTTP != nil && plainHTTP(registry) {
			args = append(args, "--plain-http")
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err = cmd.Run()
		msg := strings.TrimSpace(lastLine(stderr.String()))
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee) && ee.ExitCode() == ExitDenied:
			return Credential{}, fmt.Errorf("%w: %s", ErrDenied, msg)
		case errors.As(err, &ee) && ee.ExitCode() == ExitUsage:
			return Credential{}, fmt.Errorf("%w: %s", ErrNoProvider, msg)
		case err != nil && ctx.Err() != nil:
			return Credential{}, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		case err != nil:
			return Credential{}, fmt.Errorf("%w: %s: %v: %s", ErrUnavailable, HelperBinary, err, msg)
		case stdout.Len() > maxHelperAnswer:
			return Credential{}, fmt.Errorf("%w: %s answered over %d bytes", ErrUnavailable, HelperBinary, maxHelperAnswer)
		}
		var a HelperAnswer
		if err := json.Unmarshal(stdout.Bytes(), &a); err != nil || a.Username == "" || a.Password == "" || a.Expires.IsZero() {
			return Credential{}, fmt.Errorf("%w: %s answered something that is not a credential", ErrUnavailable, HelperBinary)
		}
		return Credential{UserPass: netpolicy.UserPass{Username: a.Username, Password: a.Password}, Expires: a.Expires}, nil
	}
}

// ErrNoHelper means argo-refs-cloud-auth is not installed.
var ErrNoHelper = errors.New(HelperBinary + " not found")

func helperPath(path string) (string, error) {
	p, err := helperbin.Path(path, HelperBinary, "ambient credentials", ErrNoHelper)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrDenied, err)
	}
	return p, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
