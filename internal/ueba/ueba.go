// Package ueba is vigil's behavioural detection (user and entity behaviour analytics): profiles
// of users, hosts, source addresses and peer groups, learned online from normalized events with
// exponential decay and bounded memory, and the detections judged against them:
//
//   - a sign-in from a new source (address, network, country, device), scored with the hour
//     against the user's usual hours, the asset's criticality and first use, and the user's
//     privilege, as listed contributions;
//   - impossible travel between two successful sign-ins;
//   - a password spray or brute force followed by a successful sign-in;
//   - a first-time privileged action (group membership, account and credential changes, IAM
//     and consent operations, elevated sessions) for the user and its peer group;
//   - a rare process lineage (parent → child) for the host and its peer group.
//
// A Detector is fed events in (roughly) time order and returns Findings; the detect stage turns
// them into alerts. Nothing is judged before an entity has Warmup of history.
package ueba

import (
	"encoding/json"
	"fmt"
	"github.com/vigil-soc/vigil/internal/geoip"
	"math"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/baseline"
	"github.com/vigil-soc/vigil/internal/event"
)

// Options configure a Detector. Zero values take the defaults.
type Options struct {
	// Warmup is the history a user or host needs before its novelty is judged (default 72h).
	Warmup time.Duration
	// HalfLife is the memory of the profiles (default 30 days).
	HalfLife time.Duration
	// MaxEntities bounds the users, hosts, sources and peer groups kept (each; default 20000).
	MaxEntities int
	// MaxValues bounds the values a profile keeps per facet (addresses, processes, ...; default 64).
	MaxValues int
	// Criticality of assets by lower-case host or application name: "critical", "high".
	Criticality map[string]string
	// Privileged lists privileged accounts (canonical lower case; a trailing * matches a prefix).
	Privileged []string
	// PeerGroups assigns users and hosts (canonical lower case) to peer groups. Others fall in
	// a group derived from their name: a user's domain, a host's name without its number.
	PeerGroups map[string]string
	// SprayUsers is how many accounts failing from one source make a spray (default 5);
	// BruteFailures how many failures of one account make a brute force (default 8); both
	// within FailWindow (default 30 min) before the success.
	SprayUsers    int
	BruteFailures int
	FailWindow    time.Duration
	// TravelKmh is the speed above which two sign-ins are impossible travel (default 1000).
	TravelKmh float64
	// LoginScore is the score at which a sign-in from a new source is reported (default 3).
	LoginScore float64
	// Locate, when set (a GeoIP database), gives the country and coordinates of a source
	// address whose event did not carry them.
	Locate func(ip string) (country string, lat, lon float64, geo bool)
}

func (o *Options) defaults() {
	if o.Warmup <= 0 {
		o.Warmup = 72 * time.Hour
	}
	if o.HalfLife <= 0 {
		o.HalfLife = 30 * 24 * time.Hour
	}
	if o.MaxEntities <= 0 {
		o.MaxEntities = 20000
	}
	if o.MaxValues <= 0 {
		o.MaxValues = 64
	}
	if o.SprayUsers <= 0 {
		o.SprayUsers = 5
	}
	if o.BruteFailures <= 0 {
		o.BruteFailures = 8
	}
	if o.FailWindow <= 0 {
		o.FailWindow = 30 * time.Minute
	}
	if o.TravelKmh <= 0 {
		o.TravelKmh = 1000
	}
	if o.LoginScore <= 0 {
		o.LoginScore = 3
	}
}

// Finding kinds.
const (
	KindLogin       = "ueba.new_source_login"
	KindTravel      = "ueba.impossible_travel"
	KindSpray       = "ueba.spray_then_success"
	KindBrute       = "ueba.bruteforce_then_success"
	KindPrivileged  = "ueba.first_privileged_action"
	KindRareLineage = "ueba.rare_process_lineage"
)

// Contribution is one listed term of a finding's score.
type Contribution struct {
	Weight float64 `json:"weight"`
	Detail string  `json:"detail"`
}

// Finding is one behavioural detection.
type Finding struct {
	Kind       string
	Title      string
	Severity   event.Severity
	Tactics    []string
	Techniques []string
	// Score is the sum of Contributions (for scored detections; 0 otherwise).
	Score         float64
	Contributions []Contribution
	// Evidence lists the facts the finding rests on, as field/value pairs.
	Evidence []event.FieldMatch
	// EventIDs are the events behind it: the triggering one first.
	EventIDs []string
	Message  string
	User     string
	Host     string
	SrcIP    string
}

// Place is where and when a user signed in.
type Place struct {
	At      int64   `json:"t"`
	IP      string  `json:"ip,omitempty"`
	Country string  `json:"country,omitempty"`
	Lat     float64 `json:"lat,omitempty"`
	Lon     float64 `json:"lon,omitempty"`
	Geo     bool    `json:"geo,omitempty"`
	EventID string  `json:"ev,omitempty"`
}

