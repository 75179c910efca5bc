package okta_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/okta"
)

// Link headers come from the server.
func FuzzNextLink(f *testing.F) {
	for _, s := range []string{`<https://a/1>; rel="next"`, `<https://a/1>; rel="self", <https://a/2>; rel=next`, `<>; rel=next`, `garbage`, `<x;y>; rel="next"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := okta.NextLink(http.Header{"Link": {s}})
		if got != "" && !strings.Contains(s, got) {
			t.Fatalf("NextLink(%q) = %q, not part of the header", s, got)
		}
	})
}
