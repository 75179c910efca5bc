package query

import (
	"errors"
	"testing"

	"github.com/vigil-soc/vigil/internal/event"
)

// FuzzParse checks that Parse never panics, that its errors are *SyntaxError inside the text,
// that every query that parses round-trips through String, and that evaluating and planning it
// never panics either. The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add(`class = authentication status = failure user = alice | since 7d`)
	full, empty := fullEvent(), event.Event{}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", src, err, err)
			}
			if se.Pos < 0 || se.Pos > len(src) || se.Msg == "" {
				t.Fatalf("Parse(%q) = %v: position %d outside the text of %d bytes, or no message", src, err, se.Pos, len(src))
			}
			return
		}
		text := q.String()
		q2, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) gives %q, which does not parse: %v", src, text, err)
		}
		if again := q2.String(); again != text {
			t.Fatalf("Parse(%q) gives %q, which parses back to %q", src, text, again)
		}
		p := q.plan(now)
		p.match(&full)
		p.match(&empty)
	})
}
