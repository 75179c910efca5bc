package connectortest

import "testing"

// The fakes parse whatever filter a client sends; they must answer 400, never panic.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"a eq 'b'", `x.y sw "z" and not (p pr)`, "t/any(v: v/id eq 'x')", "startswith(a,'b')", "d ge 2025-01-01T00:00:00Z", "((", "a eq ''''"} {
		f.Add(s)
	}
	doc := map[string]any{"a": "b", "t": []any{map[string]any{"id": "x"}}, "x": map[string]any{"y": "zz"}}
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := parseFilter(s); err == nil {
			matches(e, doc)
		}
		if terms, err := parseFQL(s); err == nil {
			fqlMatch(terms, doc)
		}
	})
}
