package target

import (
	"fmt"
	"regexp"

	yaml "go.yaml.in/yaml/v3"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// KustomizeEdit says what SetKustomization moves.
type KustomizeEdit struct {
	// SourceRepo and SourcePath name the remote resource to retarget:
	// SourceRepo//SourcePath.
	SourceRepo, SourcePath string
	// Ref is the new ?ref= value (the commit SHA).
	Ref string
	// ImageName selects the images[] entry to edit, matched on name, else
	// on newName; "" means no image edit.
	ImageName string
	// NewTag is the tag to set in newTag when Digest is empty.
	NewTag string
	// Digest, when non-empty, is set in digest (newTag is left alone); the
	// entry must already have a digest key.
	Digest string
	// Contract, when set, applies the whole deploy-wrapper contract too
	// (see WrapperContract): namespace, components and newName.
	Contract *WrapperContract
}

var (
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]+$`)
)

// SetKustomization rewrites, in the first document of a kustomization, the
// ref of the one resources[] remote that points at SourceRepo//SourcePath
// (other query parameters and their order kept), then, when ImageName is
// set, the newTag (or digest) of the matching images[] entry. It returns
// one Change per scalar it set, with Old == New when the scalar already
// held the value; out equals in when nothing changed. No or several
// matching remotes or images is an error (ErrNotFound, ErrAmbiguous), and so
// is a missing newTag or digest key: keys are never added.
func SetKustomization(in []byte, e KustomizeEdit) (out []byte, changes []Change, err error) {
	if err := checkRef(e.Ref); err != nil {
		return nil, nil, fmt.Errorf("editing kustomization: %w", err)
	}
	if e.SourceRepo == "" {
		return nil, nil, fmt.Errorf("editing kustomization: no source repository given: %w", ErrInvalid)
	}
	imageKey, imageValue := "", ""
	switch {
	case e.ImageName == "":
	case e.Digest != "":
		if !digestRE.MatchString(e.Digest) {
			return nil, nil, fmt.Errorf("editing kustomization: digest %q is not algorithm:hex: %w", e.Digest, ErrInvalid)
		}
		imageKey, imageValue = "digest", e.Digest
	default:
		if !tagRE.MatchString(e.NewTag) {
			return nil, nil, fmt.Errorf("editing kustomization: image tag %q is not a valid tag: %w", e.NewTag, ErrInvalid)
		}
		imageKey, imageValue = "newTag", e.NewTag
	}
	docs, err := parseDocs(in)
	if err != nil {
		return nil, nil, err
	}
	res, err := rootSequence(docs, "resources")
	if err != nil {
		return nil, nil, err
	}
	at, newURL := -1, ""
	for i, item := range res.Content {
		if item.Kind != yaml.ScalarNode {
			continue
		}
		u, ok, err := RewriteRemoteRef(item.Value, e.SourceRepo, e.SourcePath, e.Ref)
		if err != nil {
			return nil, nil, fmt.Errorf("editing resources[%d]: %w", i, err)
		}
		if !ok {
			continue
		}
		if at >= 0 {
			return nil, nil, fmt.Errorf("editing kustomization: resources[%d] and [%d] both point at %s//%s: %w", at, i, netpolicy.RedactURL(e.SourceRepo), e.SourcePath, ErrAmbiguous)
		}
		at, newURL = i, u
	}
	if at < 0 {
		return nil, nil, fmt.Errorf("editing kustomization: no resources[] entry points at %s//%s: %w", netpolicy.RedactURL(e.SourceRepo), e.SourcePath, ErrNotFound)
	}
	out, ch, err := setAt(in, 0, []pathElem{{key: "resources"}, {index: at, isIndex: true}}, newURL)
	if err != nil {
		return nil, nil, err
	}
	changes = append(changes, ch)
	if e.ImageName == "" {
		return out, changes, nil
	}
	if docs, err = parseDocs(out); err != nil {
		return nil, nil, err
	}
	images, err := rootSequence(docs, "images")
	if err != nil {
		return nil, nil, err
	}
	idx, err := findImage(images, e.ImageName)
	if err != nil {
		return nil, nil, err
	}
	out, ch, err = setAt(out, 0, []pathElem{{key: "images"}, {index: idx, isIndex: true}, {key: imageKey}}, imageValue)
	if err != nil {
		return nil, nil, err
	}
	changes = append(changes, ch)
	if e.Contract == nil {
		return out, changes, nil
	}
	out, more, err := applyContract(out, *e.Contract, idx)
	if err != nil {
		return nil, nil, err
	}
	return out, append(changes, more...), nil
}

// rootSequence returns the sequence under key in the first document.
func rootSequence(docs []*yaml.Node, key string) (*yaml.Node, error) {
	if len(docs) == 0 || len(docs[0].Content) == 0 || docs[0].Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("finding %s: kustomization is not a mapping: %w", key, ErrNotFound)
	}
	n, err := mapValue(docs[0].Content[0], key)
	switch {
	case err != nil:
		return nil, fmt.Errorf("finding %s: %w", key, err)
	case n == nil:
		return nil, fmt.Errorf("finding %s: kustomization has no %s: %w", key, key, ErrNotFound)
	case n.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("finding %s: it is a %s, want a sequence: %w", key, kindName(n), ErrUnsupported)
	}
	return n, nil
}

// findImage returns the index of the images[] entry whose name is name or,
// failing that, whose newName is name.
func findImage(images *yaml.Node, name string) (int, error) {
	for _, field := range []string{"name", "newName"} {
		at := -1
		for i, img := range images.Content {
			if img.Kind != yaml.MappingNode {
				continue
			}
			v, err := mapValue(img, field)
			if err != nil {
				return 0, fmt.Errorf("reading images[%d]: %w", i, err)
			}
			if v == nil || v.Kind != yaml.ScalarNode || v.Value != name {
				continue
			}
			if at >= 0 {
				return 0, fmt.Errorf("finding image %q: images[%d] and [%d] both have %s %q: %w", name, at, i, field, name, ErrAmbiguous)
			}
			at = i
		}
		if at >= 0 {
			return at, nil
		}
	}
	return 0, fmt.Errorf("finding image %q: no images[] entry has that name or newName: %w", name, ErrNotFound)
}
