// Command argo-refs-cloud-auth gets an image registry credential from the
// cloud identity the process runs with (Amazon ECR, Google Artifact
// Registry and Container Registry, Azure Container Registry), for
// argo-refs: `argo-refs-cloud-auth get REGISTRY` prints
// {"username", "password", "expires"} as JSON. It is a second binary so
// that the clouds' SDKs cost nothing to a promotion that does not use
// them: argo-refs runs it, from the same image, only for ambient
// credentials. Exit codes: 0 done, 1 refused or not configured, 2 bad
// usage or not a cloud registry, 3 the cloud could not be reached.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/argo-refs/argo-refs/internal/ambient"
	"github.com/argo-refs/argo-refs/internal/ambient/cloud"
)

// timeout bounds one credential request.
const timeout = 60 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Stdout, os.Stderr, os.Args[1:]))
}

func run(ctx context.Context, out, errOut io.Writer, args []string) int {
	usage := func(format string, a ...any) int {
		fmt.Fprintf(errOut, "argo-refs-cloud-auth: "+format+"\n", a...)
		return ambient.ExitUsage
	}
	if len(args) == 1 && (args[0] == "--help" || args[0] == "-h") {
		fmt.Fprintln(out, "usage: argo-refs-cloud-auth get REGISTRY [--plain-http]\n\nPrints a credential for REGISTRY from the cloud identity of this process; run by argo-refs.")
		return ambient.ExitOK
	}
	if len(args) < 2 || len(args) > 3 || args[0] != "get" || (len(args) == 3 && args[2] != "--plain-http") {
		return usage("usage: argo-refs-cloud-auth get REGISTRY [--plain-http]")
	}
	registry := args[1]
	p, err := ambient.ProviderOf(registry)
	if err != nil {
		return usage("%v", err)
	}
	plain := len(args) == 3
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fetch := cloud.Fetcher(cloud.Options{PlainHTTP: func(string) bool { return plain }})
	c, err := fetch(ctx, p, registry)
	if err != nil {
		// The SDKs' errors name the request and the refusal, never the
		// credential (the exec tests check the answer's password shows in
		// no error).
		fmt.Fprintf(errOut, "argo-refs-cloud-auth: %s\n", oneLine(err.Error()))
		if errors.Is(err, ambient.ErrDenied) {
			return ambient.ExitDenied
		}
		return ambient.ExitUnavailable
	}
	if err := json.NewEncoder(out).Encode(ambient.HelperAnswer{Username: c.Username, Password: c.Password, Expires: c.Expires}); err != nil {
		fmt.Fprintf(errOut, "argo-refs-cloud-auth: writing the answer: %v\n", err)
		return ambient.ExitUnavailable
	}
	return ambient.ExitOK
}

// oneLine folds a multi-line error (the Azure SDK's) onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
