package ask

import (
	"testing"

	"github.com/vigil-soc/vigil/internal/query"
)

// FuzzCompile: any question either fails with an error or compiles to a query that parses.
func FuzzCompile(f *testing.F) {
	for _, q := range corpus {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, question string) {
		tr, err := Compile(question, now)
		if err != nil {
			return
		}
		if _, err := query.Parse(tr.Query); err != nil {
			t.Fatalf("%q compiled to %q, which does not parse: %v", question, tr.Query, err)
		}
	})
}
