package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/connector/connectortest"
	"github.com/vigil-soc/vigil/internal/connector/falcon"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/connector/mde"
	"github.com/vigil-soc/vigil/internal/connector/okta"
	"github.com/vigil-soc/vigil/internal/connector/webhook"
	"github.com/vigil-soc/vigil/internal/demo"
	"github.com/vigil-soc/vigil/internal/egress"
	"github.com/vigil-soc/vigil/internal/investigate"
	"github.com/vigil-soc/vigil/internal/respond"
)

// connectorSet is what the configured connectors give the app.
type connectorSet struct {
	Respond respond.Connectors
	Tools   []investigate.Tool
	// Privileged reports whether an account holds an admin role at the identity provider
	// (Graph directory roles / Okta admin roles); false with an error when unknown. Nil when
	// no identity provider is configured.
	Privileged func(ctx context.Context, user string) (bool, error)
	// Notify sends a signed webhook event to every webhook subscribed to kind
	// (action_pending, action_escalated, action_completed, report); errors are logged, never
	// fatal. It is never nil.
	Notify func(ctx context.Context, kind string, payload any)

	env *toolEnv // what the tools share; nil without tools
}

// UseIncidentTimes tells the tools when an incident happened (its first and last event), so
// they read the identity and endpoint logs around it rather than the days before now. Call it
// before the tools are used; fn returning ok=false falls back to now.
func (s *connectorSet) UseIncidentTimes(fn func(ctx context.Context, incident string) (first, last time.Time, ok bool)) {
	if s.env != nil && fn != nil {
		f := incidentSpanFunc(fn)
		s.env.span.Store(&f)
	}
}

// Product names of each capability, for the audit trail.
const (
	productEntra    = "Microsoft Entra ID"
	productExchange = "Exchange Online"
	productOkta     = "Okta"
	productMDE      = "Microsoft Defender for Endpoint"
	productFalcon   = "CrowdStrike Falcon"
)

// Webhook event kinds.
var webhookEvents = []string{"action_pending", "action_escalated", "action_completed", "report"}

