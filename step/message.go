package step

// The commit message: a text/template restricted to fields, conditionals
// and a few functions that cannot loop, rendered into at most 64 KiB.

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
)

// MessageVars are the values a commit message template sees.
type MessageVars struct {
	Stage       string
	ReleaseID   string
	GitCommit   string
	ImageRef    string
	ImageDigest string
	Project     string
}

// CommitMessage renders the plan's message template with v; an empty Stage
// or Project in v is taken from the plan. With SkipCI, " [skip ci]" is
// appended to the first line unless the message already contains it.
func (p *Plan) CommitMessage(v MessageVars) (string, error) {
	t := p.message
	if t == nil {
		var err error
		if t, err = parseMessage(DefaultMessage); err != nil {
			return "", err
		}
	}
	v.Stage = cmp.Or(v.Stage, p.Stage)
	v.Project = cmp.Or(v.Project, p.Project)
	msg, err := renderMessage(t, v)
	if err != nil {
		return "", Terminal(fmt.Errorf("rendering the commit message: %w", err))
	}
	if msg == "" {
		return "", Terminal(errors.New("rendering the commit message: the template gave an empty message"))
	}
	if p.SkipCI && !strings.Contains(msg, skipCIMarker) {
		subject, body, hasBody := strings.Cut(msg, "\n")
		msg = strings.TrimRight(subject, " \t") + " " + skipCIMarker
		if hasBody {
			msg += "\n" + body
		}
	}
	return msg, nil
}

// messageFuncs are the template functions a commit message may call; none
// can loop or allocate more than its inputs.
var messageFuncs = map[string]bool{
	"and": true, "or": true, "not": true, "eq": true, "ne": true,
	"len": true, "slice": true, "print": true,
}

func parseMessage(s string) (*template.Template, error) {
	t, err := template.New("message").Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a valid template: %v", strings.TrimPrefix(err.Error(), "template: "))
	}
	if err := checkMessageNode(t.Tree.Root); err != nil {
		return nil, err
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("must not define templates")
	}
	if _, err := renderMessage(t, sampleMessageVars); err != nil {
		return nil, fmt.Errorf("does not render: %v", strings.TrimPrefix(err.Error(), "template: "))
	}
	return t, nil
}

// sampleMessageVars has realistic lengths so a trial render catches
// templates that fail on every real release (unknown fields, bad slices).
var sampleMessageVars = MessageVars{
	Stage:       "staging",
	ReleaseID:   "git-" + strings.Repeat("0", 40),
	GitCommit:   strings.Repeat("0", 40),
	ImageRef:    "registry.example.com/app:git-" + strings.Repeat("0", 40),
	ImageDigest: "sha256:" + strings.Repeat("0", 64),
	Project:     "project",
}

func checkMessageNode(n parse.Node) error {
	const allowed = "may use only {{.Field}}, {{if}}/{{else if}}/{{else}} and the functions and, or, not, eq, ne, len, slice, print"
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkMessageNode(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.TextNode, *parse.FieldNode, *parse.DotNode, *parse.StringNode,
		*parse.NumberNode, *parse.BoolNode, *parse.NilNode:
		return nil
	case *parse.ActionNode:
		return checkMessageNode(n.Pipe)
	case *parse.IfNode:
		for _, c := range []parse.Node{n.Pipe, n.List, n.ElseList} {
			if err := checkMessageNode(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		if len(n.Decl) > 0 {
			return errors.New(allowed + "; no variables")
		}
		for _, c := range n.Cmds {
			if err := checkMessageNode(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkMessageNode(a); err != nil {
				return err
			}
		}
		return nil
	case *parse.IdentifierNode:
		if messageFuncs[n.Ident] {
			return nil
		}
		return fmt.Errorf("%s; not %s", allowed, n.Ident)
	default:
		return fmt.Errorf("%s; not %s", allowed, n)
	}
}

type limitedBuffer struct {
	bytes.Buffer
}

var errMessageTooLong = errors.New("commit message longer than 64 KiB")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxMessageOutputSize {
		return 0, errMessageTooLong
	}
	return b.Buffer.Write(p)
}

func renderMessage(t *template.Template, v MessageVars) (string, error) {
	var b limitedBuffer
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}
