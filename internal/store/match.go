package store

import (
	"path"
	"strings"

	"github.com/vigil-soc/vigil/internal/event"
)

// Holds reports whether ev passes q's field filters, as every store applies them: the time
// range, host, user, address, class, code and process (IDs, Contains and Match aside, which a
// store applies its own way).
func (q *EventQuery) Holds(ev *event.Event) bool {
	t := ev.Time
	switch {
	case !q.From.IsZero() && t.Before(q.From):
		return false
	case !q.To.IsZero() && !t.Before(q.To):
		return false
	case q.Host != "" && HostOf(ev) != strings.ToLower(q.Host):
		return false
	case q.User != "" && (ev.User == nil || !UserMatches(ev.User.Name, q.User)):
		return false
	case q.IP != "" && IPOf(ev.Src) != q.IP && IPOf(ev.Dst) != q.IP:
		return false
	case q.Class != "" && ev.Class != q.Class:
		return false
	case q.Code != "" && ev.Code != q.Code:
		return false
	case q.Process != "" && ProcessOf(ev) != strings.ToLower(q.Process):
		return false
	}
	return true
}

// HostOf is the event's host name, lower-cased, as searches compare it.
func HostOf(ev *event.Event) string {
	if ev.Device != nil {
		return strings.ToLower(ev.Device.Hostname)
	}
	return ""
}

// UserOf is the event's account name, lower-cased.
func UserOf(ev *event.Event) string {
	if ev.User != nil {
		return strings.ToLower(ev.User.Name)
	}
	return ""
}

// IPOf is an endpoint's address, or "".
func IPOf(e *event.Endpoint) string {
	if e != nil {
		return e.IP
	}
	return ""
}

// ProcessOf is the event's process name (from its path when the source gave none),
// lower-cased.
func ProcessOf(ev *event.Event) string {
	if ev.Process == nil {
		return ""
	}
	name := ev.Process.Name
	if name == "" {
		name = path.Base(strings.ReplaceAll(ev.Process.Path, `\`, "/"))
		if name == "." || name == "/" {
			name = ""
		}
	}
	return strings.ToLower(name)
}

// UserMatches reports whether an account name as an event carries it is the user asked for:
// equal after strings.ToLower, or, when want is a bare name (no "\" or "@"), equal to the
// name's bare part, so that "alice" is EXAMPLE\alice, alice@example.com and alice.
func UserMatches(name, want string) bool {
	name, want = strings.ToLower(name), strings.ToLower(want)
	if name == want {
		return true
	}
	if want == "" || strings.ContainsAny(want, `\@`) {
		return false
	}
	return BareUser(name) == want
}

// BareUser is an account name without its domain: "example\alice" and "alice@example.com"
// are "alice".
func BareUser(u string) string {
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.IndexByte(u, '@'); i >= 0 {
		u = u[:i]
	}
	return u
}