// failure is one failed sign-in remembered for spray and brute-force detection.
type failure struct {
	At    int64  `json:"t"`
	User  string `json:"u,omitempty"`
	Src   string `json:"s,omitempty"`
	Event string `json:"ev"`
}

// User is a user's profile.
type User struct {
	First int64 `json:"first"`
	Last  int64 `json:"last"`
	// Logons counts successful sign-ins.
	Logons    uint64          `json:"logons"`
	Hours     baseline.Hours  `json:"hours"`
	IPs       *baseline.Table `json:"ips"`
	Nets      *baseline.Table `json:"nets"`
	Countries *baseline.Table `json:"countries"`
	Devices   *baseline.Table `json:"devices"`
	Assets    *baseline.Table `json:"assets"`
	Actions   *baseline.Table `json:"actions"` // privileged action types
	LastPlace *Place          `json:"last_place,omitempty"`
}

// Host is a host's profile.
type Host struct {
	First     int64  `json:"first"`
	Last      int64  `json:"last"`
	Processes uint64 `json:"processes"`
	// Starts and Novel are decayed counts (a week's half-life) of process starts and of those
	// whose lineage was new to the host: while a host keeps showing new lineages, one more says
	// nothing, so lineage is judged only once the host's novelty rate has settled.
	Starts  baseline.Counter `json:"starts"`
	Novel   baseline.Counter `json:"novel"`
	Images  *baseline.Table  `json:"images"`
	Lineage *baseline.Table  `json:"lineage"`
	Users   *baseline.Table  `json:"users"`
}

// Peer is a peer group's shared profile: what any member did.
type Peer struct {
	Last      int64           `json:"last"`
	Countries *baseline.Table `json:"countries"`
	Nets      *baseline.Table `json:"nets"`
	Actions   *baseline.Table `json:"actions"`
	Lineage   *baseline.Table `json:"lineage"`
}

// Source is a source address's recent failed sign-ins.
type Source struct {
	Last     int64     `json:"last"`
	Failures []failure `json:"failures"`
}

// State is everything a Detector learned; it serialises to JSON.
type State struct {
	Users   map[string]*User   `json:"users"`
	Hosts   map[string]*Host   `json:"hosts"`
	Peers   map[string]*Peer   `json:"peers"`
	Sources map[string]*Source `json:"sources"`
	// Failing holds recent failed sign-ins per account name. It is apart from Users so that a
	// spray of made-up names fills (and evicts from) this table, never the users' profiles.
	Failing map[string]*Source `json:"failing"`
}

// Detector keeps the profiles and judges events against them. It is safe for concurrent use;
// events should come in roughly time order.
type Detector struct {
	mu   sync.Mutex
	opts Options
	lam  float64
	st   State
}

// New returns a Detector with empty profiles.
func New(opts Options) *Detector {
	opts.defaults()
	return &Detector{opts: opts, lam: baseline.Lambda(opts.HalfLife), st: State{
		Users: map[string]*User{}, Hosts: map[string]*Host{}, Peers: map[string]*Peer{}, Sources: map[string]*Source{}, Failing: map[string]*Source{},
	}}
}

// MarshalState returns the learned profiles as JSON, for persistence.
func (d *Detector) MarshalState() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return json.Marshal(&d.st)
}

// RestoreState replaces the profiles with a snapshot from MarshalState.
func (d *Detector) RestoreState(b []byte) error {
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("ueba state: %w", err)
	}
	if st.Users == nil {
		st.Users = map[string]*User{}
	}
	if st.Hosts == nil {
		st.Hosts = map[string]*Host{}
	}
	if st.Peers == nil {
		st.Peers = map[string]*Peer{}
	}
	if st.Sources == nil {
		st.Sources = map[string]*Source{}
	}
	if st.Failing == nil {
		st.Failing = map[string]*Source{}
	}
	d.mu.Lock()
	d.st = st
	d.mu.Unlock()
	return nil
}

// Sizes reports how many users, hosts, peer groups and sources are profiled (sources counts
// both failure tables: addresses and account names).
func (d *Detector) Sizes() (users, hosts, peers, sources int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.st.Users), len(d.st.Hosts), len(d.st.Peers), max(len(d.st.Sources), len(d.st.Failing))
}

// Observe judges one event against the profiles, then learns from it.
func (d *Detector) Observe(ev *event.Event) []Finding {
	if ev == nil || ev.Time.IsZero() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := ev.Time.Unix()
	var out []Finding
	switch {
	case ev.Class == event.ClassAuthentication && ev.Activity == "logon":
		out = d.logon(ev, now)
	case ev.Class == event.ClassProcess && (ev.Activity == "launch" || ev.Activity == ""):
		out = d.process(ev, now)
	}
	if f := d.privileged(ev, now); f != nil {
		out = append(out, *f)
	}
	return out
}

// --- entities -----------------------------------------------------------------------------

func userKey(u *event.User) string {
	c := u.Canonical()
	if c == "" || event.BuiltinAccount(c) {
		return ""
	}
	return c
}

