package helperbin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// Main is a helper's main: it reads one JSON request of at most
// maxRequest bytes from in into req, calls answer, and writes its result
// as JSON on out. It returns the exit code: 0 when an answer was written,
// 2 for arguments or a request it cannot read, 1 when writing fails.
// --help prints usage.
func Main(ctx context.Context, name, usage string, args []string, in io.Reader, out, errOut io.Writer, maxRequest int64, req any, answer func(context.Context) (any, error)) int {
	if len(args) == 1 && (args[0] == "--help" || args[0] == "-h") {
		fmt.Fprintln(out, usage)
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintf(errOut, "%s: unexpected arguments %q (it reads a request on stdin)\n", name, args)
		return 2
	}
	data, err := io.ReadAll(io.LimitReader(in, maxRequest+1))
	if err != nil {
		fmt.Fprintf(errOut, "%s: reading the request: %v\n", name, err)
		return 2
	}
	if int64(len(data)) > maxRequest {
		fmt.Fprintf(errOut, "%s: the request is over %d bytes\n", name, maxRequest)
		return 2
	}
	if err := json.Unmarshal(data, req); err != nil {
		fmt.Fprintf(errOut, "%s: reading the request: %v\n", name, err)
		return 2
	}
	res, err := answer(ctx)
	if err != nil {
		fmt.Fprintf(errOut, "%s: %v\n", name, err)
		return 2
	}
	if err := json.NewEncoder(out).Encode(res); err != nil {
		fmt.Fprintf(errOut, "%s: writing the answer: %v\n", name, err)
		return 1
	}
	return 0
}
