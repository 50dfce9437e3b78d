package main

// The version of argo-refs: stamped with -ldflags "-X main.version=..." by
// release builds, else the module version, with the commit and build date
// from the build information Go records.

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// versionInfo is what `argo-refs version -o json` prints.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	BuildDate string `json:"buildDate,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
}

// buildVersion reads the version and the build information.
func buildVersion() versionInfo {
	v := versionInfo{Version: version}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.GoVersion = bi.GoVersion
	if v.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.BuildDate = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one-line form: version, then commit and date when known.
func (v versionInfo) String() string {
	s := v.Version
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if v.Modified {
			c += "-dirty"
		}
		s += " (" + c
		if v.BuildDate != "" {
			s += ", " + v.BuildDate
		}
		s += ")"
	}
	return s
}

func versionCmd() *command {
	var output string
	return &command{
		name:    "version",
		summary: "Print the version of argo-refs, the commit it was built from and when.",
		example: "argo-refs version -o json",
		setup: func(fs *pflag.FlagSet) {
			fs.StringVarP(&output, "output", "o", "text", "output format: text or json")
		},
		run: func(_ context.Context, io stdio, _ *pflag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usageError("unexpected arguments %q", args)
			}
			v := buildVersion()
			switch output {
			case "text":
				fmt.Fprintf(io.stdout, "argo-refs %s\n", v)
			case "json":
				b, err := json.MarshalIndent(v, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(io.stdout, "%s\n", b)
			default:
				return usageError("--output is %q, want text or json", output)
			}
			return nil
		},
	}
}
