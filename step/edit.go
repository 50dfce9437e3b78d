package step

// Editing the targets at the branch tip: each target kind's edit, applied
// in the config's order, refusing two targets that give one scalar two
// values.

import (
	"context"
	"fmt"
	"slices"

	"github.com/argo-refs/argo-refs/step/target"
	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// editTargets reads every target file at the tip and applies the release.
func (r *runner) editTargets(ctx context.Context, tip gitrepo.Snapshot, rec *warehouse.Record) ([]fileEdit, []TargetChange, error) {
	paths := r.targetPaths()
	files, err := tip.ReadFiles(ctx, paths...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading targets at %s: %w", short(tip.Commit().String()), err)
	}
	current := map[string][]byte{}
	for _, p := range paths {
		f := files[p]
		if !f.Exists {
			return nil, nil, Terminal(fmt.Errorf("target %s does not exist on %s at %s", p, r.plan.Branch, short(tip.Commit().String())))
		}
		current[p] = f.Data
	}
	var changes []TargetChange
	// Every scalar written, and by which target: two targets may not
	// give one scalar two values (the last would win without a word).
	type write struct{ value, by string }
	written := map[string]write{}
	var by string // the target being applied, for messages
	set := func(p string, edit func([]byte) ([]byte, []target.Change, error)) error {
		out, chs, err := edit(current[p])
		if err != nil {
			return Terminal(fmt.Errorf("editing %s: %w", p, err))
		}
		for _, c := range chs {
			k := p + "\x00" + c.Key
			if w, ok := written[k]; ok && w.value != c.New {
				return Terminal(fmt.Errorf("%w: %s sets %s in %s to %q, but %s sets it to %q; one scalar cannot take both", ErrConflictingTargets, by, c.Key, p, c.New, w.by, w.value))
			}
			written[k] = write{c.New, by}
		}
		current[p] = out
		for _, c := range chs {
			changes = append(changes, TargetChange{Path: p, Key: c.Key, Old: c.Old, New: c.New})
		}
		return nil
	}
	one := func(out []byte, c target.Change, err error) ([]byte, []target.Change, error) {
		return out, []target.Change{c}, err
	}
	for i, t := range r.plan.Targets {
		by = fmt.Sprintf("targets[%d] (%s %s)", i, t.Kind, t.Path)
		var err error
		switch t.Kind {
		case TargetDeploymentFile:
			err = set(t.Path, func(in []byte) ([]byte, []target.Change, error) {
				return one(target.SetValue(in, t.Key, rec.GitCommit))
			})
			if err == nil && t.SetImage {
				err = set(t.ValuesFile, func(in []byte) ([]byte, []target.Change, error) {
					return one(target.SetValue(in, t.ImageKey, r.imageValue(rec, t.PinDigest)))
				})
			}
		case TargetApplication:
			err = set(t.Path, func(in []byte) ([]byte, []target.Change, error) {
				return one(target.SetApplicationRevision(in, rec.Packaging.SourceRepo, rec.GitCommit))
			})
		case TargetKustomization:
			edit := target.KustomizeEdit{
				SourceRepo: rec.Packaging.SourceRepo, SourcePath: rec.Packaging.SourcePath,
				Ref: rec.GitCommit, ImageName: t.ImageName, NewTag: rec.ReleaseID,
			}
			if edit.ImageName == "" {
				edit.ImageName = rec.ImageRepository()
			}
			if t.PinDigest {
				edit.Digest = rec.Image.Digest
			}
			if t.Contract {
				envType, ns, merr := target.ReadDeploymentMeta(current[t.MetaPath])
				if merr != nil {
					err = Terminal(fmt.Errorf("targets[%d]: the wrapper contract reads %s: %w", i, t.MetaPath, merr))
					break
				}
				edit.Contract = &target.WrapperContract{Namespace: ns, EnvType: envType, NewName: rec.ImageRepository(), Strict: t.Strict}
			}
			err = set(t.Path, func(in []byte) ([]byte, []target.Change, error) { return target.SetKustomization(in, edit) })
		default:
			err = Terminal(fmt.Errorf("unknown target kind %q", t.Kind))
		}
		if err != nil {
			return nil, nil, err
		}
	}
	edits := make([]fileEdit, 0, len(paths))
	for _, p := range paths {
		edits = append(edits, fileEdit{path: p, old: files[p].Data, new: current[p]})
	}
	return edits, changes, nil
}

// targetPaths lists every file the targets read and write, once each.
func (r *runner) targetPaths() []string {
	var paths []string
	for _, t := range r.plan.Targets {
		paths = appendUnique(paths, t.Path)
		if t.Kind == TargetDeploymentFile && t.SetImage {
			paths = appendUnique(paths, t.ValuesFile)
		}
		if t.MetaPath != "" {
			paths = appendUnique(paths, t.MetaPath) // read, not edited
		}
	}
	return paths
}

// imageValue is what a stage's image key is set to: the tagged ref, or
// repo@digest when the target pins digests.
func (r *runner) imageValue(rec *warehouse.Record, pin bool) string {
	if pin {
		return rec.ImageRepository() + "@" + rec.Image.Digest
	}
	return rec.Image.Ref
}

func (r *runner) pinsDigest() bool {
	for _, t := range r.plan.Targets {
		if t.PinDigest {
			return true
		}
	}
	return false
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