// buildConnectors builds the clients of the configured connectors, all sending through one
// egress client, and wires them to the response capabilities and the investigation tools.
// Nothing is called at build time: a service that is down does not stop vigil from starting.
// With no connectors configured the set is empty (the offline default).
func buildConnectors(ctx context.Context, cfg config.Config, log *slog.Logger) (*connectorSet, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc, err := egress.New(egress.Options{AllowPrivate: cfg.Connectors.AllowPrivate, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("connectors: %w", err)
	}
	return newConnectorSet(ctx, cfg.Connectors, hc, log)
}

// clients are the configured connectors' clients; nil when not configured.
type clients struct {
	graph  *graph.Client
	okta   *okta.Client
	mde    *mde.Client
	falcon *falcon.Client
	hooks  []hook
	// UPN suffixes turning domain\name into name@suffix at each identity provider.
	graphSuffix, oktaSuffix string
	tenant                  string // the Entra tenant ID
}

// hook is a configured webhook and the events it subscribed to.
type hook struct {
	name   string
	events map[string]bool // empty: every event
	client *webhook.Client
}

func newConnectorSet(_ context.Context, cc config.Connectors, hc *egress.Client, log *slog.Logger) (*connectorSet, error) {
	cl, err := newClients(cc, hc, log)
	if err != nil {
		return nil, err
	}
	r := newResolver(cl)
	set := &connectorSet{Respond: respond.Connectors{Names: map[string]string{}}}
	wireRespond(&set.Respond, cl, r)
	set.Notify = webhookNotifier(cl.hooks, log.With("component", "connectors"))
	if cl.graph != nil || cl.okta != nil {
		set.Privileged = privilegeCheck(cl, r)
	}
	set.env = newToolEnv(cl, r)
	set.Tools = connectorTools(set.env)
	if len(set.Tools) == 0 {
		set.env = nil
	}
	return set, nil
}

// secretValue resolves a configured secret reference.
func secretValue(name string, s config.Secret) (connector.Secret, error) {
	v, err := s.Value()
	if err != nil {
		return "", fmt.Errorf("connectors.%s: %w", name, err)
	}
	return connector.Secret(v), nil
}

func newClients(cc config.Connectors, hc *egress.Client, log *slog.Logger) (*clients, error) {
	cl := &clients{}
	var err error
	if g := cc.Graph; g != nil {
		if cl.graph, err = newGraph(g, hc, log); err != nil {
			return nil, err
		}
		cl.graphSuffix, cl.tenant = strings.ToLower(g.UPNSuffix), g.TenantID
	}
	if o := cc.Okta; o != nil {
		tok, err := secretValue("okta.api_token", o.APIToken)
		if err != nil {
			return nil, err
		}
		if cl.okta, err = okta.New(okta.Config{BaseURL: o.BaseURL, APIToken: tok, Logger: log}, hc); err != nil {
			return nil, fmt.Errorf("connectors.okta: %w", err)
		}
		cl.oktaSuffix = strings.ToLower(o.UPNSuffix)
	}
	if m := cc.MDE; m != nil {
		if cl.mde, err = newMDE(m, hc, log); err != nil {
			return nil, err
		}
	}
	if f := cc.Falcon; f != nil {
		s, err := secretValue("falcon.client_secret", f.ClientSecret)
		if err != nil {
			return nil, err
		}
		if cl.falcon, err = falcon.New(falcon.Config{BaseURL: f.BaseURL, ClientID: f.ClientID, ClientSecret: s, Logger: log}, hc); err != nil {
			return nil, fmt.Errorf("connectors.falcon: %w", err)
		}
	}
	for i, w := range cc.Webhooks {
		h, err := newHook(i, w, hc, log)
		if err != nil {
			return nil, err
		}
		cl.hooks = append(cl.hooks, h)
	}
	return cl, nil
}

func newGraph(g *config.Graph, hc *egress.Client, log *slog.Logger) (*graph.Client, error) {
	s, err := secretValue("graph.client_secret", g.ClientSecret)
	if err != nil {
		return nil, err
	}
	c, err := graph.New(graph.Config{BaseURL: g.BaseURL, Authority: g.Authority, TenantID: g.TenantID, ClientID: g.ClientID, ClientSecret: s, Logger: log}, hc)
	if err != nil {
		return nil, fmt.Errorf("connectors.graph: %w", err)
	}
	return c, nil
}

func newMDE(m *config.MDE, hc *egress.Client, log *slog.Logger) (*mde.Client, error) {
	s, err := secretValue("mde.client_secret", m.ClientSecret)
	if err != nil {
		return nil, err
	}
	c, err := mde.New(mde.Config{BaseURL: m.BaseURL, Authority: m.Authority, TenantID: m.TenantID, ClientID: m.ClientID, ClientSecret: s, Logger: log}, hc)
	if err != nil {
		return nil, fmt.Errorf("connectors.mde: %w", err)
	}
	return c, nil
}

func newHook(i int, w config.Webhook, hc *egress.Client, log *slog.Logger) (hook, error) {
	name := fmt.Sprintf("webhooks[%d]", i)
	u, err := secretValue(name+".url", w.URL)
	if err != nil {
		return hook{}, err
	}
	s, err := secretValue(name+".secret", w.Secret)
	if err != nil {
		return hook{}, err
	}
	c, err := webhook.New(webhook.Config{URL: u.Reveal(), Secret: s, Logger: log}, hc)
	if err != nil {
		return hook{}, fmt.Errorf("connectors.%s (%s): %w", name, w.Name, err)
	}
	h := hook{name: w.Name, events: map[string]bool{}, client: c}
	for _, e := range w.Events {
		if !slices.Contains(webhookEvents, e) {
			return hook{}, fmt.Errorf("connectors.%s (%s): unknown event %q (want %s)", name, w.Name, e, strings.Join(webhookEvents, ", "))
		}
		h.events[e] = true
	}
	return h, nil
}

// wireRespond sets the capabilities the clients provide, by preference: endpoint = MDE else
// Falcon; identity = Graph else Okta; grants and mail = Graph; indicators = MDE else Falcon.
func wireRespond(rc *respond.Connectors, cl *clients, r *resolver) {
	set := func(capability, product string) { rc.Names[capability] = product }
	switch {
	case cl.mde != nil:
		rc.Endpoint, rc.Indicators = &mdeEndpoint{c: cl.mde, r: r, wait: defaultActionWait}, mdeIndicators{c: cl.mde}
		set("endpoint", productMDE)
		set("indicators", productMDE)
	case cl.falcon != nil:
		rc.Endpoint, rc.Indicators = &falconEndpoint{c: cl.falcon, r: r, wait: defaultActionWait}, falconIndicators{c: cl.falcon}
		set("endpoint", productFalcon)
		set("indicators", productFalcon)
	}
	switch {
	case cl.graph != nil:
		rc.Identity = graphIdentity{c: cl.graph, r: r}
		rc.Grants = graphGrants{c: cl.graph}
		rc.Mail = &graphMail{c: cl.graph, r: r, folders: newIDCache(24*time.Hour, 10000)}
		set("identity", productEntra)
		set("grants", productEntra)
		set("mail", productExchange)
	case cl.okta != nil:
		rc.Identity = oktaIdentity{c: cl.okta, r: r}
		set("identity", productOkta)
	}
}

// ---- identifiers ---------------------------------------------------------------------

// idCache remembers name-to-ID lookups for a while, bounded in size. It is safe for
// concurrent use.
type idCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	// mu guards m.
	mu sync.Mutex
	m  map[string]cachedID
}

type cachedID struct {
	id      string
	expires time.Time
}

func newIDCache(ttl time.Duration, max int) *idCache {
	return &idCache{ttl: ttl, max: max, now: time.Now, m: map[string]cachedID{}}
}

func (c *idCache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || c.now().After(e.expires) {
		return "", false
	}
	return e.id, true
}

func (c *idCache) put(key, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if now.After(e.expires) {
				delete(c.m, k)
			}
		}
	}
	for k := range c.m { // still full: drop arbitrary entries until there is room
		if len(c.m) < c.max {
			break
		}
		delete(c.m, k)
	}
	c.m[key] = cachedID{id: id, expires: now.Add(c.ttl)}
}

// resolver maps vigil's canonical names to the services' IDs: users (domain\name, a bare
// name, or a UPN) to Entra object IDs and Okta user IDs; hosts (a short name or an FQDN) to
// Defender machine IDs and Falcon device IDs. It uses only read calls.
type resolver struct {
	graph  graphReader
	okta   oktaReader
	mde    mdeReader
	falcon falconReader
	cl     *clients
	cache  *idCache
}

