package review

// The review as text (a terminal), Markdown (a pull request) and a short
// summary line.

import (
	"fmt"
	"slices"
	"strings"
)

// Line is the one-line summary, e.g. "2 changed, 1 added, 0 removed (14
// unchanged); images: 1; replicas: Deployment/staging/web 2→3".
func (s Summary) Line() string {
	out := fmt.Sprintf("%d changed, %d added, %d removed (%d unchanged)", s.Changed, s.Added, s.Removed, s.Unchanged)
	if len(s.Images) > 0 {
		out += fmt.Sprintf("; images: %d", len(s.Images))
	}
	if len(s.Replicas) > 0 {
		var rs []string
		for _, r := range s.Replicas {
			rs = append(rs, fmt.Sprintf("%s %s→%s", r.Resource, orDash(r.Old), orDash(r.New)))
		}
		out += "; replicas: " + strings.Join(rs, ", ")
	}
	if len(s.ComputeResources) > 0 {
		out += fmt.Sprintf("; requests/limits: %d containers", len(s.ComputeResources))
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var opMark = map[string]string{Added: "+", Removed: "-", Changed: "~"}

// Text is the review for a terminal: the summary, the images, then each
// change with its diff.
func (r *Review) Text() string {
	var b strings.Builder
	b.WriteString(r.Summary.Line() + "\n")
	for _, im := range r.Summary.Images {
		fmt.Fprintf(&b, "  image %s %s: %s → %s\n", im.Resource, im.Container, orDash(im.Old), orDash(im.New))
	}
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "\n%s %s\n", opMark[c.Op], c.Resource)
		if len(c.SecretKeys) > 0 {
			fmt.Fprintf(&b, "  Secret keys changed (values not shown): %s\n", strings.Join(c.SecretKeys, ", "))
		}
		b.WriteString(c.Diff)
	}
	return b.String()
}

// Markdown is the review for a pull request body, at most max bytes: the
// summary and images, then one collapsed section per change. Changes that
// do not fit are left out, and the text says how many; cut reports it.
func (r *Review) Markdown(title string, max int) (md string, cut bool) {
	var head strings.Builder
	fmt.Fprintf(&head, "### %s\n\n**%s**\n", title, r.Summary.Line())
	if len(r.Summary.Images) > 0 {
		head.WriteString("\n| resource | container | image before | image after |\n|---|---|---|---|\n")
		for _, im := range r.Summary.Images {
			fmt.Fprintf(&head, "| `%s` | `%s` | `%s` | `%s` |\n", im.Resource, im.Container, orDash(im.Old), orDash(im.New))
		}
	}
	if len(r.Changes) == 0 {
		head.WriteString("\nThe rendered manifests are the same.\n")
	}
	out := head.String()
	for i, c := range r.Changes {
		sec := fmt.Sprintf("\n<details><summary><code>%s %s</code></summary>\n\n", opMark[c.Op], c.Resource)
		if len(c.SecretKeys) > 0 {
			sec += "Secret keys changed (values not shown): `" + strings.Join(c.SecretKeys, "`, `") + "`\n\n"
		}
		sec += "```diff\n" + strings.ReplaceAll(c.Diff, "```", "`\u200b``") + "```\n\n</details>\n"
		note := fmt.Sprintf("\n… %d more changed resources are not shown (the review is cut at %d KB); `argo-refs diff` prints them all.\n", len(r.Changes)-i, max/1024)
		if len(out)+len(sec)+len(note) > max {
			return out + note, true
		}
		out += sec
	}
	return out, false
}

// KindList lists the kinds that changed, sorted.
func (s Summary) KindList() []string {
	var ks []string
	for k := range s.Kinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
