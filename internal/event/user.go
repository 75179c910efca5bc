package event

import "strings"

// CanonicalUser returns the one name an account goes by across sources, so that
// "EXAMPLE\bob", "example.corp\bob", "bob@example.com" and "Bob@EXAMPLE.COM" are one user:
// lower case, "domain\name" with the domain cut to its first label (the NetBIOS name is
// usually the DNS domain's first label). A bare name stays bare. Machine accounts keep their
// trailing $.
func CanonicalUser(name, domain string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	domain = strings.ToLower(strings.TrimSpace(domain))
	if name == "" || name == "-" {
		return ""
	}
	if d, n, ok := strings.Cut(name, `\`); ok {
		domain, name = d, n
	} else if n, d, ok := strings.Cut(name, "@"); ok && n != "" && d != "" {
		name, domain = n, d
	}
	if domain == "-" || domain == "." {
		domain = ""
	}
	if i := strings.IndexByte(domain, '.'); i > 0 {
		domain = domain[:i]
	}
	if domain == "" {
		return name
	}
	return domain + `\` + name
}

// BuiltinAccount reports whether an account name (any spelling CanonicalUser takes) is not a
// person: a machine account (NAME$), the local system and service identities, the anonymous
// logon, or an account of the NT AUTHORITY, NT SERVICE, Window Manager or Font Driver Host
// domains. Behavioural profiles, correlation keys and response actions skip them.
func BuiltinAccount(u string) bool {
	u = CanonicalUser(u, "")
	if u == "" || strings.HasSuffix(u, "$") {
		return true
	}
	if d, name, ok := strings.Cut(u, `\`); ok {
		switch d {
		case "nt authority", "nt service", "window manager", "font driver host":
			return true
		}
		u = name
	}
	switch u {
	case "system", "local service", "network service", "localservice", "networkservice", "anonymous logon", "anonymous", "-":
		return true
	}
	return false
}

// Canonical returns the account's CanonicalUser name, from its name and domain or, when it has
// no name, its e-mail address; "" for a nil or nameless user.
func (u *User) Canonical() string {
	if u == nil {
		return ""
	}
	if u.Name == "" && u.Email != "" {
		return CanonicalUser(u.Email, "")
	}
	return CanonicalUser(u.Name, u.Domain)
}
