package correlate

import (
	"slices"
	"strings"
	"sync"

	"github.com/vigil-soc/vigil/internal/event"
)

// Users is the alias table of user accounts: it learns, from events that carry them together,
// which names one account goes by across sources (DOMAIN\user, UPN or e-mail, SID, IdP object
// ID, a bare name) and resolves any of them to one canonical name ("corp\alice"), so that the
// correlator and the entity graph key a person once.
//
// It learns three things:
//   - an account identifier (a domain or Azure AD SID, an IdP object GUID) and its name, from an
//     event's user with both UID and name (Windows 4624/4672/4688 carry TargetUserSid or
//     SubjectUserSid with the names);
//   - two names of one account: a second name seen with an identifier already known (a UPN
//     whose realm differs from the NetBIOS domain), or an account's name beside its e-mail;
//   - the domain of a bare name, when exactly one domain has that name. A bare name seen in
//     two domains is ambiguous and is never resolved, so two people called alice in two domains
//     never become one.
//
// Failed logons teach nothing (their names are whatever an attacker typed). The table is
// bounded: entries live in two generations of at most Max/2 each, and the older generation is
// dropped when the newer fills (an entry used or seen again moves to the newer one). It is safe
// for concurrent use: the graph stage teaches it, the correlation stage asks it.
type Users struct {
	max int
	// mu guards the generations.
	mu       sync.RWMutex
	cur, old *userGen
}

// userGen is one generation of the table.
type userGen struct {
	// IDs maps a lower-case SID or object ID to the account's canonical name.
	IDs map[string]string `json:"ids,omitempty"`
	// Aliases maps a canonical name to the canonical name of the same account it resolves to.
	Aliases map[string]string `json:"aliases,omitempty"`
	// Domains maps a bare name to the one domain it was seen in, or ambiguous.
	Domains map[string]string `json:"domains,omitempty"`
}

// ambiguous marks a bare name seen in more than one domain.
const ambiguous = "*"

func newUserGen() *userGen {
	return &userGen{IDs: map[string]string{}, Aliases: map[string]string{}, Domains: map[string]string{}}
}

func (g *userGen) size() int { return len(g.IDs) + len(g.Aliases) + len(g.Domains) }

// UsersState is the persisted form of the alias table.
type UsersState struct {
	Cur *userGen `json:"cur,omitempty"`
	Old *userGen `json:"old,omitempty"`
}

// NewUsers returns an empty alias table holding at most max entries (default 200000).
func NewUsers(max int) *Users {
	if max <= 0 {
		max = 200000
	}
	return &Users{max: max, cur: newUserGen(), old: newUserGen()}
}

// State returns a copy of the table for persistence.
func (u *Users) State() UsersState {
	u.mu.RLock()
	defer u.mu.RUnlock()
	cp := func(g *userGen) *userGen {
		return &userGen{IDs: cloneMap(g.IDs), Aliases: cloneMap(g.Aliases), Domains: cloneMap(g.Domains)}
	}
	return UsersState{Cur: cp(u.cur), Old: cp(u.old)}
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Restore replaces the table with a persisted state.
func (u *Users) Restore(st UsersState) {
	fix := func(g *userGen) *userGen {
		if g == nil {
			return newUserGen()
		}
		if g.IDs == nil {
			g.IDs = map[string]string{}
		}
		if g.Aliases == nil {
			g.Aliases = map[string]string{}
		}
		if g.Domains == nil {
			g.Domains = map[string]string{}
		}
		return g
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.cur, u.old = fix(st.Cur), fix(st.Old)
}

// Len returns the number of entries held.
func (u *Users) Len() int {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.cur.size() + u.old.size()
}

// isAccountID reports whether s (lower case) identifies one account: a domain or local account
// SID (S-1-5-21-…), an Azure AD SID (S-1-12-1-…) or an object GUID. Well-known SIDs (SYSTEM,
// LOCAL SERVICE, …) are not people.
func isAccountID(s string) bool {
	if strings.HasPrefix(s, "s-1-5-21-") || strings.HasPrefix(s, "s-1-12-1-") {
		return true
	}
	s = strings.Trim(s, "{}")
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
				return false
			}
		}
	}
	return true
}

// person returns the canonical name of a user, or "" for machine and built-in accounts.
func person(name, domain string) string {
	c := event.CanonicalUser(name, domain)
	if c == "" || event.BuiltinAccount(c) {
		return ""
	}
	return c
}

// Learn records what a user of a successful event says about its names.
func (u *Users) Learn(usr *event.User) { u.Observe(usr, true) }

// Key returns the entity key of an event's user ("user:corp\alice"), resolved through the
// table, or "" for no user, machine and built-in accounts. A user known only by its SID gets
// its name when the table knows it.
func (u *Users) Key(usr *event.User) string { return u.Observe(usr, false) }

// Observe returns the user's entity key, as Key does, after learning from it when learn is set
// (the graph learns from the events of successful actions). The name is canonicalised once.
func (u *Users) Observe(usr *event.User, learn bool) string {
	if usr == nil {
		return ""
	}
	var name, id string
	if usr.Name != "" && usr.Name != "-" {
		if name = person(usr.Name, usr.Domain); name == "" {
			return "" // machine and built-in accounts are not people
		}
	}
	if usr.UID != "" {
		if x := strings.ToLower(strings.Trim(strings.TrimSpace(usr.UID), "{}")); isAccountID(x) {
			id = x
		}
	}
	if u == nil {
		if name == "" {
			return ""
		}
		return string(event.EntityUser) + ":" + name
	}
	if learn {
		n, email := name, ""
		if usr.Email != "" {
			email = person(usr.Email, "")
		}
		if n == "" {
			n, email = email, ""
		}
		if n != "" {
			u.learn(id, n, email)
		}
	}
	key := name
	if key == "" {
		key = id
	}
	if key == "" {
		return ""
	}
	u.mu.RLock()
	r := u.resolve(key)
	u.mu.RUnlock()
	if r == id {
		return "" // an identifier nobody has named yet is not keyed
	}
	return string(event.EntityUser) + ":" + r
}

