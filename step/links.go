package step

// The links output: deep links Kargo (v1.11 and later) shows beside a
// step in its UI, each {url, icon, label, tooltip} as its output-links
// plugin reads them (ui/src/plugins/output-links-plugin: an http(s) url,
// an optional Font Awesome icon name, label and tooltip). Links are built
// only for hosts whose URL shapes are known: GitHub and GitLab for
// commits and comparisons, ghcr.io, Docker Hub and Quay for images.

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/argo-refs/argo-refs/warehouse"
)

// OutputLinks is the output key of the links.
const OutputLinks = "links"

// Link is one entry of the links output.
type Link struct {
	URL     string `json:"url"`
	Icon    string `json:"icon,omitempty"`
	Label   string `json:"label"`
	Tooltip string `json:"tooltip,omitempty"`
}

// forge is the URL shape of a Git host.
type forge int

const (
	noForge forge = iota
	gitHub
	gitLab
)

// webRepo returns the web address of a Git repository and its host's
// shape, or noForge when neither is known.
func webRepo(repoURL string) (string, forge) {
	u, err := url.Parse(strings.TrimSpace(repoURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", noForge
	}
	host := strings.ToLower(u.Hostname())
	f := noForge
	switch {
	case host == "github.com" || strings.HasPrefix(host, "github."):
		f = gitHub
	case host == "gitlab.com" || strings.HasPrefix(host, "gitlab."):
		f = gitLab
	default:
		return "", noForge
	}
	p := strings.TrimSuffix(strings.TrimSuffix(u.EscapedPath(), "/"), ".git")
	if strings.Count(strings.Trim(p, "/"), "/") < 1 {
		return "", noForge
	}
	return u.Scheme + "://" + u.Host + p, f
}

// commitLink links a commit on GitHub or GitLab; ok is false elsewhere.
func commitLink(repoURL, sha, icon, label, tooltip string) (Link, bool) {
	base, f := webRepo(repoURL)
	switch f {
	case gitHub:
		return Link{URL: base + "/commit/" + sha, Icon: icon, Label: label, Tooltip: tooltip}, true
	case gitLab:
		return Link{URL: base + "/-/commit/" + sha, Icon: icon, Label: label, Tooltip: tooltip}, true
	}
	return Link{}, false
}

// compareLink links the changes from one source commit to another.
func compareLink(repoURL, from, to string) (Link, bool) {
	base, f := webRepo(repoURL)
	tip := "source changes " + short(from) + "…" + short(to)
	switch f {
	case gitHub:
		return Link{URL: base + "/compare/" + from + "..." + to, Icon: "faFileCode", Label: "Changes", Tooltip: tip}, true
	case gitLab:
		return Link{URL: base + "/-/compare/" + from + "..." + to, Icon: "faFileCode", Label: "Changes", Tooltip: tip}, true
	}
	return Link{}, false
}

// imageLink links the recorded image's page on ghcr.io (an organisation's
// package), Docker Hub or Quay, at the recorded digest where the site has
// a page per digest.
func imageLink(rec *warehouse.Record) (Link, bool) {
	repo := rec.ImageRepository()
	host, path, ok := strings.Cut(repo, "/")
	if !ok || path == "" {
		return Link{}, false
	}
	hex := strings.TrimPrefix(rec.Image.Digest, "sha256:")
	tip := "image " + repo + "@" + shortDigest(rec.Image.Digest)
	switch strings.ToLower(host) {
	case "ghcr.io":
		owner, name, ok := strings.Cut(path, "/")
		if !ok {
			return Link{}, false
		}
		return Link{URL: "https://github.com/orgs/" + owner + "/packages/container/package/" + url.PathEscape(name), Icon: "faGithub", Label: "Image", Tooltip: tip}, true
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		if !strings.Contains(path, "/") {
			path = "library/" + path
		}
		return Link{URL: "https://hub.docker.com/layers/" + path + "/" + rec.ReleaseID + "/images/sha256-" + hex, Icon: "faDocker", Label: "Image", Tooltip: tip}, true
	case "quay.io":
		return Link{URL: "https://quay.io/repository/" + path + "/manifest/" + rec.Image.Digest, Icon: "faDocker", Label: "Image", Tooltip: tip}, true
	}
	return Link{}, false
}

// hexCommit matches a full Git commit ID.
var hexCommit = regexp.MustCompile(`^[0-9a-f]{40}$`)

// previousSourceCommit is the source commit the stage was at before the
// promotion: the old value of a moved scalar that now holds the release's
// commit. "" when none was moved or the old value is not a commit ID.
func previousSourceCommit(rec *warehouse.Record, changes []TargetChange) string {
	for _, c := range changes {
		if c.New == rec.GitCommit && c.Old != c.New && hexCommit.MatchString(c.Old) {
			return c.Old
		}
	}
	return ""
}

// linksFor builds the links of a successful run: the GitOps commit, the
// source commit, the changes since the stage's previous source commit and
// the image, each only where its host's URL shape is known.
func linksFor(out *outcome) []Link {
	rec := out.record
	var links []Link
	add := func(l Link, ok bool) {
		if ok {
			links = append(links, l)
		}
	}
	if out.gitopsCommit != "" && out.diff == "" {
		what := "GitOps commit " + short(out.gitopsCommit)
		if out.branch != "" {
			what += " on " + out.branch
		}
		add(commitLink(out.repoURL, out.gitopsCommit, "faGitAlt", "GitOps", what))
	}
	add(commitLink(rec.Packaging.SourceRepo, rec.GitCommit, "faCode", "Source", "source commit "+short(rec.GitCommit)))
	if prev := previousSourceCommit(rec, out.targets); prev != "" {
		add(compareLink(rec.Packaging.SourceRepo, prev, rec.GitCommit))
	}
	add(imageLink(rec))
	return links
}
