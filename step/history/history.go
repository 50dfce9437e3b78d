// Package history reads back the promotions argo-refs recorded in a GitOps
// branch: the trailers of its promotion commits, per stage and in order.
package history

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/argo-refs/argo-refs/internal/trailers"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// Promotion is one promotion commit, as its trailers tell it.
type Promotion struct {
	// Commit is the GitOps commit that moved the stage; When its commit time.
	Commit string    `json:"commit"`
	When   time.Time `json:"when"`
	// Stage, Project, Promotion and Freight are Kargo's names.
	Stage     string `json:"stage"`
	Project   string `json:"project,omitempty"`
	Promotion string `json:"promotion,omitempty"`
	Freight   string `json:"freight,omitempty"`
	// By is the Promotion's creator ("" when the runtime did not say).
	By string `json:"by,omitempty"`
	// From and To are the source commits before and after; From is ""
	// when the stage held no commit before.
	From string `json:"from,omitempty"`
	To   string `json:"to"`
	// Image is the image, ref@digest, and Digest its digest.
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`
	// BuildLock is <freight commit>:<record path>.
	BuildLock string `json:"buildLock,omitempty"`
	// Rollback is true when To is a release the stage held before and left.
	Rollback bool `json:"rollback,omitempty"`
}

// Stage is one stage's promotions, oldest first.
type Stage struct {
	Name       string      `json:"name"`
	Promotions []Promotion `json:"promotions"`
}

// Read returns, per stage (sorted by name; only stage when it is not
// ""), the promotions recorded in the last limit commits of branch, oldest
// first. Commits without argo-refs's promotion trailers (publishes, people's
// commits) are skipped.
func Read(ctx context.Context, remote *gitrepo.Remote, branch, stage string, limit int) ([]Stage, error) {
	log, err := remote.Log(ctx, branch, limit)
	if err != nil {
		return nil, err
	}
	byStage := map[string][]Promotion{}
	for i := len(log) - 1; i >= 0; i-- { // oldest first
		p, ok := parse(log[i])
		if !ok || (stage != "" && p.Stage != stage) {
			continue
		}
		byStage[p.Stage] = append(byStage[p.Stage], p)
	}
	var out []Stage
	for _, name := range slices.Sorted(maps.Keys(byStage)) {
		ps := byStage[name]
		markRollbacks(ps)
		out = append(out, Stage{Name: name, Promotions: ps})
	}
	return out, nil
}

// parse reads a promotion from a commit's trailers; ok is false for a
// commit that is not one (no Kargo-Stage or Source-Commit).
func parse(e gitrepo.LogEntry) (Promotion, bool) {
	ts := trailers.Parse(e.Message)
	p := Promotion{
		Commit:    e.Commit.String(),
		When:      e.Committer.When.UTC(),
		Stage:     trailers.Get(ts, trailers.KargoStage),
		Project:   trailers.Get(ts, trailers.KargoProject),
		Promotion: trailers.Get(ts, trailers.KargoPromotion),
		Freight:   trailers.Get(ts, trailers.KargoFreight),
		By:        trailers.Get(ts, trailers.PromotedBy),
		From:      trailers.Get(ts, trailers.PreviousSourceCommit),
		To:        trailers.Get(ts, trailers.SourceCommit),
		Image:     trailers.Get(ts, trailers.Image),
		BuildLock: trailers.Get(ts, trailers.BuildLock),
	}
	if i := strings.LastIndex(p.Image, "@"); i >= 0 {
		p.Digest = p.Image[i+1:]
	}
	return p, p.Stage != "" && p.To != ""
}

// markRollbacks flags the promotions (oldest first) that go back to a
// source commit the stage held before and then left.
func markRollbacks(ps []Promotion) {
	held := map[string]bool{}
	for i := range ps {
		if held[ps[i].To] && i > 0 && ps[i-1].To != ps[i].To {
			ps[i].Rollback = true
		}
		held[ps[i].To] = true
	}
}

// String is one promotion on one line: when, from → to, image digest, by
// whom, in which commit.
func (p Promotion) String() string {
	from := "(none)"
	if p.From != "" {
		from = shortSHA(p.From)
	}
	by := p.By
	if by == "" {
		by = "?"
	}
	s := fmt.Sprintf("%s  %s → %s  %s  by %s  commit %s", p.When.Format(time.RFC3339), from, shortSHA(p.To), shortDigest(p.Digest), by, shortSHA(p.Commit))
	if p.Rollback {
		s += "  (rollback)"
	}
	return s
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	if d == "" {
		return "(no image)"
	}
	return d
}
