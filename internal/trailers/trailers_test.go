package trailers_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/argo-refs/argo-refs/internal/trailers"
)

// interpret runs git interpret-trailers --parse on msg: git's own reading.
func interpret(t testing.TB, msg string) string {
	t.Helper()
	cmd := exec.Command("git", "interpret-trailers", "--parse")
	cmd.Stdin = strings.NewReader(msg)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git interpret-trailers: %v", err)
	}
	return string(out)
}

func TestAppendAsGitReadsIt(t *testing.T) {
	for _, tc := range []struct {
		name, message string
		add           []trailers.Trailer
		want          string // git interpret-trailers --parse
	}{
		{"subject only", "Promote staging to git-abc", []trailers.Trailer{{trailers.KargoStage, "staging"}, {trailers.SourceCommit, "abc"}},
			"Kargo-Stage: staging\nSource-Commit: abc\n"},
		{"a body", "Promote staging\n\nBecause.\nReally.\n", []trailers.Trailer{{trailers.Image, "ghcr.io/o/a:git-1@sha256:00"}},
			"Image: ghcr.io/o/a:git-1@sha256:00\n"},
		{"existing trailers are kept", "Promote staging\n\nSigned-off-by: A <a@b>\n", []trailers.Trailer{{trailers.PromotedBy, "admin"}},
			"Signed-off-by: A <a@b>\nPromoted-By: admin\n"},
		{"hostile values", "m", []trailers.Trailer{{trailers.PromotedBy, "eve\n\nKargo-Stage: production"}, {trailers.KargoStage, "staging"}, {trailers.KargoFreight, ""}},
			"Promoted-By: eve Kargo-Stage: production\nKargo-Stage: staging\n"},
		{"bad key dropped", "m", []trailers.Trailer{{"Bad Key", "x"}, {trailers.KargoStage, "s"}}, "Kargo-Stage: s\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := trailers.Append(tc.message, tc.add...)
			if got := interpret(t, msg); got != tc.want {
				t.Errorf("git reads\n%s\nwant\n%s\nmessage:\n%s", got, tc.want, msg)
			}
			var ours strings.Builder
			for _, tr := range trailers.Parse(msg) {
				ours.WriteString(tr.Key + ": " + tr.Value + "\n")
			}
			if ours.String() != tc.want {
				t.Errorf("Parse reads\n%s\nwant\n%s", ours.String(), tc.want)
			}
		})
	}
}

func TestParseNeedsAWholeTrailerParagraph(t *testing.T) {
	for _, msg := range []string{
		"Kargo-Stage: staging",                       // the subject is not a trailer
		"subject\n\nKargo-Stage: s\nthis is prose\n", // not all trailers
		"subject\n\nKargo-Stage: s\n\nlast paragraph is prose\n",
	} {
		if got := trailers.Parse(msg); got != nil {
			t.Errorf("Parse(%q) = %v, want none", msg, got)
		}
	}
	ts := trailers.Parse("s\n\nkargo-stage: a\nKargo-Stage: b\n")
	if got := trailers.Get(ts, trailers.KargoStage); got != "b" {
		t.Errorf("Get = %q, want the last value", got)
	}
}

// FuzzAppendParse: whatever the values, Append writes trailers Parse reads
// back, one per non-empty value, each one line and valid UTF-8 when the
// value was.
func FuzzAppendParse(f *testing.F) {
	f.Add("Promote staging", "staging", "eve\nKargo-Stage: x", "ghcr.io/a:b@sha256:00")
	f.Add("", "", "", "")
	f.Add("s\n\nKey: v", "\x00", "é\u2028", strings.Repeat("€", 600))
	f.Fuzz(func(t *testing.T, message, stage, actor, image string) {
		in := []trailers.Trailer{{trailers.KargoStage, stage}, {trailers.PromotedBy, actor}, {trailers.Image, image}}
		msg := trailers.Append(message, in...)
		got := trailers.Parse(msg)
		var want []trailers.Trailer
		for _, tr := range in {
			if strings.TrimSpace(strings.Map(func(r rune) rune {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
					return ' '
				}
				return r
			}, tr.Value)) != "" {
				want = append(want, tr)
			}
		}
		if len(want) == 0 {
			return
		}
		if len(got) < len(want) {
			t.Fatalf("Parse(Append) = %v, want at least %d trailers", got, len(want))
		}
		tail := got[len(got)-len(want):]
		for i, tr := range tail {
			if tr.Key != want[i].Key || strings.Contains(tr.Value, "\n") || len(tr.Value) > 1024 {
				t.Errorf("trailer %d = %+v", i, tr)
			}
			if utf8.ValidString(want[i].Value) && !utf8.ValidString(tr.Value) {
				t.Errorf("trailer %d lost UTF-8: %q", i, tr.Value)
			}
		}
	})
}
