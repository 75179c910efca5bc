package event

import "testing"

func TestCanonicalUser(t *testing.T) {
	for _, c := range []struct{ name, domain, want string }{
		{"bob", "EXAMPLE", `example\bob`},
		{"Bob", "example.corp", `example\bob`},
		{"bob@example.com", "", `example\bob`},
		{`EXAMPLE\Bob`, "", `example\bob`},
		{"administrator", "-", "administrator"},
		{"WS01$", "CORP", `corp\ws01$`},
		{"-", "X", ""},
		{"", "X", ""},
	} {
		if got := CanonicalUser(c.name, c.domain); got != c.want {
			t.Errorf("CanonicalUser(%q, %q) = %q, want %q", c.name, c.domain, got, c.want)
		}
	}
}
