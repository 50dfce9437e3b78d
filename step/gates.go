package step

// The gates of argo-refs-promote: read at the tip of the branch it edits,
// after the record's checks and before any edit, on every attempt (a push
// race brings a new tip, and the gate is read there again). Their files
// come in the request that brings the targets.

import (
	"context"
	"fmt"

	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// OutputLegacyGitflow is the output of the legacy gitflow gate: env,
// revision, tag, mergedAt and path of the merge record it read.
const OutputLegacyGitflow = "legacyGitflow"

// gatePaths lists the files the gates read at the tip for fr's release
// (none when no gate is configured, or the release is not known yet: the
// gates then read them on their own).
func (r *runner) gatePaths(ctx context.Context, fr *freightRecord) []string {
	g := r.plan.LegacyGate
	if g == nil {
		return nil
	}
	commit := fr.release(ctx)
	if commit == "" {
		return nil
	}
	return []string{warehouse.LegacyMergedPath(g.Dir, g.Env, commit)}
}

// checkLegacyGate requires the release's merge record into the legacy
// branch at tip. A missing record is terminal: the promotion passes when it
// runs again after the legacy merge, with the same Freight.
func (r *runner) checkLegacyGate(ctx context.Context, tip gitrepo.Snapshot, rec *warehouse.Record) (map[string]any, error) {
	g := r.plan.LegacyGate
	if g == nil {
		return nil, nil
	}
	p := warehouse.LegacyMergedPath(g.Dir, g.Env, rec.GitCommit)
	at := short(tip.Commit().String())
	files, err := tip.ReadFiles(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("legacy gitflow gate: reading %s at %s: %w", p, at, err)
	}
	f := files[p]
	if !f.Exists {
		return nil, Terminal(fmt.Errorf("legacy gitflow gate: %s is not on %s at %s, so %s has not been merged into the legacy %s branch yet; "+
			"the workflow on merges into %s writes it (argo-refs legacy-merge --env %s), and this promotion passes when run again after that, with the same Freight",
			p, r.plan.Branch, at, rec.ReleaseID, g.Env, g.Env, g.Env))
	}
	m, err := warehouse.ParseLegacyMerge(p, f.Data)
	if err != nil {
		return nil, Terminal(fmt.Errorf("legacy gitflow gate at %s: %w", at, err))
	}
	if m.Revision != rec.GitCommit {
		return nil, Terminal(fmt.Errorf("legacy gitflow gate: %s at %s records revision %s, the build-lock's gitCommit is %s", p, at, m.Revision, rec.GitCommit))
	}
	r.log.Info("legacy gitflow gate passed", "env", g.Env, "release", m.Tag, "mergedAt", m.MergedAt, "tip", at)
	return map[string]any{
		"env": g.Env, "revision": m.Revision, "tag": m.Tag,
		"mergedAt": m.MergedAt.UTC().Format("2006-01-02T15:04:05Z"), "path": p,
	}, nil
}