func newResolver(cl *clients) *resolver {
	r := &resolver{cl: cl, cache: newIDCache(5*time.Minute, 10000)}
	// Interfaces are assigned only from non-nil clients, so nil checks on them hold.
	if cl.graph != nil {
		r.graph = cl.graph
	}
	if cl.okta != nil {
		r.okta = cl.okta
	}
	if cl.mde != nil {
		r.mde = cl.mde
	}
	if cl.falcon != nil {
		r.falcon = cl.falcon
	}
	return r
}

// upn maps a canonical user to a user principal name under suffix: domain\name and a bare
// name become name@suffix, a UPN passes through.
func upn(user, suffix string) (string, error) {
	u := strings.ToLower(strings.TrimSpace(user))
	if u == "" {
		return "", errors.New("no user given")
	}
	if strings.Contains(u, "@") && !strings.Contains(u, `\`) {
		return u, nil
	}
	if _, name, ok := strings.Cut(u, `\`); ok {
		u = name
	}
	if suffix == "" {
		return "", fmt.Errorf("user %q: no upn_suffix is configured to turn it into a user principal name", user)
	}
	return u + "@" + suffix, nil
}

// graphUser returns the user's Entra object ID and UPN.
func (r *resolver) graphUser(ctx context.Context, user string) (id, principal string, err error) {
	principal, err = upn(user, r.cl.graphSuffix)
	if err != nil {
		return "", "", fmt.Errorf("graph: %w", err)
	}
	if id, ok := r.cache.get("graph:user:" + principal); ok {
		return id, principal, nil
	}
	u, err := r.graph.GetUser(ctx, principal)
	if err != nil {
		return "", principal, err
	}
	r.cache.put("graph:user:"+principal, u.ID)
	return u.ID, principal, nil
}

// oktaUser returns the user's Okta ID and login.
func (r *resolver) oktaUser(ctx context.Context, user string) (id, login string, err error) {
	login, err = upn(user, r.cl.oktaSuffix)
	if err != nil {
		return "", "", fmt.Errorf("okta: %w", err)
	}
	if id, ok := r.cache.get("okta:user:" + login); ok {
		return id, login, nil
	}
	u, err := r.okta.GetUser(ctx, login)
	if err != nil {
		return "", login, err
	}
	r.cache.put("okta:user:"+login, u.ID)
	return u.ID, login, nil
}

// hostNames returns the names to try for a host: as given (lower-cased), then the short name
// of an FQDN. An address is tried as given only.
func hostNames(host string) []string {
	h := strings.ToLower(strings.TrimSpace(host))
	if h == "" {
		return nil
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return []string{h}
	}
	if short, _, ok := strings.Cut(h, "."); ok && short != "" {
		return []string{h, short}
	}
	return []string{h}
}

// findByName tries each of a host's names with find until one is found.
func findByName[T any](ctx context.Context, host string, find func(context.Context, string) (*T, error)) (*T, error) {
	var last error = fmt.Errorf("no host given: %w", connector.ErrNotFound)
	for _, n := range hostNames(host) {
		v, err := find(ctx, n)
		if err == nil {
			return v, nil
		}
		if !connector.IsNotFound(err) {
			return nil, err
		}
		last = err
	}
	return nil, last
}

// machine returns the Defender machine of a host.
func (r *resolver) machine(ctx context.Context, host string) (*mde.Machine, error) {
	m, err := findByName(ctx, host, r.mde.MachineByName)
	if err != nil {
		return nil, err
	}
	r.cache.put("mde:host:"+strings.ToLower(host), m.ID)
	return m, nil
}

func (r *resolver) machineID(ctx context.Context, host string) (string, error) {
	if id, ok := r.cache.get("mde:host:" + strings.ToLower(host)); ok {
		return id, nil
	}
	m, err := r.machine(ctx, host)
	if err != nil {
		return "", err
	}
	return m.ID, nil
}

// device returns the Falcon device of a host.
func (r *resolver) device(ctx context.Context, host string) (*falcon.Device, error) {
	d, err := findByName(ctx, host, r.falcon.DeviceByHostname)
	if err != nil {
		return nil, err
	}
	r.cache.put("falcon:host:"+strings.ToLower(host), d.DeviceID)
	return d, nil
}

func (r *resolver) deviceID(ctx context.Context, host string) (string, error) {
	if id, ok := r.cache.get("falcon:host:" + strings.ToLower(host)); ok {
		return id, nil
	}
	d, err := r.device(ctx, host)
	if err != nil {
		return "", err
	}
	return d.DeviceID, nil
}

// readBackSkew is how much earlier than the request a service's timestamp may be and still
// count as the action's effect: the service's clock and ours differ a little, and Graph keeps
// whole seconds.
const readBackSkew = 5 * time.Second

func atOrAfter(t, since time.Time) bool {
	return !t.IsZero() && !t.Before(since.Add(-readBackSkew))
}

// ---- endpoint: Defender for Endpoint, Falcon --------------------------------------------

// actionWait bounds how long Contain and Release wait for the EDR to carry the action out
// before returning (the engine's read-back then tells, and it retries later if need be).
type actionWait struct {
	max, every time.Duration
}

var defaultActionWait = actionWait{max: 20 * time.Second, every: time.Second}

// ctx is ctx bounded by w.max. When only the wait ends, the action is merely still running.
func (w actionWait) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, w.max)
}

const isolationComment = "vigil response: contain_host"

// mdeEndpoint isolates machines with Defender for Endpoint.
type mdeEndpoint struct {
	c    *mde.Client
	r    *resolver
	wait actionWait
}

func (e *mdeEndpoint) Contain(ctx context.Context, host string) error {
	return e.change(ctx, host, true)
}

func (e *mdeEndpoint) Release(ctx context.Context, host string) error {
	return e.change(ctx, host, false)
}

func (e *mdeEndpoint) change(ctx context.Context, host string, isolate bool) error {
	id, err := e.r.machineID(ctx, host)
	if err != nil {
		return err
	}
	var a *mde.MachineAction
	if isolate {
		a, err = e.c.Isolate(ctx, id, isolationComment, mde.IsolationFull)
	} else {
		a, err = e.c.Release(ctx, id, "vigil response: rollback of contain_host")
	}
	if err != nil || a == nil || !a.InProgress() {
		return err
	}
	wctx, cancel := e.wait.ctx(ctx)
	defer cancel()
	done, err := e.c.WaitForAction(wctx, a.ID, e.wait.every)
	switch {
	case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return nil // still running: the read-back will tell
	case err != nil:
		return err
	case done.Status != mde.StatusSucceeded:
		return fmt.Errorf("mde: %s of machine %s ended %s", done.Type, id, done.Status)
	}
	return nil
}

func (e *mdeEndpoint) Contained(ctx context.Context, host string) (bool, error) {
	id, err := e.r.machineID(ctx, host)
	if err != nil {
		return false, err
	}
	st, err := e.c.Isolation(ctx, id)
	if err != nil {
		return false, err
	}
	return st.Isolated, nil
}

// falconEndpoint network-contains hosts with CrowdStrike Falcon.
type falconEndpoint struct {
	c    *falcon.Client
	r    *resolver
	wait actionWait
}

func (e *falconEndpoint) Contain(ctx context.Context, host string) error {
	return e.change(ctx, host, e.c.Contain, falcon.StatusContained)
}

func (e *falconEndpoint) Release(ctx context.Context, host string) error {
	return e.change(ctx, host, e.c.LiftContainment, falcon.StatusNormal)
}

func (e *falconEndpoint) change(ctx context.Context, host string, act func(context.Context, ...string) error, want string) error {
	id, err := e.r.deviceID(ctx, host)
	if err != nil {
		return err
	}
	if err := act(ctx, id); err != nil {
		// Falcon may refuse to lift containment of a host that is not contained: see
		// whether the state already holds.
		if d, gerr := e.c.GetDevice(ctx, id); gerr == nil && d.Status == want {
			return nil
		}
		return err
	}
	wctx, cancel := e.wait.ctx(ctx)
	defer cancel()
	if _, err := e.c.WaitForStatus(wctx, id, want, e.wait.every); err != nil && (ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded)) {
		return err
	}
	return nil
}

func (e *falconEndpoint) Contained(ctx context.Context, host string) (bool, error) {
	id, err := e.r.deviceID(ctx, host)
	if err != nil {
		return false, err
	}
	d, err := e.c.GetDevice(ctx, id)
	if err != nil {
		return false, err
	}
	return d.Contained(), nil
}

// ---- indicators ----------------------------------------------------------------------

// errUnsupportedIndicator marks an indicator a product cannot block.
var errUnsupportedIndicator = errors.New("indicator type not supported")

// hashType names a hash by its length: sha256, sha1 or md5.
func hashType(v string) string {
	switch len(strings.TrimSpace(v)) {
	case 64:
		return "sha256"
	case 40:
		return "sha1"
	case 32:
		return "md5"
	}
	return ""
}

// mdeIndicators blocks indicators with Defender for Endpoint custom indicators: addresses,
// domains and URLs with Block (and an alert), file hashes with AlertAndBlock.
type mdeIndicators struct{ c *mde.Client }

func mdeIndicatorType(kind, value string) (typ, action string, err error) {
	switch kind {
	case "ip":
		return "IpAddress", "Block", nil
	case "domain":
		return "DomainName", "Block", nil
	case "url":
		return "Url", "Block", nil
	case "hash":
		switch hashType(value) {
		case "sha256":
			return "FileSha256", "AlertAndBlock", nil
		case "sha1":
			return "FileSha1", "AlertAndBlock", nil
		case "md5":
			return "FileMd5", "AlertAndBlock", nil
		}
	}
	return "", "", fmt.Errorf("mde: %s %q: %w", kind, value, errUnsupportedIndicator)
}

func blockingAction(action string) bool {
	return action == "Block" || action == "AlertAndBlock" || action == "BlockAndRemediate"
}

func (m mdeIndicators) Block(ctx context.Context, kind, value string) error {
	typ, action, err := mdeIndicatorType(kind, value)
	if err != nil {
		return err
	}
	_, err = m.c.SubmitIndicator(ctx, mde.Indicator{
		Value: value, Type: typ, Action: action, Severity: "High", GenerateAlert: true,
		Title:       "vigil: block " + kind + " " + value,
		Description: "Blocked by vigil's response engine (block_indicator).",
	})
	return err
}

func (m mdeIndicators) blockingIndicators(ctx context.Context, kind, value string) ([]mde.Indicator, error) {
	typ, _, err := mdeIndicatorType(kind, value)
	if err != nil {
		return nil, err
	}
	all, err := m.c.Indicators(ctx, value, typ)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(in mde.Indicator) bool { return !blockingAction(in.Action) }), nil
}

func (m mdeIndicators) Unblock(ctx context.Context, kind, value string) error {
	ins, err := m.blockingIndicators(ctx, kind, value)
	if err != nil {
		return err
	}
	for _, in := range ins {
		if err := m.c.DeleteIndicator(ctx, in.ID); err != nil {
			return err
		}
	}
	return nil
}

func (m mdeIndicators) Blocked(ctx context.Context, kind, value string) (bool, error) {
	ins, err := m.blockingIndicators(ctx, kind, value)
	return len(ins) > 0, err
}

// falconIndicators blocks file hashes with Falcon custom IOCs (action prevent). Falcon's IOCs
// can only detect addresses and domains, not block them: those are refused rather than
// reported blocked.
type falconIndicators struct{ c *falcon.Client }

func falconIOCType(kind, value string) (string, error) {
	if kind == "hash" {
		if t := hashType(value); t == "sha256" || t == "md5" {
			return t, nil
		}
	}
	return "", fmt.Errorf("falcon: %s %q: custom IOCs can only prevent sha256 and md5 hashes: %w", kind, value, errUnsupportedIndicator)
}

func (f falconIndicators) Block(ctx context.Context, kind, value string) error {
	typ, err := falconIOCType(kind, value)
	if err != nil {
		return err
	}
	_, err = f.c.CreateIOC(ctx, falcon.IOC{
		Type: typ, Value: strings.ToLower(value), Action: "prevent", Severity: "high", Source: "vigil",
		Description: "Blocked by vigil's response engine (block_indicator).", Platforms: []string{"windows", "mac", "linux"}, AppliedGlobally: true,
	}, "vigil block_indicator")
	return err
}

func (f falconIndicators) preventing(ctx context.Context, kind, value string) ([]falcon.IOC, error) {
	typ, err := falconIOCType(kind, value)
	if err != nil {
		return nil, err
	}
	all, err := f.c.FindIOCs(ctx, typ, strings.ToLower(value))
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(i falcon.IOC) bool { return i.Action != "prevent" }), nil
}

func (f falconIndicators) Unblock(ctx context.Context, kind, value string) error {
	iocs, err := f.preventing(ctx, kind, value)
	if err != nil || len(iocs) == 0 {
		return err
	}
	ids := make([]string, len(iocs))
	for i, x := range iocs {
		ids[i] = x.ID
	}
	return f.c.DeleteIOCs(ctx, ids...)
}

func (f falconIndicators) Blocked(ctx context.Context, kind, value string) (bool, error) {
	iocs, err := f.preventing(ctx, kind, value)
	return len(iocs) > 0, err
}

// ---- identity: Entra ID (Graph), Okta ------------------------------------------------

// graphIdentity acts on Entra ID accounts.
type graphIdentity struct {
	c *graph.Client
	r *resolver
}

func (g graphIdentity) user(ctx context.Context, user string) (*graph.User, error) {
	id, _, err := g.r.graphUser(ctx, user)
	if err != nil {
		return nil, err
	}
	return g.c.GetUser(ctx, id)
}

func (g graphIdentity) do(ctx context.Context, user string, fn func(ctx context.Context, id string) error) error {
	id, _, err := g.r.graphUser(ctx, user)
	if err != nil {
		return err
	}
	return fn(ctx, id)
}

func (g graphIdentity) Disable(ctx context.Context, user string) error {
	return g.do(ctx, user, g.c.DisableUser)
}

func (g graphIdentity) Enable(ctx context.Context, user string) error {
	return g.do(ctx, user, g.c.EnableUser)
}

func (g graphIdentity) Enabled(ctx context.Context, user string) (bool, error) {
	u, err := g.user(ctx, user)
	if err != nil {
		return false, err
	}
	return u.AccountEnabled, nil
}

func (g graphIdentity) RevokeSessions(ctx context.Context, user string) error {
	return g.do(ctx, user, g.c.RevokeSignInSessions)
}

func (g graphIdentity) SessionsRevokedSince(ctx context.Context, user string, since time.Time) (bool, error) {
	u, err := g.user(ctx, user)
	if err != nil {
		return false, err
	}
	return atOrAfter(u.SignInSessionsValidFromDateTime, since), nil
}

// ResetPassword sets a random password the user must change at the next sign-in. The
// password is dropped here: the user gets a new one from the help desk, never from vigil.
func (g graphIdentity) ResetPassword(ctx context.Context, user string) error {
	return g.do(ctx, user, func(ctx context.Context, id string) error {
		_, err := g.c.ResetPassword(ctx, id, graph.PasswordReset{ForceChangeNextSignIn: true})
		return err
	})
}

func (g graphIdentity) PasswordResetSince(ctx context.Context, user string, since time.Time) (bool, error) {
	u, err := g.user(ctx, user)
	if err != nil {
		return false, err
	}
	return atOrAfter(u.LastPasswordChangeDateTime, since), nil
}

// oktaIdentity acts on Okta accounts: disabling is suspending.
type oktaIdentity struct {
	c *okta.Client
	r *resolver
}

func (o oktaIdentity) do(ctx context.Context, user string, fn func(ctx context.Context, id string) error) error {
	id, _, err := o.r.oktaUser(ctx, user)
	if err != nil {
		return err
	}
	return fn(ctx, id)
}

func (o oktaIdentity) user(ctx context.Context, user string) (*okta.User, error) {
	id, _, err := o.r.oktaUser(ctx, user)
	if err != nil {
		return nil, err
	}
	return o.c.GetUser(ctx, id)
}

func (o oktaIdentity) Disable(ctx context.Context, user string) error {
	return o.do(ctx, user, o.c.Suspend)
}

func (o oktaIdentity) Enable(ctx context.Context, user string) error {
	return o.do(ctx, user, o.c.Unsuspend)
}

func (o oktaIdentity) Enabled(ctx context.Context, user string) (bool, error) {
	u, err := o.user(ctx, user)
	if err != nil {
		return false, err
	}
	return u.Status != okta.StatusSuspended && u.Status != "DEPROVISIONED", nil
}

func (o oktaIdentity) RevokeSessions(ctx context.Context, user string) error {
	return o.do(ctx, user, func(ctx context.Context, id string) error { return o.c.ClearSessions(ctx, id, true) })
}

// logged reports whether the System Log has an event of the type targeting the user since.
func (o oktaIdentity) logged(ctx context.Context, user, eventType string, since time.Time) (bool, error) {
	id, _, err := o.r.oktaUser(ctx, user)
	if err != nil {
		return false, err
	}
	evs, err := o.c.SystemLog(ctx, okta.LogQuery{EventType: eventType, TargetID: id, Since: since.Add(-readBackSkew), Until: time.Now().Add(time.Minute), Max: 1})
	return len(evs) > 0, err
}

func (o oktaIdentity) SessionsRevokedSince(ctx context.Context, user string, since time.Time) (bool, error) {
	return o.logged(ctx, user, "user.session.clear", since)
}

// ResetPassword puts the user in RECOVERY, which invalidates the password. The one-time
// reset link is dropped and no e-mail is sent (the mailbox may be the attacker's): the user
// gets a new password from the help desk.
func (o oktaIdentity) ResetPassword(ctx context.Context, user string) error {
	return o.do(ctx, user, func(ctx context.Context, id string) error {
		_, err := o.c.ResetPassword(ctx, id, false)
		return err
	})
}

func (o oktaIdentity) PasswordResetSince(ctx context.Context, user string, since time.Time) (bool, error) {
	u, err := o.user(ctx, user)
	if err != nil {
		return false, err
	}
	if atOrAfter(u.PasswordChanged, since) || (u.Status == okta.StatusRecovery && atOrAfter(u.StatusChanged, since)) {
		return true, nil
	}
	return o.logged(ctx, user, "user.account.reset_password", since)
}

// ---- grants: Entra ID applications --------------------------------------------------------

// graphGrants revokes an application's delegated permission grants and disables its service
// principal. The target is app:<appId> or app:<service principal object ID>.
type graphGrants struct{ c *graph.Client }

// savedApp is what RevokeApp saves for RestoreApp.
type savedApp struct {
	ServicePrincipalID string                        `json:"service_principal_id"`
	AppID              string                        `json:"app_id"`
	WasEnabled         bool                          `json:"was_enabled"`
	Grants             []graph.OAuth2PermissionGrant `json:"grants"`
}

// servicePrincipal finds an app's service principal by application ID, else by object ID.
func servicePrincipal(ctx context.Context, c graphReader, app string) (*graph.ServicePrincipal, error) {
	sp, err := c.ServicePrincipalByAppID(ctx, app)
	if connector.IsNotFound(err) {
		if byID, err2 := c.ServicePrincipal(ctx, app); err2 == nil {
			return byID, nil
		}
	}
	return sp, err
}

func (g graphGrants) RevokeApp(ctx context.Context, app string) (json.RawMessage, error) {
	sp, err := servicePrincipal(ctx, g.c, app)
	if err != nil {
		return nil, err
	}
	grants, err := g.c.OAuth2PermissionGrants(ctx, graph.GrantQuery{ClientID: sp.ID})
	if err != nil {
		return nil, err
	}
	saved, err := json.Marshal(savedApp{ServicePrincipalID: sp.ID, AppID: sp.AppID, WasEnabled: sp.AccountEnabled, Grants: grants})
	if err != nil {
		return nil, fmt.Errorf("save grants of %s: %w", app, err)
	}
	for _, gr := range grants {
		if err := g.c.DeleteOAuth2PermissionGrant(ctx, gr.ID); err != nil {
			return saved, err
		}
	}
	if err := g.c.DisableServicePrincipal(ctx, sp.ID); err != nil {
		return saved, err
	}
	return saved, nil
}

func (g graphGrants) RestoreApp(ctx context.Context, app string, saved json.RawMessage) error {
	var s savedApp
	if len(saved) == 0 || json.Unmarshal(saved, &s) != nil || s.ServicePrincipalID == "" {
		return fmt.Errorf("restore app %s: nothing saved to restore: %w", app, respond.ErrNoRollback)
	}
	for _, gr := range s.Grants {
		if _, err := g.c.CreateOAuth2PermissionGrant(ctx, gr); err != nil {
			return err
		}
	}
	if !s.WasEnabled {
		return nil // it was disabled before vigil acted
	}
	return g.c.SetServicePrincipalEnabled(ctx, s.ServicePrincipalID, true)
}

// AppGranted reports whether the app can still act in the tenant: its service principal is
// enabled or any delegated grant to it remains.
func (g graphGrants) AppGranted(ctx context.Context, app string) (bool, error) {
	sp, err := servicePrincipal(ctx, g.c, app)
	if err != nil {
		return false, err
	}
	grants, err := g.c.OAuth2PermissionGrants(ctx, graph.GrantQuery{ClientID: sp.ID})
	if err != nil {
		return false, err
	}
	return sp.AccountEnabled || len(grants) > 0, nil
}

// ---- mail: Exchange Online through Graph ----------------------------------------------------

// quarantineFolder is where a quarantined message is moved (a well-known folder name): Junk
// Email, where Outlook disables its links, and from where release moves it back to the inbox.
const quarantineFolder = "junkemail"

// graphMail manages mailboxes. Message targets are message:<user>/<messageId>, the user as a
// canonical name or a UPN and the message by its immutable ID.
type graphMail struct {
	c *graph.Client
	r *resolver
	// folders remembers each mailbox's quarantine folder ID, learnt from the moves (Graph
	// answers a message's folder by ID, not by its well-known name).
	folders *idCache
}

// forwarding returns the rules that forward or redirect mail.
func forwarding(rules []graph.MessageRule) []graph.MessageRule {
	return slices.DeleteFunc(rules, func(r graph.MessageRule) bool { return len(r.ForwardsTo()) == 0 })
}

func (m *graphMail) DeleteForwardingRules(ctx context.Context, user string) (json.RawMessage, error) {
	id, _, err := m.r.graphUser(ctx, user)
	if err != nil {
		return nil, err
	}
	rules, err := m.c.InboxRules(ctx, id)
	if err != nil {
		return nil, err
	}
	fwd := forwarding(rules)
	if fwd == nil {
		fwd = []graph.MessageRule{}
	}
	saved, err := json.Marshal(fwd)
	if err != nil {
		return nil, fmt.Errorf("save inbox rules of %s: %w", user, err)
	}
	for _, r := range fwd {
		if err := m.c.DeleteInboxRule(ctx, id, r.ID); err != nil {
			return saved, err
		}
	}
	return saved, nil
}

// sameRule reports whether two rules have the same name and forward to the same addresses.
func sameRule(a, b graph.MessageRule) bool {
	return a.DisplayName == b.DisplayName && slices.Equal(a.ForwardsTo(), b.ForwardsTo())
}

func (m *graphMail) RestoreRules(ctx context.Context, user string, saved json.RawMessage) error {
	var rules []graph.MessageRule
	if err := json.Unmarshal(saved, &rules); err != nil {
		return fmt.Errorf("restore inbox rules of %s: %w: %v", user, respond.ErrNoRollback, err)
	}
	id, _, err := m.r.graphUser(ctx, user)
	if err != nil {
		return err
	}
	have, err := m.c.InboxRules(ctx, id)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if slices.ContainsFunc(have, func(h graph.MessageRule) bool { return sameRule(h, r) }) {
			continue // restored already
		}
		if _, err := m.c.CreateInboxRule(ctx, id, r); err != nil {
			return err
		}
	}
	return nil
}

func (m *graphMail) ForwardingRules(ctx context.Context, user string) (int, error) {
	id, _, err := m.r.graphUser(ctx, user)
	if err != nil {
		return 0, err
	}
	rules, err := m.c.InboxRules(ctx, id)
	if err != nil {
		return 0, err
	}
	return len(forwarding(rules)), nil
}

// messageTarget splits a message target, <user>/<messageId>.
func (m *graphMail) messageTarget(ctx context.Context, target string) (userID, msgID string, err error) {
	user, msgID, ok := strings.Cut(target, "/")
	if !ok || user == "" || msgID == "" {
		return "", "", fmt.Errorf("message target %q: want <user>/<messageId>", target)
	}
	userID, _, err = m.r.graphUser(ctx, user)
	return userID, msgID, err
}

func (m *graphMail) move(ctx context.Context, target, folder string) (*graph.Message, string, error) {
	userID, msgID, err := m.messageTarget(ctx, target)
	if err != nil {
		return nil, "", err
	}
	msg, err := m.c.MoveMessage(ctx, userID, msgID, folder)
	return msg, userID, err
}

func (m *graphMail) Quarantine(ctx context.Context, target string) error {
	msg, userID, err := m.move(ctx, target, quarantineFolder)
	if err != nil {
		return err
	}
	m.folders.put(userID, msg.ParentFolderID)
	return nil
}

func (m *graphMail) Release(ctx context.Context, target string) error {
	_, _, err := m.move(ctx, target, "inbox")
	return err
}

func (m *graphMail) Quarantined(ctx context.Context, target string) (bool, error) {
	userID, msgID, err := m.messageTarget(ctx, target)
	if err != nil {
		return false, err
	}
	msg, err := m.c.Message(ctx, userID, msgID)
	if err != nil {
		return false, err
	}
	folder, ok := m.folders.get(userID)
	if !ok {
		return false, fmt.Errorf("message %s: the quarantine folder of the mailbox is not known yet (it is learnt when a message is quarantined)", target)
	}
	return msg.ParentFolderID == folder, nil
}

// ---- privilege and notifications ---------------------------------------------------------

// privilegeCheck asks each identity provider whether the user holds an admin role: true when any
// says so; false when every one that knows the user says no; an error when none could tell.
func privilegeCheck(cl *clients, r *resolver) func(ctx context.Context, user string) (bool, error) {
	type check func(ctx context.Context, user string) (bool, error)
	var checks []check
	if cl.graph != nil {
		checks = append(checks, func(ctx context.Context, user string) (bool, error) {
			id, _, err := r.graphUser(ctx, user)
			if err != nil {
				return false, err
			}
			m, err := cl.graph.MemberOf(ctx, id)
			if err != nil {
				return false, err
			}
			return m.Privileged(), nil
		})
	}
	if cl.okta != nil {
		checks = append(checks, func(ctx context.Context, user string) (bool, error) {
			id, _, err := r.oktaUser(ctx, user)
			if err != nil {
				return false, err
			}
			roles, err := cl.okta.Roles(ctx, id)
			return len(roles) > 0, err
		})
	}
	return func(ctx context.Context, user string) (bool, error) {
		var errs []error
		known := false
		for _, c := range checks {
			v, err := c(ctx, user)
			switch {
			case err != nil:
				errs = append(errs, err)
			case v:
				return true, nil
			default:
				known = true
			}
		}
		if known {
			return false, nil
		}
		return false, fmt.Errorf("privilege of %s: %w", user, errors.Join(errs...))
	}
}

// notifyTimeout bounds one webhook delivery, retries included.
const notifyTimeout = 30 * time.Second

// webhookNotifier returns Notify: it delivers to each subscribed webhook in turn and logs failures.
func webhookNotifier(hooks []hook, log *slog.Logger) func(ctx context.Context, kind string, payload any) {
	return func(ctx context.Context, kind string, payload any) {
		for _, h := range hooks {
			if len(h.events) > 0 && !h.events[kind] {
				continue
			}
			dctx, cancel := context.WithTimeout(ctx, notifyTimeout)
			d, err := h.client.Send(dctx, kind, payload)
			cancel()
			if err != nil {
				log.Warn("webhook delivery failed", "webhook", h.name, "event", kind, "err", err)
				continue
			}
			log.Debug("webhook delivered", "webhook", h.name, "event", kind, "delivery", d.ID, "status", d.Status)
		}
	}
}

// ---- demo services ----------------------------------------------------------------------

// startDemoServices starts local fakes of Microsoft Graph, Okta, Defender for Endpoint,
// Falcon and a webhook receiver, seeded with the demo organisation's day and attack times,
// writes their credentials into files under secretDir (mode 0600) and returns the connector
// configuration that points at them, with a cleanup that stops them.
func startDemoServices(org *demo.Org, day, spray, consent, ransomware time.Time, secretDir string) (config.Connectors, func(), error) {
	if err := os.MkdirAll(secretDir, 0o700); err != nil {
		return config.Connectors{}, nil, fmt.Errorf("demo services: %w", err)
	}
	s := connectortest.Start(org, connectortest.WithDay(day), connectortest.WithScenarioTimes(spray, consent, ransomware))
	cc, err := demoConnectors(s, org, secretDir)
	if err != nil {
		s.Close()
		return config.Connectors{}, nil, err
	}
	return cc, s.Close, nil
}

func demoConnectors(s *connectortest.Servers, org *demo.Org, dir string) (config.Connectors, error) {
	var werr error
	file := func(name string, v connector.Secret) config.Secret {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v.Reveal()), 0o600); err != nil && werr == nil {
			werr = fmt.Errorf("demo services: write %s: %w", name, err)
		}
		return config.Secret{File: p}
	}
	gc, mc, fc := s.Graph.Credentials(), s.MDE.Credentials(), s.Falcon.Credentials()
	cc := config.Connectors{
		AllowPrivate: s.AllowList(),
		Graph: &config.Graph{TenantID: gc.TenantID, ClientID: gc.ClientID, ClientSecret: file("graph-client-secret", gc.ClientSecret),
			BaseURL: s.Graph.URL(), Authority: gc.Authority, UPNSuffix: org.DNS},
		Okta: &config.Okta{BaseURL: s.Okta.URL(), APIToken: file("okta-api-token", s.Okta.APIToken()), UPNSuffix: org.DNS},
		MDE: &config.MDE{TenantID: mc.TenantID, ClientID: mc.ClientID, ClientSecret: file("mde-client-secret", mc.ClientSecret),
			BaseURL: s.MDE.URL(), Authority: mc.Authority},
		Falcon: &config.Falcon{ClientID: fc.ClientID, ClientSecret: file("falcon-client-secret", fc.ClientSecret), BaseURL: s.Falcon.URL()},
		Webhooks: []config.Webhook{{
			Name: "demo-soar", URL: file("webhook-url", connector.Secret(s.Webhook.HookURL("soar"))),
			Secret: file("webhook-secret", s.Webhook.Secret()), Events: append([]string(nil), webhookEvents...),
		}},
	}
	return cc, werr
}

// Compile-time guards: the adapters provide the capabilities.
var (
	_ respond.Endpoint   = (*mdeEndpoint)(nil)
	_ respond.Endpoint   = (*falconEndpoint)(nil)
	_ respond.Indicators = mdeIndicators{}
	_ respond.Indicators = falconIndicators{}
	_ respond.Identity   = graphIdentity{}
	_ respond.Identity   = oktaIdentity{}
	_ respond.Grants     = graphGrants{}
	_ respond.Mail       = (*graphMail)(nil)
)
