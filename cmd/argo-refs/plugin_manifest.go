package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/argo-refs/argo-refs/internal/manifests"
)

// pluginManifestCmd prints the kargo-extended plugin.yaml and the ConfigMap
// generated from it, so that committed copies can be regenerated and checked
// for drift.
func pluginManifestCmd() *command {
	var image, name, namespace, output string
	return &command{
		name:    "plugin-manifest",
		summary: "Print the kargo-extended StepPlugin plugin.yaml and its discovery ConfigMap for an image.",
		usage:   "--image IMAGE [--name NAME] [--namespace NAMESPACE] [--output plugin|configmap|both]",
		example: "argo-refs plugin-manifest --image ghcr.io/argo-refs/argo-refs:v0.1.0 --output configmap | kubectl apply -f -",
		setup: func(fs *pflag.FlagSet) {
			fs.StringVar(&image, "image", "", "argo-refs image the sidecar runs (required), e.g. ghcr.io/argo-refs/argo-refs:v0.1.0")
			fs.StringVar(&name, "name", manifests.DefaultName, "plugin and sidecar container name; the ConfigMap is named NAME"+manifests.ConfigMapNameSuffix)
			fs.StringVar(&namespace, "namespace", manifests.DefaultNamespace, "namespace of the ConfigMap: kargo-system-resources for all Projects, or a Project namespace")
			fs.StringVarP(&output, "output", "o", "both", "what to print: plugin (plugin.yaml), configmap, or both as two YAML documents")
		},
		run: func(_ context.Context, io stdio, _ *pflag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usageError("unexpected argument %q: plugin-manifest takes only flags", args[0])
			}
			if image == "" {
				return usageError("--image is required")
			}
			if output != "plugin" && output != "configmap" && output != "both" {
				return usageError("--output is %q, want plugin, configmap or both", output)
			}
			out, err := renderPluginManifest(manifests.Options{Image: image, Name: name, Namespace: namespace, Steps: manifests.ArgoRefsSteps()}, output)
			if errors.Is(err, manifests.ErrInvalid) {
				return &exitError{code: exitUsage, err: err}
			}
			if err != nil {
				return err
			}
			_, err = io.stdout.Write(out)
			return err
		},
	}
}

// renderPluginManifest returns the YAML that plugin-manifest prints for
// output "plugin", "configmap" or "both" (the plugin, "---", the ConfigMap).
func renderPluginManifest(opts manifests.Options, output string) ([]byte, error) {
	p, err := manifests.NewStepPlugin(opts)
	if err != nil {
		return nil, fmt.Errorf("building plugin.yaml: %w", err)
	}
	var docs []any
	if output == "plugin" || output == "both" {
		docs = append(docs, p)
	}
	if output == "configmap" || output == "both" {
		cm, err := p.ConfigMap()
		if err != nil {
			return nil, fmt.Errorf("building the ConfigMap of plugin %q: %w", p.Metadata.Name, err)
		}
		docs = append(docs, cm)
	}
	var buf bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		b, err := manifests.Marshal(d)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