func hostKey(ev *event.Event) string {
	if ev.Device != nil && ev.Device.Hostname != "" {
		h := strings.ToLower(ev.Device.Hostname)
		if i := strings.IndexByte(h, '.'); i > 0 {
			h = h[:i]
		}
		return h
	}
	return ""
}

// entry returns m[key], made by fresh when missing; a full map first loses its least recently
// seen tenth.
func entry[V any](m map[string]V, key string, limit int, last func(V) int64, fresh func() V) V {
	v, ok := m[key]
	if !ok {
		if len(m) >= limit {
			evictOldest(m, last)
		}
		v = fresh()
		m[key] = v
	}
	return v
}

// stretch widens the [first, last] span to hold now.
func stretch(first, last *int64, now int64) {
	if *first == 0 || now < *first {
		*first = now
	}
	if now > *last {
		*last = now
	}
}

func (d *Detector) user(key string, now int64) *User {
	n := d.opts.MaxValues
	u := entry(d.st.Users, key, d.opts.MaxEntities, func(u *User) int64 { return u.Last }, func() *User {
		return &User{First: now, IPs: baseline.NewTable(n), Nets: baseline.NewTable(n), Countries: baseline.NewTable(n),
			Devices: baseline.NewTable(n), Assets: baseline.NewTable(n), Actions: baseline.NewTable(n)}
	})
	stretch(&u.First, &u.Last, now)
	return u
}

func (d *Detector) host(key string, now int64) *Host {
	n := d.opts.MaxValues
	h := entry(d.st.Hosts, key, d.opts.MaxEntities, func(h *Host) int64 { return h.Last }, func() *Host {
		return &Host{First: now, Images: baseline.NewTable(8 * n), Lineage: baseline.NewTable(8 * n), Users: baseline.NewTable(n)}
	})
	stretch(&h.First, &h.Last, now)
	return h
}

func (d *Detector) peer(name string, now int64) *Peer {
	n := 4 * d.opts.MaxValues
	p := entry(d.st.Peers, name, d.opts.MaxEntities, func(p *Peer) int64 { return p.Last }, func() *Peer {
		return &Peer{Countries: baseline.NewTable(n), Nets: baseline.NewTable(n),
			Actions: baseline.NewTable(n), Lineage: baseline.NewTable(n)}
	})
	p.Last = max(p.Last, now)
	return p
}

