package investigate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// EvidenceStore keeps evidence durably. IDs are stable for a given incident, tool and input, so
// a restarted investigation finds the calls it already made and resumes after them.
type EvidenceStore interface {
	PutEvidence(ctx context.Context, ev []event.Evidence) error
	GetEvidence(ctx context.Context, id string) (event.Evidence, error)
	// MissingEvidence returns which of ids are not stored.
	MissingEvidence(ctx context.Context, ids []string) ([]string, error)
}

// Planner chooses tool calls in place of the recipes (an LLM); the investigator falls back to
// the recipes when it fails.
type Planner interface {
	// Name identifies the planner in reports ("llm:model").
	Name() string
	// Next returns the next read-only tool call, or done. The state carries what was found so
	// far; attacker-controlled text in it must only reach the model as delimited data.
	Next(ctx context.Context, st *State) (call Call, done bool, err error)
	// Summarize writes the report's summary from the state.
	Summarize(ctx context.Context, st *State) (string, error)
}

// Call is one tool invocation.
type Call struct {
	Tool  string         `json:"tool"`
	Input map[string]any `json:"input"`
}

// State is an investigation in progress.
type State struct {
	Incident *event.Incident
	Alerts   []event.Alert
	Calls    []CallRecord
	Findings []Finding
	// Tools lists the read-only tools a planner may choose from.
	Tools []Tool

	eventTexts []string
	// pending are tool results not yet stored and audited (written in batches: one transaction
	// and one audit entry per batch instead of one per call).
	pending      []event.Evidence
	pendingAudit []map[string]any
}

// flushEvery is how many tool calls are stored and audited together.
const flushEvery = 8

// flush stores and audits the pending tool results.
func (inv *Investigator) flush(ctx context.Context, st *State) error {
	if len(st.pending) == 0 {
		return nil
	}
	if err := inv.opts.Evidence.PutEvidence(context.WithoutCancel(ctx), st.pending); err != nil {
		return fmt.Errorf("store evidence: %w", err)
	}
	inv.opts.Audit(ctx, "system:investigate", "investigation.tool_calls", st.Incident.ID, map[string]any{"calls": st.pendingAudit})
	st.pending, st.pendingAudit = nil, nil // the audit hook may keep what it was given
	return nil
}

// CallRecord is a tool call made and its evidence.
type CallRecord struct {
	Call     Call
	Evidence string
	Result   Result
	Err      string
}

// Options configure an Investigator.
type Options struct {
	Tools    *Registry
	Recipes  []*Recipe
	Evidence EvidenceStore
	Budget   Budget
	// Planner, when set, plans before the recipes (an LLM); the recipes remain the fallback.
	Planner Planner
	// Injection flags attacker-controlled text that tries to instruct an AI.
	Injection func(text string) (suspicious bool, why []string)
	// EventTexts returns the attacker-controlled text (every string value of the raw records) of
	// stored events, for the injection detector: instructions planted in a log field lower the
	// incident's autonomy even when no tool result repeats them.
	EventTexts func(ctx context.Context, eventIDs []string) []string
	// Audit records every tool call (tool, input, evidence, error) in the audit trail.
	Audit func(ctx context.Context, actor, action, subject string, data any)
	Log   *slog.Logger
	Now   func() time.Time
}

// Investigator investigates incidents. It is safe for concurrent use.
type Investigator struct {
	opts Options
}

// New returns an Investigator.
func New(opts Options) *Investigator {
	opts.Budget.defaults()
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Audit == nil {
		opts.Audit = func(context.Context, string, string, string, any) {}
	}
	return &Investigator{opts: opts}
}

// Outcome is an investigation's result.
type Outcome struct {
	Report   event.Report
	Findings []Finding
	// Autonomy is "automatic" when response actions may run under policy without a human, or
	// "human_review" when something (prompt injection in the data, a weak verdict) asks for one.
	Autonomy string
	// InjectionSignals lists what the injection detector saw, if anything.
	InjectionSignals []string
	// Recommended are the response actions recommended, "action entity-key".
	Recommended []string
	Steps       int
	Elapsed     time.Duration
}

