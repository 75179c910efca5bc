package correlate

import (
	"encoding/json"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// Edge kinds the graph builds from events.
const (
	EdgeLogon       = "logon" // network or remote-interactive logon: source → host
	EdgeExplicit    = "explicit_credentials"
	EdgeRemoteSvc   = "remote_service" // service installed by a remote session: source → host
	EdgeRemoteTask  = "remote_task"
	EdgeSMB         = "smb" // share access from the network: source → host
	EdgeWMI         = "wmi" // process started by WMI for a remote session
	EdgeSpawn       = "spawn"
	EdgeConnect     = "connect"
	EdgeSignIn      = "signin"
	EdgeConsent     = "consent"
	EdgeMailbox     = "mailbox_access"
	EdgeRunsOn      = "runs_on"
	EdgeCredentials = "credential_access"
)

// Graph is the entity graph built incrementally from events: hosts, accounts, addresses,
// processes, applications and mailboxes, linked by logons, remote execution, share access,
// process creation, connections, OAuth consent and mailbox access. It keeps a time window of
// edges in memory; the caller persists the edges it returns, so older parts of the graph live in
// the store. It is safe for concurrent use.
type Graph struct {
	window time.Duration
	// users resolves account names to one key per person; events teach it.
	users *Users
	// mu guards the fields below.
	mu sync.Mutex
	// byNode indexes the in-memory edges by entity key.
	byNode map[string][]*event.ChainEdge
	edges  []*event.ChainEdge // in time order of arrival
	// hostIP maps an address to the host name last seen using it.
	hostIP map[string]string
	// sessions maps host|logonID to the network logon that opened it.
	sessions map[string]session
	// inbound keeps each host's recent inbound network logons, for attributing remote service
	// and task creation.
	inbound map[string][]session
	// last is the newest event time seen (the graph's watermark).
	last time.Time
	// dirty collects entity keys that gained edges since the last Dirty call, up to maxDirty;
	// beyond that dirtyAll stands for every key.
	dirty    map[string]bool
	dirtyAll bool
	// nextSweep is when sessions and inbound logons are next swept for expiry.
	nextSweep time.Time
	// maxEdges bounds the edges held in memory whatever their age (dense telemetry fits many
	// edges in the time window); evicted is the newest time of an edge dropped for it.
	maxEdges int
	evicted  time.Time
}

// DefaultMaxEdges is the default bound on the edges a Graph holds in memory (about 40 MB).
const DefaultMaxEdges = 100_000

// SetMaxEdges bounds the edges held in memory (DefaultMaxEdges when n <= 0). Older edges beyond
// it are dropped from memory first; Horizon tells callers from when the memory is complete.
func (g *Graph) SetMaxEdges(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n <= 0 {
		n = DefaultMaxEdges
	}
	g.maxEdges = n
}

type session struct {
	from string // entity key of the source
	user string
	at   time.Time
	ev   string
}

// NewGraph returns an empty graph keeping window of edges in memory (default 6 hours).
func NewGraph(window time.Duration) *Graph {
	if window <= 0 {
		window = 6 * time.Hour
	}
	return &Graph{window: window, maxEdges: DefaultMaxEdges, users: NewUsers(0), byNode: map[string][]*event.ChainEdge{}, hostIP: map[string]string{},
		sessions: map[string]session{}, inbound: map[string][]session{}, dirty: map[string]bool{}}
}

// HostKey is the entity key of a host name: lower case, without its domain, so that
// "WS01", "ws01.corp.example.com" and a TargetServerName of "ws01" are one host.
func HostKey(name string) string {
	name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(name, `\`), "host:")))
	if name == "" || name == "-" || name == "localhost" {
		return ""
	}
	if _, err := netip.ParseAddr(name); err != nil {
		if i := strings.IndexByte(name, '.'); i > 0 {
			name = name[:i]
		}
	}
	return string(event.EntityHost) + ":" + name
}

func ipKey(ip string) string {
	a, err := netip.ParseAddr(strings.Trim(strings.TrimSpace(ip), "[]"))
	if err != nil || a.IsLoopback() || a.IsUnspecified() {
		return ""
	}
	return string(event.EntityIP) + ":" + a.Unmap().String()
}

// Users returns the graph's alias table of user accounts, which the events it sees teach. The
// correlator shares it (Options.Users) so that alerts and edges key a person alike.
func (g *Graph) Users() *Users { return g.users }

// rawField reads a field of the event's source record: the normalizer's unmapped fields first,
// then the raw JSON (EVTX rendering or flat Windows JSON).
func rawField(ev *event.Event, name string) string {
	if v, ok := ev.Unmapped[name]; ok {
		return v
	}
	if len(ev.Raw) == 0 || ev.Raw[0] != '{' {
		return ""
	}
	var doc struct {
		Event struct {
			EventData map[string]any `json:"EventData"`
		} `json:"Event"`
	}
	if json.Unmarshal(ev.Raw, &doc) == nil && doc.Event.EventData != nil {
		if v, ok := doc.Event.EventData[name]; ok {
			return anyString(v)
		}
	}
	var flat map[string]any
	if json.Unmarshal(ev.Raw, &flat) == nil {
		if v, ok := flat[name]; ok {
			return anyString(v)
		}
	}
	return ""
}

func anyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// Add derives the edges of an event, adds them to the in-memory window and returns them for
// persistence.
func (g *Graph) Add(ev *event.Event) []event.ChainEdge {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ev.Time.After(g.last) {
		g.last = ev.Time
	}
	host := ""
	if ev.Device != nil {
		host = HostKey(ev.Device.Hostname)
		if host != "" && ev.Device.IP != "" {
			if k := ipKey(ev.Device.IP); k != "" {
				g.hostIP[k] = host
			}
		}
	}
	var out []event.ChainEdge
	add := func(from, to, kind, user, detail string) {
		if from == "" || to == "" || from == to {
			return
		}
		e := event.ChainEdge{From: from, To: to, Kind: kind, Time: ev.Time, EventIDs: []string{ev.ID}, User: strings.TrimPrefix(user, "user:"), Detail: detail}
		out = append(out, e)
	}
	src := ""
	if ev.Src != nil {
		src = g.resolve(ipKey(ev.Src.IP))
		if src == "" && ev.Src.Hostname != "" {
			src = HostKey(ev.Src.Hostname)
		}
	}
	// A failed logon's names are whatever was typed; only what succeeded teaches aliases.
	learn := ev.Status != "failure"
	if learn && ev.TargetUser != nil {
		g.users.Learn(ev.TargetUser)
	}
	user := g.users.Observe(ev.User, learn)
	code := ev.Code
	switch {
	case ev.Kind == "windows_security" && code == "4624":
		lt := ""
		if ev.Auth != nil {
			lt = ev.Auth.LogonType
		}
		ws := HostKey(rawField(ev, "WorkstationName"))
		if src == "" && ws != "" && ws != host {
			src = ws
		}
		if (lt == "3" || lt == "10" || lt == "9") && src != "" && host != "" {
			add(src, host, EdgeLogon, user, "logon type "+lt)
			s := session{from: src, user: user, at: ev.Time, ev: ev.ID}
			if ev.Auth != nil && ev.Auth.LogonID != "" {
				g.sessions[host+"|"+strings.ToLower(ev.Auth.LogonID)] = s
			}
			in := append(g.inbound[host], s)
			if len(in) > 32 {
				in = in[len(in)-32:]
			}
			g.inbound[host] = in
		}
		if user != "" && host != "" && lt != "3" {
			add(user, host, EdgeLogon, user, "logon type "+lt)
		}
	case ev.Kind == "windows_security" && code == "4648":
		target := HostKey(rawField(ev, "TargetServerName"))
		if target == "" && ev.Dst != nil {
			target = HostKey(ev.Dst.Hostname)
		}
		if target == "" {
			target = g.resolve(ipKey(rawField(ev, "IpAddress")))
		}
		tu := g.users.Key(ev.TargetUser)
		add(host, target, EdgeExplicit, tu, "as "+strings.TrimPrefix(tu, "user:"))
		if user != "" && tu != "" && user != tu {
			add(user, tu, EdgeExplicit, tu, "credentials of another account used on "+strings.TrimPrefix(host, "host:"))
		}
	case (ev.Kind == "windows_system" && code == "7045") || (ev.Kind == "windows_security" && code == "4697"):
		if from, u := g.recentInbound(host, ev.Time, 15*time.Minute); from != "" {
			svc := rawField(ev, "ServiceName")
			add(from, host, EdgeRemoteSvc, u, "service "+svc)
		}
	case ev.Kind == "windows_security" && (code == "4698" || code == "4702"):
		if s, ok := g.sessionOf(host, ev); ok {
			add(s.from, host, EdgeRemoteTask, s.user, "task "+rawField(ev, "TaskName"))
		}
	case ev.Kind == "windows_security" && (code == "5140" || code == "5145"):
		if src != "" && host != "" {
			detail := ""
			if ev.File != nil {
				detail = strings.TrimSpace(ev.File.Share + " " + ev.File.Path)
			}
			add(src, host, EdgeSMB, user, detail)
		}
	case ev.Class == event.ClassProcess && ev.Process != nil && ev.Process.GUID != "":
		p := ev.Process
		child := "process:" + strings.ToLower(strings.Trim(p.GUID, "{}"))
		add(child, host, EdgeRunsOn, user, path.Base(strings.ReplaceAll(p.Path, `\`, "/")))
		if pp := p.Parent; pp != nil && pp.GUID != "" {
			add("process:"+strings.ToLower(strings.Trim(pp.GUID, "{}")), child, EdgeSpawn, user, path.Base(strings.ReplaceAll(p.Path, `\`, "/")))
			if strings.EqualFold(path.Base(strings.ReplaceAll(pp.Path, `\`, "/")), "wmiprvse.exe") {
				if from, u := g.recentInbound(host, ev.Time, 10*time.Minute); from != "" {
					add(from, host, EdgeWMI, u, "process "+path.Base(strings.ReplaceAll(p.Path, `\`, "/"))+" started by WMI")
				}
			}
			if strings.EqualFold(path.Base(strings.ReplaceAll(pp.Path, `\`, "/")), "psexesvc.exe") {
				if from, u := g.recentInbound(host, ev.Time, 15*time.Minute); from != "" {
					add(from, host, EdgeRemoteSvc, u, "PsExec ran "+path.Base(strings.ReplaceAll(p.Path, `\`, "/")))
				}
			}
		}
	case ev.Kind == "sysmon" && code == "10" && host != "":
		target := strings.ToLower(rawField(ev, "TargetImage"))
		if strings.HasSuffix(target, `\lsass.exe`) {
			add(host, "process:lsass@"+strings.TrimPrefix(host, "host:"), EdgeCredentials, user, "LSASS memory read by "+path.Base(strings.ReplaceAll(rawField(ev, "SourceImage"), `\`, "/")))
		}
	case ev.Class == event.ClassNetwork && ev.Dst != nil && host != "":
		if dst := ipKey(ev.Dst.IP); dst != "" {
			if h := g.hostIP[dst]; h != "" {
				dst = h
			}
			add(host, dst, EdgeConnect, user, "")
		}
	case ev.Class == event.ClassAuthentication && (ev.Product == "okta" || ev.Product == "azure") && user != "":
		if ip := ipKey(ipOf(ev.Src)); ip != "" && ev.Status == "success" {
			country := ""
			if ev.Src != nil {
				country = ev.Src.Country
			}
			add(ip, user, EdgeSignIn, user, strings.TrimSpace("sign-in "+country))
		}
	}
	if ev.Cloud != nil && (ev.Cloud.AppID != "" || ev.Cloud.App != "") && user != "" {
		app := "app:" + strings.ToLower(firstNonEmpty(ev.Cloud.AppID, ev.Cloud.App))
		op := strings.ToLower(ev.Cloud.Operation + " " + ev.Code)
		switch {
		case strings.Contains(op, "consent"):
			add(user, app, EdgeConsent, user, strings.Join(ev.Cloud.Permissions, " "))
		case strings.Contains(op, "mailitemsaccessed"):
			add(app, "mailbox:"+strings.TrimPrefix(user, "user:"), EdgeMailbox, user, "")
		}
	}
	for i := range out {
		e := out[i]
		g.edges = append(g.edges, &e)
		g.byNode[e.From] = append(g.byNode[e.From], &e)
		g.byNode[e.To] = append(g.byNode[e.To], &e)
		if len(g.dirty) < maxDirty {
			g.dirty[e.From], g.dirty[e.To] = true, true
		} else {
			g.dirtyAll = true // nobody asked for a long while: everything counts as changed
		}
	}
	g.expire()
	return out
}

func ipOf(e *event.Endpoint) string {
	if e == nil {
		return ""
	}
	return e.IP
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// resolve maps an address to its host when the graph knows it.
func (g *Graph) resolve(ip string) string {
	if ip == "" {
		return ""
	}
	if h := g.hostIP[ip]; h != "" {
		return h
	}
	return ip
}

func (g *Graph) recentInbound(host string, t time.Time, within time.Duration) (from, user string) {
	in := g.inbound[host]
	for i := len(in) - 1; i >= 0; i-- {
		if d := t.Sub(in[i].at); d >= -time.Minute && d <= within {
			return in[i].from, in[i].user
		}
	}
	return "", ""
}

func (g *Graph) sessionOf(host string, ev *event.Event) (session, bool) {
	id := ""
	if ev.User != nil {
		id = ev.User.Session
	}
	if id == "" {
		id = rawField(ev, "SubjectLogonId")
	}
	s, ok := g.sessions[host+"|"+strings.ToLower(id)]
	return s, ok
}

// expire drops edges older than the window behind the watermark, and the oldest arrivals
// beyond maxEdges (down to 90% of it, so that eviction runs now and then, not per event).
func (g *Graph) expire() {
	cut := g.last.Add(-g.window)
	i := 0
	for i < len(g.edges) && g.edges[i].Time.Before(cut) {
		i++
	}
	evicting := g.maxEdges > 0 && len(g.edges)-i > g.maxEdges
	if evicting {
		keep := g.maxEdges * 9 / 10
		n := len(g.edges) - keep
		for _, e := range g.edges[i:n] {
			if e.Time.After(g.evicted) {
				g.evicted = e.Time
			}
		}
		i = n
	}
	if i == 0 {
		return
	}
	gone := g.edges[:i]
	// An edge leaves the per-node index when it aged out of the window; when the edge bound
	// evicted by arrival order instead, exactly the evicted edges leave (a set, built only then).
	dropped := func(e *event.ChainEdge) bool { return e.Time.Before(cut) }
	if evicting {
		set := make(map[*event.ChainEdge]struct{}, len(gone))
		for _, e := range gone {
			set[e] = struct{}{}
		}
		dropped = func(e *event.ChainEdge) bool { _, ok := set[e]; return ok }
	}
	if i > len(g.edges)/2 {
		g.edges = slices.Clone(g.edges[i:])
	} else {
		g.edges = g.edges[i:]
	}
	// Each node's list is in arrival order, so its dropped edges are at its front.
	for _, e := range gone {
		for _, k := range []string{e.From, e.To} {
			list := g.byNode[k]
			j := 0
			for j < len(list) && dropped(list[j]) {
				j++
			}
			switch {
			case j == len(list):
				delete(g.byNode, k)
			case j > 0:
				g.byNode[k] = list[j:]
			}
		}
	}
	// Sessions and inbound logons are swept now and then, not on every event (and down to the
	// eviction horizon when the edge bound cut deeper than the window).
	if evicting && g.evicted.After(cut) {
		cut = g.evicted
	} else if g.last.Before(g.nextSweep) {
		return
	}
	g.nextSweep = g.last.Add(g.window / 10)
	for k, s := range g.sessions {
		if s.at.Before(cut) {
			delete(g.sessions, k)
		}
	}
	for h, in := range g.inbound {
		if len(in) > 0 && in[len(in)-1].at.Before(cut) {
			delete(g.inbound, h)
		}
	}
}

// Edges returns the in-memory edges touching any of the keys within [from, to].
func (g *Graph) Edges(keys []string, from, to time.Time) []event.ChainEdge {
	g.mu.Lock()
	defer g.mu.Unlock()
	seen := map[*event.ChainEdge]bool{}
	var out []event.ChainEdge
	for _, k := range keys {
		for _, e := range g.byNode[k] {
			if seen[e] || e.Time.Before(from) || e.Time.After(to) {
				continue
			}
			seen[e] = true
			out = append(out, *e)
		}
	}
	slices.SortFunc(out, func(a, b event.ChainEdge) int { return a.Time.Compare(b.Time) })
	return out
}

// maxDirty bounds the changed keys a Graph remembers between Dirty calls (an import, which
// refreshes chains only at its end, would otherwise remember every key it ever touched).
const maxDirty = 65536

// Dirty returns and clears the entity keys that gained edges since the last call; all is true
// when more changed than the graph remembers, and then every key counts as changed.
func (g *Graph) Dirty() (keys map[string]bool, all bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d, a := g.dirty, g.dirtyAll
	g.dirty, g.dirtyAll = map[string]bool{}, false
	return d, a
}

// Watermark returns the newest event time the graph has seen.
func (g *Graph) Watermark() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// Horizon returns the time from which the in-memory edges are complete: the window behind the
// watermark, or later when the edge bound evicted newer edges. Edges before it must be read
// from where the caller persisted them. It is zero when the graph has seen nothing.
func (g *Graph) Horizon() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last.IsZero() {
		return time.Time{}
	}
	h := g.last.Add(-g.window)
	if g.evicted.After(h) {
		h = g.evicted
	}
	return h
}

// Size returns the number of edges held in memory.
func (g *Graph) Size() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.edges)
}