// userPeer is a user's peer group: configured, or the user's domain.
func (d *Detector) userPeer(key string) string {
	if g := d.opts.PeerGroups[key]; g != "" {
		return "user:" + g
	}
	if dom, _, ok := strings.Cut(key, `\`); ok {
		return "user:" + dom
	}
	return "user:*"
}

// hostPeer is a host's peer group: configured, or its name without the trailing number
// ("ws01", "ws-17" → "ws").
func (d *Detector) hostPeer(key string) string {
	if g := d.opts.PeerGroups[key]; g != "" {
		return "host:" + g
	}
	g := strings.TrimRight(key, "0123456789")
	g = strings.TrimRight(g, "-_.")
	if g == "" {
		g = "*"
	}
	return "host:" + g
}

// mature reports whether an entity first seen at first has enough history at now.
func (d *Detector) mature(first, now int64) bool {
	return now-first >= int64(d.opts.Warmup/time.Second)
}

func evictOldest[V any](m map[string]V, last func(V) int64) {
	type kv struct {
		k string
		t int64
	}
	all := make([]kv, 0, len(m))
	for k, v := range m {
		all = append(all, kv{k, last(v)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].t < all[j].t })
	for _, x := range all[:max(1, len(all)/10)] {
		delete(m, x.k)
	}
}

func (d *Detector) privilegedUser(u string) bool {
	_, bare, _ := strings.Cut(u, `\`)
	for _, p := range d.opts.Privileged {
		p = strings.ToLower(p)
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(u, pre) || bare != "" && strings.HasPrefix(bare, pre) {
				return true
			}
		} else if p == u || p == bare {
			return true
		}
	}
	return false
}

func (d *Detector) criticality(names ...string) (string, string) {
	for _, n := range names {
		if c := d.opts.Criticality[strings.ToLower(n)]; c != "" {
			return n, c
		}
	}
	return "", ""
}

// --- sign-ins -------------------------------------------------------------------------------

// usable reports whether a source address says where a sign-in came from.
func usable(ip string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil || a.IsLoopback() || a.IsUnspecified() {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// network is the address's /24 (IPv4) or /48 (IPv6).
func network(a netip.Addr) string {
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, _ := a.Prefix(bits)
	return p.String()
}

func (d *Detector) logon(ev *event.Event, now int64) []Finding {
	key := userKey(ev.User)
	if key == "" {
		return nil
	}
	var src string
	var addr netip.Addr
	if ev.Src != nil {
		if a, ok := usable(ev.Src.IP); ok {
			addr, src = a, a.String()
		}
	}
	switch ev.Status {
	case "failure":
		f := failure{At: now, User: key, Src: src, Event: ev.ID}
		d.fail(d.st.Failing, key, f, now, 4*d.opts.BruteFailures)
		if src != "" {
			d.fail(d.st.Sources, src, f, now, 4*d.opts.SprayUsers*d.opts.BruteFailures)
		}
		return nil
	case "success":
	default:
		return nil
	}
	u := d.user(key, now)

	var out []Finding
	if f := d.sprayOrBrute(ev, key, src, now); f != nil {
		out = append(out, *f)
	}
	place := Place{At: now, IP: src, EventID: ev.ID}
	if ev.Src != nil {
		place.Country = geoip.CountryCode(ev.Src.Country)
		if ev.Src.Lat != 0 || ev.Src.Lon != 0 {
			place.Lat, place.Lon, place.Geo = ev.Src.Lat, ev.Src.Lon, true
		}
	}
	if d.opts.Locate != nil && src != "" && (place.Country == "" || !place.Geo) {
		c, lat, lon, geo := d.opts.Locate(src)
		if place.Country == "" {
			place.Country = geoip.CountryCode(c)
		}
		if !place.Geo && geo {
			place.Lat, place.Lon, place.Geo = lat, lon, true
		}
	}
	if f := d.travel(ev, key, u, place); f != nil {
		out = append(out, *f)
	}
	if f := d.newSource(ev, key, u, addr, place, now); f != nil {
		out = append(out, *f)
	}
	d.learnLogon(ev, key, u, addr, place, now)
	return out
}

func (d *Detector) window() int64 { return int64(d.opts.FailWindow / time.Second) }

// fail records a failed sign-in under key in table m (bounded: the least recently failing keys go).
func (d *Detector) fail(m map[string]*Source, key string, f failure, now int64, n int) {
	src := entry(m, key, d.opts.MaxEntities, func(s *Source) int64 { return s.Last }, func() *Source { return &Source{} })
	src.Last = max(src.Last, now)
	src.Failures = appendFailure(src.Failures, f, now, d.window(), n)
}

// appendFailure adds f and drops failures older than the window before now, keeping at most n.
func appendFailure(fs []failure, f failure, now, window int64, n int) []failure {
	keep := fs[:0]
	for _, x := range fs {
		if now-x.At <= window {
			keep = append(keep, x)
		}
	}
	keep = append(keep, f)
	if len(keep) > n {
		keep = append(keep[:0], keep[len(keep)-n:]...)
	}
	return keep
}

func (d *Detector) sprayOrBrute(ev *event.Event, key, src string, now int64) *Finding {
	w := d.window()
	if src != "" {
		if s := d.st.Sources[src]; s != nil {
			users := map[string]bool{}
			var ids []string
			for _, f := range s.Failures {
				if now-f.At <= w && f.At <= now {
					users[f.User] = true
					ids = append(ids, f.Event)
				}
			}
			if len(users) >= d.opts.SprayUsers {
				s.Failures = nil // reported: the next spray starts afresh
				delete(d.st.Failing, key)
				return &Finding{
					Kind: KindSpray, Title: "Password spray followed by a successful sign-in", Severity: event.SeverityHigh,
					Tactics: []string{"TA0006", "TA0001"}, Techniques: []string{"T1110.003", "T1078"},
					Evidence: []event.FieldMatch{{Field: "src_ip", Value: src}, {Field: "accounts_failed", Value: fmt.Sprint(len(users))},
						{Field: "failures", Value: fmt.Sprint(len(ids))}, {Field: "window", Value: d.opts.FailWindow.String()}, {Field: "succeeded_as", Value: key}},
					EventIDs: append([]string{ev.ID}, lastN(ids, 20)...),
					Message: fmt.Sprintf("%s failed to sign in as %d different accounts within %s, then signed in as %s",
						src, len(users), d.opts.FailWindow, key),
					User: key, Host: hostKey(ev), SrcIP: src,
				}
			}
		}
	}
	var ids []string
	srcs := map[string]bool{}
	var fails []failure
	if uf := d.st.Failing[key]; uf != nil {
		fails = uf.Failures
	}
	for _, f := range fails {
		if now-f.At <= w && f.At <= now {
			ids = append(ids, f.Event)
			if f.Src != "" {
				srcs[f.Src] = true
			}
		}
	}
	if len(ids) >= d.opts.BruteFailures {
		delete(d.st.Failing, key)
		return &Finding{
			Kind: KindBrute, Title: "Brute force followed by a successful sign-in", Severity: event.SeverityHigh,
			Tactics: []string{"TA0006", "TA0001"}, Techniques: []string{"T1110.001", "T1078"},
			Evidence: []event.FieldMatch{{Field: "user", Value: key}, {Field: "failures", Value: fmt.Sprint(len(ids))},
				{Field: "failure_sources", Value: fmt.Sprint(len(srcs))}, {Field: "window", Value: d.opts.FailWindow.String()}, {Field: "success_src_ip", Value: src}},
			EventIDs: append([]string{ev.ID}, lastN(ids, 20)...),
			Message:  fmt.Sprintf("%s failed to sign in %d times within %s, then signed in", key, len(ids), d.opts.FailWindow),
			User:     key, Host: hostKey(ev), SrcIP: src,
		}
	}
	return nil
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// travel compares a sign-in with the user's previous one.
func (d *Detector) travel(ev *event.Event, key string, u *User, p Place) *Finding {
	prev := u.LastPlace
	if prev == nil || !prev.Geo || !p.Geo || p.At < prev.At {
		return nil
	}
	if prev.IP != "" && prev.IP == p.IP {
		return nil
	}
	km := haversineKm(prev.Lat, prev.Lon, p.Lat, p.Lon)
	if km < 500 {
		return nil
	}
	hours := math.Max(float64(p.At-prev.At)/3600, 1.0/60)
	speed := km / hours
	if speed <= d.opts.TravelKmh {
		return nil
	}
	where := func(pl *Place) string {
		if pl.Country != "" {
			return fmt.Sprintf("%s (%s)", pl.IP, pl.Country)
		}
		return pl.IP
	}
	return &Finding{
		Kind: KindTravel, Title: "Impossible travel between two sign-ins", Severity: event.SeverityHigh,
		Tactics: []string{"TA0001"}, Techniques: []string{"T1078"},
		Evidence: []event.FieldMatch{{Field: "user", Value: key}, {Field: "previous_src_ip", Value: prev.IP}, {Field: "previous_country", Value: prev.Country},
			{Field: "src_ip", Value: p.IP}, {Field: "country", Value: p.Country}, {Field: "distance_km", Value: fmt.Sprintf("%.0f", km)},
			{Field: "interval", Value: (time.Duration(p.At-prev.At) * time.Second).String()}, {Field: "speed_kmh", Value: fmt.Sprintf("%.0f", speed)}},
		EventIDs: []string{ev.ID, prev.EventID},
		Message: fmt.Sprintf("%s signed in from %s and %s later from %s, %.0f km away: %.0f km/h",
			key, where(prev), time.Duration(p.At-prev.At)*time.Second, where(&p), km, speed),
		User: key, Host: hostKey(ev), SrcIP: p.IP,
	}
}

func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}

// asset is what a sign-in reached: the host, else the target host, else the application.
func asset(ev *event.Event) string {
	if h := hostKey(ev); h != "" {
		return h
	}
	if ev.Dst != nil && ev.Dst.Hostname != "" {
		return strings.ToLower(ev.Dst.Hostname)
	}
	if ev.Cloud != nil {
		if ev.Cloud.App != "" {
			return strings.ToLower(ev.Cloud.App)
		}
		return strings.ToLower(ev.Cloud.Provider)
	}
	return ""
}

func device(ev *event.Event) string {
	if ev.Src == nil {
		return ""
	}
	if ev.Src.Agent != "" {
		return ev.Src.Agent
	}
	return strings.ToLower(ev.Src.Hostname)
}

// newSource scores a sign-in from a source new to the user: the novelty of the address,
// network, country and device, the hour against the user's usual hours, the asset's
// criticality and whether the user ever reached it, and the user's privilege.
func (d *Detector) newSource(ev *event.Event, key string, u *User, addr netip.Addr, p Place, now int64) *Finding {
	if !addr.IsValid() || !d.mature(u.First, now) || u.Logons < 5 {
		return nil
	}
	peer := d.st.Peers[d.userPeer(key)]
	var cs []Contribution
	add := func(w float64, format string, args ...any) {
		cs = append(cs, Contribution{Weight: w, Detail: fmt.Sprintf(format, args...)})
	}
	novel := false
	net := network(addr)
	if u.IPs.Get(p.IP) == nil {
		if u.Nets.Get(net) == nil {
			novel = true
			if peer != nil && peer.Nets.Get(net) != nil {
				add(1.0, "network %s is new for %s (its peers use it)", net, key)
			} else {
				add(2.0, "network %s is new for %s and its peer group", net, key)
			}
		} else {
			add(0.5, "address %s is new for %s (known network %s)", p.IP, key, net)
		}
	}
	if c := u.Nets.Get(net); c != nil && u.Logons >= 20 {
		// Known, but rare: a network the user signed in from once, long ago.
		if share := c.Value(now, d.lam) / tableTotal(u.Nets, now, d.lam); share < 0.02 {
			novel = true
			add(1.0, "network %s is rare for %s (%.1f%% of recent sign-ins)", net, key, 100*share)
		}
	}
	if p.Country != "" && u.Countries.Len() > 0 && u.Countries.Get(p.Country) == nil {
		novel = true
		if peer != nil && peer.Countries.Get(p.Country) != nil {
			add(1.0, "first sign-in from %s for %s (its peers sign in from there)", p.Country, key)
		} else {
			add(2.0, "first sign-in from %s for %s and its peer group", p.Country, key)
		}
	}
	if !novel {
		return nil
	}
	if dev := device(ev); dev != "" && u.Devices.Len() > 0 && u.Devices.Get(dev) == nil {
		add(0.5, "new device or client %q", clip(dev, 60))
	}
	if share, total := u.Hours.Share(now); total >= 5 {
		hour := time.Unix(now, 0).UTC().Hour()
		switch {
		case share < 0.01:
			add(1.5, "%02d h UTC is outside %s's usual hours (%.0f%% of %.0f recent sign-ins)", hour, key, 100*share, total)
		case share < 0.05:
			add(1.0, "%02d h UTC is unusual for %s (%.0f%% of %.0f recent sign-ins)", hour, key, 100*share, total)
		}
	}
	if as := asset(ev); as != "" {
		if u.Assets.Len() > 0 && u.Assets.Get(as) == nil {
			add(0.5, "first sign-in by %s to %s", key, as)
		}
		if name, c := d.criticality(as); c == "critical" {
			add(1.5, "%s is a critical asset", name)
		} else if c == "high" {
			add(1.0, "%s is a high-value asset", name)
		}
	}
	if d.privilegedUser(key) {
		add(1.0, "%s is a privileged account", key)
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Weight > cs[j].Weight })
	score := 0.0
	for _, c := range cs {
		score += c.Weight
	}
	if score < d.opts.LoginScore {
		return nil
	}
	sev := event.SeverityMedium
	if score >= d.opts.LoginScore+2 {
		sev = event.SeverityHigh
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%+.1f %s", c.Weight, c.Detail)
	}
	ev0 := []event.FieldMatch{{Field: "user", Value: key}, {Field: "src_ip", Value: p.IP}, {Field: "network", Value: net}}
	if p.Country != "" {
		ev0 = append(ev0, event.FieldMatch{Field: "country", Value: p.Country})
	}
	if as := asset(ev); as != "" {
		ev0 = append(ev0, event.FieldMatch{Field: "asset", Value: as})
	}
	ev0 = append(ev0, event.FieldMatch{Field: "score", Value: fmt.Sprintf("%.1f", score)}, event.FieldMatch{Field: "history_logons", Value: fmt.Sprint(u.Logons)})
	return &Finding{
		Kind: KindLogin, Title: "Sign-in from a new source, judged against the user's history", Severity: sev,
		Tactics: []string{"TA0001"}, Techniques: []string{"T1078"},
		Score: score, Contributions: cs, Evidence: ev0, EventIDs: []string{ev.ID},
		Message: fmt.Sprintf("%s signed in from %s: score %.1f = %s", key, p.IP, score, strings.Join(parts, ", ")),
		User:    key, Host: hostKey(ev), SrcIP: p.IP,
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (d *Detector) learnLogon(ev *event.Event, key string, u *User, addr netip.Addr, p Place, now int64) {
	lam := d.lam
	u.Logons++
	u.Hours.Add(now, lam)
	peer := d.peer(d.userPeer(key), now)
	if addr.IsValid() {
		u.IPs.Add(p.IP, now, lam)
		net := network(addr)
		u.Nets.Add(net, now, lam)
		peer.Nets.Add(net, now, lam)
	}
	if p.Country != "" {
		u.Countries.Add(p.Country, now, lam)
		peer.Countries.Add(p.Country, now, lam)
	}
	if dev := device(ev); dev != "" {
		u.Devices.Add(dev, now, lam)
	}
	if as := asset(ev); as != "" {
		u.Assets.Add(as, now, lam)
	}
	if h := hostKey(ev); h != "" {
		d.host(h, now).Users.Add(key, now, lam)
	}
	if p.Geo && (u.LastPlace == nil || p.At >= u.LastPlace.At) {
		pl := p
		u.LastPlace = &pl
	}
}

// --- privileged actions ----------------------------------------------------------------------

// privilegedAPI are cloud and identity operations that grant or use administrative power.
var privilegedAPI = []string{
	"attach", "putuserpolicy", "putrolepolicy", "putgrouppolicy", "createaccesskey", "createloginprofile",
	"updateloginprofile", "updateassumerolepolicy", "addusertogroup", "createuser", "createrole",
	"add member to role", "add app role assignment", "consent to application", "add owner",
	"add delegated permission grant", "set-mailboxpermission", "add-mailboxpermission", "new-inboxrule",
	"set-inboxrule", "user.account.privilege.grant", "group.user_membership.add", "app.oauth2.as.consent.grant",
	"system.api_token.create", "policy.lifecycle.update", "user.mfa.factor.deactivate", "user.mfa.factor.reset_all",
}

// actionType names the privileged action an event is, or "".
func actionType(ev *event.Event) string {
	switch ev.Class {
	case event.ClassGroup:
		if ev.Activity == "add_user" || ev.Activity == "create" {
			return "group:" + ev.Activity
		}
	case event.ClassAccountChange:
		switch ev.Activity {
		case "create", "enable", "password_reset", "add_credentials", "mfa_factor_disable", "delete_credentials", "update":
			return "account:" + ev.Activity
		}
	}
	if ev.Cloud != nil && ev.Cloud.Operation != "" {
		op := strings.ToLower(ev.Cloud.Operation)
		for _, p := range privilegedAPI {
			if strings.HasPrefix(op, p) {
				return "api:" + op
			}
		}
	}
	if ev.Auth != nil && ev.Auth.Elevated && ev.Class == event.ClassAuthentication && ev.Status != "failure" {
		// Windows elevated tokens come with every administrator's interactive logon; only
		// sudo-style elevation (a process or session made privileged on purpose) counts.
		if ev.Activity != "logon" {
			return "elevate:" + ev.Activity
		}
	}
	return ""
}

func (d *Detector) privileged(ev *event.Event, now int64) *Finding {
	if ev.Status == "failure" {
		return nil
	}
	at := actionType(ev)
	if at == "" {
		return nil
	}
	key := userKey(ev.User)
	if key == "" {
		return nil
	}
	u := d.user(key, now)
	pname := d.userPeer(key)
	peer := d.peer(pname, now)
	var f *Finding
	if d.mature(u.First, now) && u.Actions.Get(at) == nil {
		peers := 0
		if c := peer.Actions.Get(at); c != nil {
			peers = int(c.N)
		}
		sev := event.SeverityMedium
		peerNote := fmt.Sprintf("%d members of its peer group %s did it before", peers, strings.TrimPrefix(pname, "user:"))
		if peers == 0 {
			sev = event.SeverityHigh
			peerNote = fmt.Sprintf("nobody in its peer group %s did it before", strings.TrimPrefix(pname, "user:"))
		}
		what := at
		if ev.TargetUser != nil && userKey(ev.TargetUser) != "" {
			what += " on " + userKey(ev.TargetUser)
		} else if ev.Cloud != nil && ev.Cloud.Resource != "" {
			what += " on " + clip(ev.Cloud.Resource, 80)
		}
		f = &Finding{
			Kind: KindPrivileged, Title: "First-time privileged action by a user", Severity: sev,
			Tactics: []string{"TA0004", "TA0003"}, Techniques: []string{"T1098"},
			Evidence: []event.FieldMatch{{Field: "user", Value: key}, {Field: "action", Value: at}, {Field: "peer_group", Value: strings.TrimPrefix(pname, "user:")},
				{Field: "peer_count", Value: fmt.Sprint(peers)}, {Field: "history_days", Value: fmt.Sprintf("%.0f", float64(now-u.First)/86400)}},
			EventIDs: []string{ev.ID},
			Message:  fmt.Sprintf("%s performed %s for the first time in %.0f days of history; %s", key, what, float64(now-u.First)/86400, peerNote),
			User:     key, Host: hostKey(ev),
		}
		if ev.Src != nil {
			f.SrcIP = ev.Src.IP
		}
	}
	if u.Actions.Get(at) == nil {
		peer.Actions.Add(at, now, d.lam) // counts the members who did it
	}
	u.Actions.Add(at, now, d.lam)
	return f
}

// --- process lineage -------------------------------------------------------------------------

func base(p string) string {
	p = strings.ToLower(strings.TrimSpace(p))
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		p = p[i+1:]
	}
	return p
}

func image(p *event.Process) string {
	if p == nil {
		return ""
	}
	if p.Path != "" {
		return base(p.Path)
	}
	return base(p.Name)
}

// minProcesses is how many process starts a host must have shown before its lineage is judged,
// and maxNovelty the share of recent starts with a lineage new to the host above which the host
// is still being learned.
const (
	minProcesses = 200
	maxNovelty   = 0.02
)

var lamWeek = baseline.Lambda(7 * 24 * time.Hour)

// settled reports whether a host's lineage baseline is stable enough to judge at now.
func (d *Detector) settled(h *Host, now int64) bool {
	starts := h.Starts.Value(now, lamWeek)
	return h.Processes >= minProcesses && d.mature(h.First, now) && starts > 0 && h.Novel.Value(now, lamWeek)/starts <= maxNovelty
}

// unknownImage is a parent the event could not name.
func unknownImage(s string) bool { return s == "" || s == "?" || s == "-" || s == "unknown" }

func (d *Detector) process(ev *event.Event, now int64) []Finding {
	hk := hostKey(ev)
	child := image(ev.Process)
	if hk == "" || child == "" {
		return nil
	}
	parent := image(ev.Process.Parent)
	if unknownImage(parent) {
		parent = ""
	}
	h := d.host(hk, now)
	pname := d.hostPeer(hk)
	peer := d.peer(pname, now)
	var out []Finding
	pair := parent + " > " + child
	novel := parent != "" && h.Lineage.Get(pair) == nil
	if novel && d.settled(h, now) {
		seen := 0
		if c := peer.Lineage.Get(pair); c != nil {
			seen = int(c.N)
		}
		// Rare for the host and its peers: never on this host, on at most one peer host.
		if seen <= 1 {
			sev := event.SeverityMedium
			if h.Images.Get(child) == nil {
				sev = event.SeverityHigh // the program itself is new on the host
			}
			f := Finding{
				Kind: KindRareLineage, Title: "Rare process lineage for the host and its peers", Severity: sev,
				Tactics: []string{"TA0002"}, Techniques: []string{"T1059"},
				Evidence: []event.FieldMatch{{Field: "host", Value: hk}, {Field: "parent", Value: parent}, {Field: "child", Value: child},
					{Field: "peer_group", Value: strings.TrimPrefix(pname, "host:")}, {Field: "peer_count", Value: fmt.Sprint(seen)},
					{Field: "host_processes", Value: fmt.Sprint(h.Processes)}},
				EventIDs: []string{ev.ID},
				Message: fmt.Sprintf("%s started %s on %s: never before on %s in %d process starts, on %d hosts of its peer group %s",
					parent, child, hk, hk, h.Processes, seen, strings.TrimPrefix(pname, "host:")),
				User: userKey(ev.User), Host: hk,
			}
			if ev.Process.CommandLine != "" {
				f.Evidence = append(f.Evidence, event.FieldMatch{Field: "cmd_line", Value: clip(ev.Process.CommandLine, 200)})
			}
			out = append(out, f)
		}
	}
	h.Processes++
	h.Starts.Add(now, lamWeek)
	if novel {
		h.Novel.Add(now, lamWeek)
	}
	h.Images.Add(child, now, d.lam)
	if parent != "" {
		if h.Lineage.Get(pair) == nil {
			peer.Lineage.Add(pair, now, d.lam) // counts the hosts that ran it
		}
		h.Lineage.Add(pair, now, d.lam)
	}
	return out
}

// --- summaries ---------------------------------------------------------------------------------

// Summary is what is normal for one user or host, for investigators: plain values, no sketches.
type Summary struct {
	Kind      string    `json:"kind"` // user or host
	Name      string    `json:"name"`
	PeerGroup string    `json:"peer_group"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Users: sign-ins, the hours of the day (UTC) holding at least 5% of them, and the most
	// frequent networks, countries, devices and assets (most frequent first).
	Logons     uint64   `json:"logons,omitempty"`
	UsualHours []int    `json:"usual_hours_utc,omitempty"`
	Networks   []string `json:"networks,omitempty"`
	Countries  []string `json:"countries,omitempty"`
	Devices    []string `json:"devices,omitempty"`
	Assets     []string `json:"assets,omitempty"`
	Privileged []string `json:"privileged_actions,omitempty"`
	// Hosts: process starts, the most frequent programs and lineages, the accounts signing in.
	Processes uint64   `json:"processes,omitempty"`
	Programs  []string `json:"programs,omitempty"`
	Lineages  []string `json:"lineages,omitempty"`
	Users     []string `json:"users,omitempty"`
}

// UserSummary returns the profile of a user (any spelling CanonicalUser takes).
func (d *Detector) UserSummary(name string) (Summary, bool) {
	key := event.CanonicalUser(name, "")
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.st.Users[key]
	if u == nil {
		return Summary{}, false
	}
	now := u.Last
	s := Summary{Kind: "user", Name: key, PeerGroup: strings.TrimPrefix(d.userPeer(key), "user:"), FirstSeen: time.Unix(u.First, 0).UTC(),
		LastSeen: time.Unix(u.Last, 0).UTC(), Logons: u.Logons, Networks: top(u.Nets, now, d.lam, 5), Countries: top(u.Countries, now, d.lam, 5),
		Devices: top(u.Devices, now, d.lam, 5), Assets: top(u.Assets, now, d.lam, 5), Privileged: top(u.Actions, now, d.lam, 10)}
	var byHour [24]float64
	total := 0.0
	for i, v := range u.Hours.Bins {
		byHour[i%24] += v
		total += v
	}
	for h, v := range byHour {
		if total > 0 && v/total >= 0.05 {
			s.UsualHours = append(s.UsualHours, h)
		}
	}
	return s, true
}

// HostSummary returns the profile of a host (short name, any case).
func (d *Detector) HostSummary(name string) (Summary, bool) {
	key := strings.ToLower(strings.TrimSpace(name))
	if i := strings.IndexByte(key, '.'); i > 0 {
		key = key[:i]
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.st.Hosts[key]
	if h == nil {
		return Summary{}, false
	}
	now := h.Last
	return Summary{Kind: "host", Name: key, PeerGroup: strings.TrimPrefix(d.hostPeer(key), "host:"), FirstSeen: time.Unix(h.First, 0).UTC(),
		LastSeen: time.Unix(h.Last, 0).UTC(), Processes: h.Processes, Programs: top(h.Images, now, d.lam, 10),
		Lineages: top(h.Lineage, now, d.lam, 10), Users: top(h.Users, now, d.lam, 10)}, true
}

// tableTotal is the sum of t's decayed counts at now.
func tableTotal(t *baseline.Table, now int64, lam float64) float64 {
	var sum float64
	for _, c := range t.Items {
		sum += c.Value(now, lam)
	}
	return math.Max(sum, 1e-9)
}

// top returns the n keys of t with the highest decayed counts at now.
func top(t *baseline.Table, now int64, lam float64, n int) []string {
	if t == nil {
		return nil
	}
	return t.Top(now, lam, n)
}