// learn records an account's identifier (or ""), canonical name and second name (or "").
func (u *Users) learn(id, name, email string) {
	if u.knows(id, name, email) {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	// Names of one account first, so that a second realm's name does not make its bare name
	// look ambiguous.
	defer func() {
		u.learnDomain(name)
		if email != "" {
			u.learnDomain(email)
		}
	}()
	if email != "" && email != name && strings.Contains(name, `\`) {
		u.alias(email, name)
	}
	if id == "" {
		return
	}
	known, ok := u.get(func(g *userGen) map[string]string { return g.IDs }, id)
	switch {
	case !ok:
		u.set(func(g *userGen) map[string]string { return g.IDs }, id, name)
	case known == name:
		u.set(func(g *userGen) map[string]string { return g.IDs }, id, name) // keep it young
	case !strings.Contains(known, `\`) && strings.Contains(name, `\`):
		// The account's domain is now known: the qualified name becomes its name.
		u.set(func(g *userGen) map[string]string { return g.IDs }, id, name)
	case strings.Contains(name, `\`):
		// Another qualified name of the same account (a UPN realm beside the NetBIOS domain,
		// or a rename): it resolves to the first.
		u.alias(name, known)
	}
}

// knows reports whether the newer generation already holds what a user would teach (the
// common case: the same accounts log on all day), so Learn can skip the write lock.
func (u *Users) knows(id, name, email string) bool {
	if email != "" {
		return false
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if id != "" && u.cur.IDs[id] != name {
		return false
	}
	dom, bare, ok := strings.Cut(name, `\`)
	if !ok {
		return true
	}
	d, seen := u.cur.Domains[bare]
	return seen && (d == dom || d == ambiguous)
}

// learnDomain notes the domain of a qualified name's bare part.
func (u *Users) learnDomain(name string) {
	if a, ok := u.get(func(g *userGen) map[string]string { return g.Aliases }, name); ok {
		name = a // another name of an account whose domain is known
	}
	dom, bare, ok := strings.Cut(name, `\`)
	if !ok {
		return
	}
	domains := func(g *userGen) map[string]string { return g.Domains }
	switch d, seen := u.get(domains, bare); {
	case !seen, d == dom:
		u.set(domains, bare, dom)
	case d != ambiguous:
		u.set(domains, bare, ambiguous)
	default:
		u.set(domains, bare, ambiguous) // keep the ambiguity young
	}
}

// alias makes from resolve to to, unless that would make a cycle.
func (u *Users) alias(from, to string) {
	aliases := func(g *userGen) map[string]string { return g.Aliases }
	if from == to {
		return
	}
	if t, ok := u.get(aliases, to); ok {
		if t == from {
			return // to already resolves to from
		}
		to = t
	}
	if _, ok := u.get(aliases, from); ok {
		return // the first decision stands
	}
	u.set(aliases, from, to)
}

// get reads a key from the newer generation, then the older. Callers hold mu.
func (u *Users) get(m func(*userGen) map[string]string, k string) (string, bool) {
	if v, ok := m(u.cur)[k]; ok {
		return v, true
	}
	v, ok := m(u.old)[k]
	return v, ok
}

// set writes a key into the newer generation, rotating generations when it is full. Callers
// hold mu for writing.
func (u *Users) set(m func(*userGen) map[string]string, k, v string) {
	delete(m(u.old), k)
	m(u.cur)[k] = v
	if u.cur.size() >= u.max/2 {
		u.old, u.cur = u.cur, newUserGen()
	}
}

// Resolve returns the canonical name an account goes by (lower case "domain\name" when the
// domain is known), from any of its names: "CORP\alice", "alice@corp.example.com", a SID, a
// bare "alice" when only one domain has an alice. Names it cannot resolve come back in their
// canonical form; identifiers it does not know come back lower-cased.
func (u *Users) Resolve(name string) string {
	c := event.CanonicalUser(name, "")
	if u == nil || c == "" {
		return c
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.resolve(c)
}

func (u *Users) resolve(c string) string {
	if id := strings.Trim(c, "{}"); isAccountID(id) {
		n, ok := u.get(func(g *userGen) map[string]string { return g.IDs }, id)
		if !ok {
			return c
		}
		c = n
	}
	if !strings.Contains(c, `\`) {
		if d, ok := u.get(func(g *userGen) map[string]string { return g.Domains }, c); ok && d != ambiguous {
			c = d + `\` + c
		}
	}
	if a, ok := u.get(func(g *userGen) map[string]string { return g.Aliases }, c); ok {
		c = a
	}
	return c
}

// addAlias appends a name to an entity's aliases, bounded.
func addAlias(e *event.EntityRef, name string) {
	if name == "" || name == e.Value || slices.Contains(e.Aliases, name) || len(e.Aliases) >= maxAliases {
		return
	}
	e.Aliases = append(e.Aliases, name)
}

// maxAliases bounds the aliases an incident's entity lists.
const maxAliases = 8
