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

func TestBuiltinAccount(t *testing.T) {
	for u, want := range map[string]bool{
		`NT AUTHORITY\SYSTEM`: true, "SYSTEM": true, `WS01$`: true, `corp\ws01$`: true, `NT SERVICE\MSSQLSERVER`: true,
		`Window Manager\DWM-1`: true, "ANONYMOUS LOGON": true, "-": true, "": true, `nt authority\local service`: true,
		`CORP\alice`: false, "alice@corp.example": false, "administrator": false, "svc_backup": false,
	} {
		if got := BuiltinAccount(u); got != want {
			t.Errorf("BuiltinAccount(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestUserCanonical(t *testing.T) {
	var none *User
	for u, want := range map[*User]string{
		none: "", {}: "", {Name: "Alice", Domain: "CORP"}: `corp\alice`, {Email: "Bob@Example.com"}: `example\bob`,
		{Name: `CORP\Carol`, Email: "x@y"}: `corp\carol`,
	} {
		if got := u.Canonical(); got != want {
			t.Errorf("%+v.Canonical() = %q, want %q", u, got, want)
		}
	}
}