// Investigate runs an investigation of inc.
func (inv *Investigator) Investigate(ctx context.Context, inc event.Incident, alerts []event.Alert) (Outcome, error) {
	start := inv.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, inv.opts.Budget.MaxTime)
	defer cancel()
	st := &State{Incident: &inc, Alerts: alerts}
	for _, n := range inv.opts.Tools.Names() {
		t, _ := inv.opts.Tools.Get(n)
		st.Tools = append(st.Tools, t)
	}
	var evidence []event.Evidence
	base := inv.baseEvidence(&inc, alerts)
	evidence = append(evidence, base...)
	if err := inv.opts.Evidence.PutEvidence(ctx, base); err != nil {
		return Outcome{}, fmt.Errorf("store alert evidence: %w", err)
	}
	planner := "deterministic"
	if p := inv.opts.Planner; p != nil {
		// The planner gets half the time, so that the recipes always have the rest.
		pctx, cancel := context.WithTimeout(ctx, inv.opts.Budget.MaxTime/2)
		err := inv.runPlanner(pctx, p, st, &evidence)
		cancel()
		if errors.Is(err, ErrBudget) && len(st.Calls) > 0 {
			err = nil // the step budget ran out; the calls made stand
		}
		if err != nil {
			inv.opts.Log.Warn("planner failed; falling back to recipes", "planner", p.Name(), "incident", inc.ID, "err", err)
		} else {
			planner = p.Name()
		}
	}
	if err := inv.runRecipes(ctx, st, &evidence); err != nil && !errors.Is(err, ErrBudget) {
		return Outcome{}, err
	}
	if err := inv.flush(ctx, st); err != nil {
		return Outcome{}, err
	}
	if inv.opts.EventTexts != nil {
		var ids []string
		seen := map[string]bool{}
		for i := range alerts {
			for _, id := range alerts[i].EventIDs {
				if !seen[id] && len(ids) < 100 {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
		st.eventTexts = inv.opts.EventTexts(ctx, ids)
	}
	out := inv.conclude(st, evidence)
	out.Report.Planner = planner
	// The model's summary never replaces one that warns of instructions planted in the data.
	if p := inv.opts.Planner; p != nil && planner != "deterministic" && len(out.InjectionSignals) == 0 {
		if s, err := p.Summarize(ctx, st); err == nil && strings.TrimSpace(s) != "" {
			out.Report.Summary = s
		}
	}
	// Every cited evidence ID must exist before the report is saved.
	if err := inv.checkCitations(ctx, &out.Report); err != nil {
		return Outcome{}, err
	}
	out.Steps = len(st.Calls)
	out.Elapsed = inv.opts.Now().Sub(start)
	return out, nil
}

// baseEvidence records the incident's alerts and their first events as evidence.
func (inv *Investigator) baseEvidence(inc *event.Incident, alerts []event.Alert) []event.Evidence {
	var out []event.Evidence
	now := inv.opts.Now().UTC()
	seen := map[string]bool{}
	for i := range alerts {
		a := &alerts[i]
		key := a.RuleTitle + "|" + a.Host
		if seen[key] || len(out) >= 60 {
			continue
		}
		seen[key] = true
		out = append(out, event.Evidence{ID: event.DeriveID(event.PrefixEvidence, inc.ID, "alert", a.ID), IncidentID: inc.ID, Kind: "alert", AlertID: a.ID,
			Summary: fmt.Sprintf("alert %q on %s at %s", a.RuleTitle, orDash(a.Host), a.Time.UTC().Format(time.RFC3339)), Created: now})
		for j, id := range a.EventIDs {
			if j == 3 {
				break
			}
			out = append(out, event.Evidence{ID: event.DeriveID(event.PrefixEvidence, inc.ID, "event", id), IncidentID: inc.ID, Kind: "event", EventID: id, AlertID: a.ID,
				Summary: fmt.Sprintf("event %s that raised %q", id, a.RuleTitle), Created: now})
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// entities returns the incident's entities of a kind, for for_each steps.
func entities(inc *event.Incident, alerts []event.Alert, kind string, limit int) []string {
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		v = strings.TrimSpace(v)
		if v != "" && !seen[v] && (limit <= 0 || len(out) < limit) {
			seen[v] = true
			out = append(out, v)
		}
	}
	switch kind {
	case "host":
		for _, h := range inc.Hosts {
			add(h)
		}
	case "user":
		for _, u := range inc.Users {
			add(u)
		}
	case "ip", "app":
		for _, e := range inc.Entities {
			if string(e.Kind) == kind {
				add(e.Value)
			}
		}
		for i := range alerts {
			if kind == "ip" {
				add(alerts[i].SrcIP)
				add(alerts[i].DstIP)
			}
			for _, e := range alerts[i].Entities {
				if string(e.Kind) == kind {
					add(e.Value)
				}
			}
		}
	case "alert":
		titles := map[string]bool{}
		for i := range alerts {
			if !titles[alerts[i].RuleTitle+alerts[i].Host] {
				titles[alerts[i].RuleTitle+alerts[i].Host] = true
				add(alerts[i].ID)
			}
		}
	case "incident":
		add(inc.ID)
	}
	return out
}

// runRecipes runs the steps of every recipe that applies, in priority order.
func (inv *Investigator) runRecipes(ctx context.Context, st *State, evidence *[]event.Evidence) error {
	for _, r := range inv.opts.Recipes {
		if !r.Applies(st.Incident, st.Alerts) {
			continue
		}
		for _, step := range r.Steps {
			if step.When != nil && !holds(step.When, st.Findings) {
				continue
			}
			targets := []string{""}
			if step.ForEach != "" {
				targets = entities(st.Incident, st.Alerts, step.ForEach, step.Limit)
			}
			for _, target := range targets {
				input := map[string]any{"incident": st.Incident.ID}
				for k, v := range step.Args {
					input[k] = v
				}
				if step.ForEach != "" && step.ForEach != "incident" {
					input[step.ForEach] = target
				}
				if err := inv.call(ctx, st, Call{Tool: step.Tool, Input: input}, evidence); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func holds(c *Condition, fs []Finding) bool {
	has := func(n string) bool {
		for _, f := range fs {
			if f.Name == n {
				return true
			}
		}
		return false
	}
	if c.Finding != "" && !has(c.Finding) {
		return false
	}
	if c.NotFinding != "" && has(c.NotFinding) {
		return false
	}
	return true
}

// runPlanner lets the planner choose calls until it is done or the budget ends.
func (inv *Investigator) runPlanner(ctx context.Context, p Planner, st *State, evidence *[]event.Evidence) error {
	for len(st.Calls) < inv.opts.Budget.MaxSteps {
		c, done, err := p.Next(ctx, st)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if _, ok := inv.opts.Tools.Get(c.Tool); !ok {
			return fmt.Errorf("planner chose %q: %w", c.Tool, ErrUnknownTool)
		}
		if c.Input == nil {
			c.Input = map[string]any{}
		}
		c.Input["incident"] = st.Incident.ID
		for _, r := range st.Calls {
			if r.Call.Tool == c.Tool && sameInput(r.Call.Input, c.Input) {
				return fmt.Errorf("planner repeated the call %s: %w", c.Tool, ErrBudget)
			}
		}
		if err := inv.call(ctx, st, c, evidence); err != nil {
			return err
		}
	}
	return ErrBudget
}

// call runs one tool call (or reuses the evidence of the same call made before a restart) and
// records its result.
func (inv *Investigator) call(ctx context.Context, st *State, c Call, evidence *[]event.Evidence) error {
	for _, r := range st.Calls {
		if r.Call.Tool == c.Tool && sameInput(r.Call.Input, c.Input) {
			return nil // already made in this investigation
		}
	}
	if len(st.Calls) >= inv.opts.Budget.MaxSteps {
		return ErrBudget
	}
	if ctx.Err() != nil {
		return ErrBudget
	}
	tool, ok := inv.opts.Tools.Get(c.Tool)
	if !ok {
		// A recipe naming a tool this deployment lacks (no identity provider configured, say)
		// is skipped, not fatal.
		return nil
	}
	in, _ := json.Marshal(c.Input)
	id := event.DeriveID(event.PrefixEvidence, st.Incident.ID, "tool", c.Tool, string(in))
	rec := CallRecord{Call: c, Evidence: id}
	if prev, err := inv.opts.Evidence.GetEvidence(ctx, id); err == nil {
		// Resumed: the call was made before; reuse its result.
		if b, err := json.Marshal(prev.Data); err == nil {
			_ = json.Unmarshal(b, &rec.Result)
		}
		st.Calls = append(st.Calls, rec)
		st.Findings = append(st.Findings, withEvidence(rec.Result.Findings, id)...)
		*evidence = append(*evidence, prev)
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, inv.opts.Budget.CallTimeout)
	res, err := tool.Call(cctx, c.Input)
	cancel()
	if err != nil {
		rec.Err = err.Error()
		res = Result{Summary: fmt.Sprintf("%s failed: %v", c.Tool, err)}
	}
	rec.Result = res
	ev := event.Evidence{ID: id, IncidentID: st.Incident.ID, Kind: "tool", Tool: c.Tool, Input: c.Input, Summary: res.Summary, Data: res, Created: inv.opts.Now().UTC()}
	st.pending = append(st.pending, ev)
	st.pendingAudit = append(st.pendingAudit, map[string]any{"tool": c.Tool, "input": c.Input, "evidence": id, "error": rec.Err, "findings": len(res.Findings)})
	if len(st.pending) >= flushEvery {
		if err := inv.flush(ctx, st); err != nil {
			return err
		}
	}
	st.Calls = append(st.Calls, rec)
	st.Findings = append(st.Findings, withEvidence(res.Findings, id)...)
	*evidence = append(*evidence, ev)
	return nil
}

func withEvidence(fs []Finding, id string) []Finding {
	out := make([]Finding, len(fs))
	for i, f := range fs {
		f.evidence = id
		out[i] = f
	}
	return out
}

func sameInput(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// conclude turns the findings into a verdict, a confidence and the report.
func (inv *Investigator) conclude(st *State, evidence []event.Evidence) Outcome {
	inc := st.Incident
	// The strongest finding per name and entity counts once.
	best := map[string]Finding{}
	for _, f := range st.Findings {
		k := f.Name + "|" + f.Entity
		if cur, ok := best[k]; !ok || math.Abs(f.Weight) > math.Abs(cur.Weight) {
			best[k] = f
		}
	}
	findings := make([]Finding, 0, len(best))
	for _, f := range best {
		findings = append(findings, f)
	}
	sort.Slice(findings, func(i, j int) bool {
		if math.Abs(findings[i].Weight) != math.Abs(findings[j].Weight) {
			return math.Abs(findings[i].Weight) > math.Abs(findings[j].Weight)
		}
		return findings[i].Name+findings[i].Entity < findings[j].Name+findings[j].Entity
	})
	prior := 0.0
	if inc.Score > 0 {
		prior = 0.5 * math.Log(math.Max(inc.Score, 0.01)/math.Max(1-inc.Score, 0.01))
	}
	z := prior
	malicious, benign := 0, 0
	for _, f := range findings {
		z += f.Weight
		switch {
		case f.Weight > 0:
			malicious++
		case f.Weight < 0:
			benign++
		}
	}
	p := 1 / (1 + math.Exp(-z))
	verdict := event.VerdictNeedsHuman
	conf := math.Max(p, 1-p)
	switch {
	case p >= 0.8 && malicious > 0:
		verdict = event.VerdictTruePositive
	case p <= 0.2 && benign > 0:
		// Never a false positive without tool evidence for it.
		verdict = event.VerdictFalsePositive
		for _, f := range findings {
			if f.Weight < 0 && f.Name == "authorized_activity" {
				verdict = event.VerdictBenignTruePositive
				break
			}
		}
	default:
		conf = 1 - math.Abs(p-0.5)*2 // unsure
	}
	out := Outcome{Findings: findings, Autonomy: "automatic"}
	if verdict != event.VerdictTruePositive || conf < 0.9 {
		out.Autonomy = "human_review"
	}
	// Attacker-controlled text that tries to instruct an AI lowers autonomy; it does not change
	// the verdict.
	if inv.opts.Injection != nil {
		for _, s := range injectionTexts(st) {
			if bad, why := inv.opts.Injection(s); bad {
				out.Autonomy = "human_review"
				out.InjectionSignals = append(out.InjectionSignals, why...)
			}
		}
	}
	rep := event.Report{Verdict: verdict, Confidence: round3(conf), Created: inv.opts.Now().UTC()}
	rep.Evidence = evidence
	// Steps: what was detected, then the findings that decided it.
	var alertEv []string
	for _, e := range evidence {
		if e.Kind == "alert" && len(alertEv) < 5 {
			alertEv = append(alertEv, e.ID)
		}
	}
	rep.Steps = append(rep.Steps, event.ReportStep{Text: fmt.Sprintf("vigil raised %d alerts on %s (%s).", inc.AlertCount, describeEntities(inc), tacticList(inc.Tactics)), Evidence: alertEv})
	for _, f := range findings {
		if math.Abs(f.Weight) < 0.3 || len(rep.Steps) >= 25 {
			continue
		}
		kind := "supports a true positive"
		if f.Weight < 0 {
			kind = "points to benign activity"
		}
		rep.Steps = append(rep.Steps, event.ReportStep{Text: fmt.Sprintf("%s (%s, weight %+.1f).", f.Detail, kind, f.Weight), Evidence: []string{f.evidence}})
	}
	rep.Steps = append(rep.Steps, event.ReportStep{Text: fmt.Sprintf("Verdict %s with confidence %.2f from %d findings for and %d against.", verdict, conf, malicious, benign), Evidence: evidenceOf(findings, 5)})
	if len(out.InjectionSignals) > 0 {
		rep.Steps = append(rep.Steps, event.ReportStep{Text: "Attacker-controlled data contains text aimed at an AI assistant (" + strings.Join(unique(out.InjectionSignals), "; ") + "); it was treated as data, and automatic response is disabled for this incident.", Evidence: alertEv})
	}
	if inc.Chain != nil {
		rep.Timeline = inc.Chain.Steps
	}
	rep.Affected = inc.Entities
	out.Recommended = recommend(verdict, findings, inv.opts.Recipes, st)
	rep.Recommended = out.Recommended
	rep.Summary = summary(inc, verdict, conf, findings, out)
	out.Report = rep
	return out
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func evidenceOf(fs []Finding, n int) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range fs {
		if f.evidence != "" && !seen[f.evidence] && len(out) < n {
			seen[f.evidence] = true
			out = append(out, f.evidence)
		}
	}
	return out
}

func unique(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func describeEntities(inc *event.Incident) string {
	var parts []string
	if len(inc.Hosts) > 0 {
		parts = append(parts, fmt.Sprintf("%d host(s) %s", len(inc.Hosts), strings.Join(firstN(inc.Hosts, 3), ", ")))
	}
	if len(inc.Users) > 0 {
		parts = append(parts, fmt.Sprintf("%d account(s) %s", len(inc.Users), strings.Join(firstN(inc.Users, 3), ", ")))
	}
	if len(parts) == 0 {
		return "the environment"
	}
	return strings.Join(parts, " and ")
}

func firstN(xs []string, n int) []string {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

var tacticNames = map[string]string{
	"TA0043": "reconnaissance", "TA0042": "resource development", "TA0001": "initial access", "TA0002": "execution",
	"TA0003": "persistence", "TA0004": "privilege escalation", "TA0005": "defense evasion", "TA0006": "credential access",
	"TA0007": "discovery", "TA0008": "lateral movement", "TA0009": "collection", "TA0011": "command and control",
	"TA0010": "exfiltration", "TA0040": "impact",
}

func tacticList(ts []string) string {
	var names []string
	for _, t := range ts {
		if n, ok := tacticNames[t]; ok {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "no ATT&CK tactic"
	}
	return strings.Join(names, ", ")
}

// recommend derives the recommended actions from the findings (which name the actions they
// support) and the recipes' defaults for the verdict.
func recommend(verdict string, fs []Finding, recipes []*Recipe, st *State) []string {
	if verdict != event.VerdictTruePositive && verdict != event.VerdictNeedsHuman {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, f := range fs {
		if f.Weight <= 0 {
			continue
		}
		for _, a := range f.Actions {
			add(a)
		}
	}
	if verdict != event.VerdictTruePositive {
		return out
	}
	for _, r := range recipes {
		if !r.Applies(st.Incident, st.Alerts) {
			continue
		}
		for _, rec := range r.Recommend {
			if rec.Verdict != verdict || rec.Finding != "" && !holds(&Condition{Finding: rec.Finding}, fs) {
				continue
			}
			for _, a := range rec.Actions {
				name, kind, _ := strings.Cut(a, " ")
				if kind == "" {
					add(name)
					continue
				}
				for _, v := range entities(st.Incident, st.Alerts, kind, 10) {
					if kind == "host" {
						if !hostImplicated(v, st.Alerts) {
							continue
						}
						v = shortHost(v)
					}
					add(name + " " + kind + ":" + v)
				}
			}
		}
	}
	kept := out[:0]
	for _, a := range out {
		if _, target, _ := strings.Cut(a, " "); strings.HasPrefix(target, "user:") && !actionableAccount(strings.TrimPrefix(target, "user:")) {
			continue
		}
		kept = append(kept, a)
	}
	return kept
}

// actionableAccount reports whether an account may be the target of an account action: machine
// accounts (NAME$) and the built-in service identities are not people, and disabling or resetting
// them would take a host or a domain controller down rather than stop an attacker.
func actionableAccount(u string) bool { return !event.BuiltinAccount(u) }

// hostImplicated reports whether a recipe's host action may name host: an incident host only
// seen through informational or low alerts (a logoff, a policy change) is context, not a target.
// Hosts that findings name directly (lateral movement, an indicator contact) are added by the
// findings themselves.
func hostImplicated(host string, alerts []event.Alert) bool {
	h := shortHost(host)
	seen := false
	for i := range alerts {
		if shortHost(alerts[i].Host) != h {
			continue
		}
		seen = true
		if alerts[i].Severity >= event.SeverityMedium {
			return true
		}
	}
	return !seen // a host the alerts do not carry (an entity from the graph): keep the recipe's choice
}

func summary(inc *event.Incident, verdict string, conf float64, fs []Finding, out Outcome) string {
	var b strings.Builder
	switch verdict {
	case event.VerdictTruePositive:
		fmt.Fprintf(&b, "Likely malicious (confidence %.0f%%): ", 100*conf)
	case event.VerdictFalsePositive:
		fmt.Fprintf(&b, "Likely a false positive (confidence %.0f%%): ", 100*conf)
	case event.VerdictBenignTruePositive:
		fmt.Fprintf(&b, "Real but authorised activity (confidence %.0f%%): ", 100*conf)
	default:
		b.WriteString("Needs an analyst: ")
	}
	fmt.Fprintf(&b, "%s on %s.", inc.Title, describeEntities(inc))
	n := 0
	for _, f := range fs {
		if n == 3 || math.Abs(f.Weight) < 0.5 {
			continue
		}
		if n == 0 {
			b.WriteString(" Key findings: ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Detail)
		n++
	}
	if n > 0 {
		b.WriteString(".")
	}
	if len(out.Recommended) > 0 {
		fmt.Fprintf(&b, " Recommended: %s.", strings.Join(firstN(out.Recommended, 6), ", "))
	}
	if len(out.InjectionSignals) > 0 {
		b.WriteString(" The data holds text that tries to instruct an AI; it was ignored and the incident needs human review.")
	}
	return b.String()
}

// injectionTexts returns the attacker-controlled text of the investigation, one string per
// field value: the alerts' matched values and messages, and every string in the tool results'
// data (events' command lines, user agents, application names...). Tool summaries are vigil's
// own words and are left out. Short tokens cannot carry an instruction and repeats are
// examined once.
func injectionTexts(st *State) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if len(s) < 16 || !strings.ContainsRune(s, ' ') || seen[s] || len(out) >= 5000 {
			return
		}
		seen[s] = true
		out = append(out, s)
	}
	for i := range st.Alerts {
		for _, m := range st.Alerts[i].Matches {
			add(m.Value)
		}
		add(st.Alerts[i].Message)
	}
	for _, s := range st.eventTexts {
		add(s)
	}
	for _, c := range st.Calls {
		b, err := json.Marshal(c.Result.Data)
		if err != nil {
			continue
		}
		var v any
		if json.Unmarshal(b, &v) == nil {
			walkStrings(v, add)
		}
	}
	return out
}

func walkStrings(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case map[string]any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	case []any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	}
}

// checkCitations verifies that every evidence ID the report cites, and every evidence item it
// lists, exists in the evidence store (not merely in memory).
func (inv *Investigator) checkCitations(ctx context.Context, rep *event.Report) error {
	where := map[string]string{}
	var ids []string
	for i, s := range rep.Steps {
		for _, id := range s.Evidence {
			if _, ok := where[id]; !ok {
				where[id] = fmt.Sprintf("report step %d", i+1)
				ids = append(ids, id)
			}
		}
	}
	for _, e := range rep.Evidence {
		if _, ok := where[e.ID]; !ok {
			where[e.ID] = "the report's evidence list"
			ids = append(ids, e.ID)
		}
	}
	missing, err := inv.opts.Evidence.MissingEvidence(ctx, ids)
	if err != nil {
		return fmt.Errorf("check the report's evidence: %w", err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s cites evidence %s that is not stored (%d missing)", where[missing[0]], missing[0], len(missing))
	}
	return nil
}
