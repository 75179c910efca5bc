package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/investigate"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/ueba"
)

const nsInvestigation = "investigation"

// investigationMark records what an incident looked like when it was last investigated.
type investigationMark struct {
	Alerts    int       `json:"alerts"`
	At        time.Time `json:"at"`
	Signature string    `json:"signature"`
}

// ActionRequest asks the respond stage to run an action.
type ActionRequest struct {
	ID         string    `json:"id"`
	Incident   string    `json:"incident"`
	Action     string    `json:"action"` // revoke_sessions, contain_host, ...
	Target     string    `json:"target"` // entity key: user:..., host:..., app:..., ip:...
	Verdict    string    `json:"verdict"`
	Confidence float64   `json:"confidence"`
	Autonomy   string    `json:"autonomy"`
	Requested  time.Time `json:"requested"`
	By         string    `json:"by"`
}

// newInvestigator builds the investigator with the tools this deployment has.
func (a *App) newInvestigator() (*investigate.Investigator, error) {
	recipes, err := investigate.LoadRecipes(a.Cfg.Investigate.Recipes...)
	if err != nil {
		return nil, err
	}
	crit := map[string]string{}
	for _, h := range a.Cfg.Assets.High {
		crit[shortName(h)] = "high"
	}
	for _, h := range a.Cfg.Assets.Critical {
		crit[shortName(h)] = "critical"
	}
	var nets []netip.Prefix
	for _, n := range a.Cfg.Assets.InternalNets {
		if p, err := netip.ParsePrefix(n); err == nil {
			nets = append(nets, p)
		}
	}
	data := &investigate.Data{Store: a.Store, Criticality: crit, InternalNets: nets, Intel: a.intelLookup}
	if a.Detector != nil && a.Detector.Behavior() != nil {
		data.Behaviour = behaviourSummary(a.Detector.Behavior())
	}
	reg := investigate.NewRegistry(investigate.LocalTools(data)...)
	for _, t := range a.extraTools {
		reg.Add(t)
	}
	return investigate.New(investigate.Options{
		Tools: reg, Recipes: recipes, Evidence: a.Store, Log: a.Log.With("component", "investigate"),
		Budget:    investigate.Budget{MaxSteps: 60, MaxTime: 20 * time.Second, CallTimeout: 5 * time.Second},
		Injection: a.injection, Planner: a.planner, Audit: a.audit, EventTexts: a.eventTexts,
	}), nil
}

func shortName(h string) string {
	h = strings.ToLower(h)
	if i := strings.IndexByte(h, '.'); i > 0 {
		if _, err := netip.ParseAddr(h); err != nil {
			return h[:i]
		}
	}
	return h
}

// signature identifies incidents that are the same situation (same detections on the same
// entities), so that identical incidents share one investigation.
func signature(inc *event.Incident, alerts []event.Alert) string {
	titles := map[string]bool{}
	for _, a := range alerts {
		titles[a.RuleTitle] = true
	}
	var parts []string
	for t := range titles {
		parts = append(parts, t)
	}
	sort.Strings(parts)
	hosts := append([]string(nil), inc.Hosts...)
	users := append([]string(nil), inc.Users...)
	sort.Strings(hosts)
	sort.Strings(users)
	return event.DeriveID("sig_", strings.Join(parts, "|"), strings.Join(hosts, ","), strings.Join(users, ","))
}

// investigateStage investigates incidents that are new or changed since their last
// investigation and passes the recommended actions to the respond stage.
func (a *App) investigateStage(ctx context.Context, msgs []pipeline.Msg) error {
	latest := map[string]event.Incident{}
	for _, m := range msgs {
		incs, err := pipeline.DecodeLines[event.Incident](m.Data)
		if err != nil {
			return fmt.Errorf("message %s: %w", m.ID, err)
		}
		for _, inc := range incs {
			if cur, ok := latest[inc.ID]; !ok || inc.Version > cur.Version {
				latest[inc.ID] = inc
			}
		}
	}
	for id := range latest {
		if err := a.investigateOne(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// investigateOne investigates one incident if it needs it.
func (a *App) investigateOne(ctx context.Context, id string) error {
	inc, err := a.Store.GetIncident(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	if inc.MergedInto != "" || inc.Status == event.StatusClosed || inc.Status == event.StatusResolved || inc.Status == event.StatusMerged {
		return nil
	}
	var mark investigationMark
	if b, err := a.Store.GetState(ctx, nsInvestigation, id); err == nil {
		_ = json.Unmarshal(b, &mark)
	}
	if inc.Report != nil && mark.Alerts >= inc.AlertCount {
		return nil // nothing new since the last investigation
	}
	alerts, err := a.Store.ListAlerts(ctx, store.AlertQuery{Incident: id, Limit: 1000})
	if err != nil {
		return err
	}
	sig := signature(&inc, alerts)
	var out investigate.Outcome
	shared := ""
	if b, err := a.Store.GetState(ctx, nsInvestigation, sig); err == nil {
		var prev struct {
			Incident string    `json:"incident"`
			At       time.Time `json:"at"`
		}
		if json.Unmarshal(b, &prev) == nil && prev.Incident != id && time.Since(prev.At) < time.Hour {
			if other, err := a.Store.GetIncident(ctx, prev.Incident); err == nil && other.Report != nil {
				shared = prev.Incident
				out.Report = *other.Report
				out.Report.Summary = "Same detections on the same entities as " + prev.Incident + ", investigated " + prev.At.UTC().Format(time.RFC3339) + ": " + out.Report.Summary
				out.Recommended = other.Report.Recommended
				out.Autonomy = "human_review"
			}
		}
	}
	if shared == "" {
		out, err = a.investigator.Investigate(ctx, inc, alerts)
		if err != nil {
			return fmt.Errorf("investigate %s: %w", id, err)
		}
	}
	a.audit(ctx, "system:investigate", "investigation.verdict", id, map[string]any{
		"verdict": out.Report.Verdict, "confidence": out.Report.Confidence, "planner": out.Report.Planner, "steps": out.Steps,
		"autonomy": out.Autonomy, "injection": out.InjectionSignals, "recommended": out.Recommended, "shared_with": shared,
	})
	rep := out.Report
	updated, err := a.Store.UpdateIncident(ctx, id, func(cur *event.Incident, exists bool) error {
		if !exists {
			return store.ErrNotFound
		}
		cur.Report = &rep
		if cur.Status == event.StatusOpen {
			cur.Status = event.StatusInvestigating
		}
		cur.Updated = time.Now().UTC()
		return nil
	})
	if err != nil {
		return err
	}
	mark = investigationMark{Alerts: inc.AlertCount, At: time.Now().UTC(), Signature: sig}
	if b, err := json.Marshal(mark); err == nil {
		if err := a.Store.PutState(ctx, nsInvestigation, id, b); err != nil {
			return err
		}
	}
	if shared == "" {
		b, _ := json.Marshal(map[string]any{"incident": id, "at": time.Now().UTC()})
		if err := a.Store.PutState(ctx, nsInvestigation, sig, b); err != nil {
			return err
		}
	}
	// Recommend actions to the respond stage; it decides under policy.
	var reqs [][]byte
	for _, r := range out.Recommended {
		action, target, _ := strings.Cut(r, " ")
		req := ActionRequest{ID: event.DeriveID(event.PrefixAction, id, action, target), Incident: id, Action: action, Target: target,
			Verdict: rep.Verdict, Confidence: rep.Confidence, Autonomy: out.Autonomy, Requested: time.Now().UTC(), By: "system:investigate"}
		b, err := json.Marshal(req)
		if err != nil {
			return err
		}
		reqs = append(reqs, b)
	}
	if len(reqs) > 0 {
		if err := pipeline.PublishLines(ctx, a.Bus, pipeline.SubjectActions, event.DeriveID("m_", "investigate", id, fmt.Sprint(updated.Version)), reqs); err != nil {
			return err
		}
	}
	return nil
}

// eventTexts returns every string value of the stored events' raw records.
func (a *App) eventTexts(ctx context.Context, ids []string) []string {
	var out []string
	for _, id := range ids {
		ev, err := a.Store.GetEvent(ctx, id)
		if err != nil {
			continue
		}
		var v any
		if json.Unmarshal(ev.Raw, &v) != nil {
			out = append(out, string(ev.Raw)) // syslog, CEF: the line itself
			continue
		}
		collectStrings(v, &out)
	}
	return out
}

func collectStrings(v any, out *[]string) {
	switch x := v.(type) {
	case string:
		*out = append(*out, x)
	case map[string]any:
		for _, e := range x {
			collectStrings(e, out)
		}
	case []any:
		for _, e := range x {
			collectStrings(e, out)
		}
	}
}

// behaviourSummary gives investigators the behavioural profile of a user or host in one line.
func behaviourSummary(b *ueba.Detector) func(kind, name string) (string, any, bool) {
	return func(kind, name string) (string, any, bool) {
		var s ueba.Summary
		var ok bool
		switch kind {
		case "user":
			s, ok = b.UserSummary(name)
		case "host":
			s, ok = b.HostSummary(name)
		}
		if !ok {
			return "", nil, false
		}
		list := func(label string, v []string) string {
			if len(v) == 0 {
				return ""
			}
			return fmt.Sprintf("; %s %s", label, strings.Join(v, ", "))
		}
		since := s.FirstSeen.Format("2006-01-02")
		if kind == "user" {
			hours := make([]string, len(s.UsualHours))
			for i, h := range s.UsualHours {
				hours[i] = fmt.Sprintf("%02d", h)
			}
			return fmt.Sprintf("%d sign-ins since %s (peer group %s)%s%s%s%s%s", s.Logons, since, s.PeerGroup,
				list("usual hours (UTC)", hours), list("networks", s.Networks), list("countries", s.Countries),
				list("assets", s.Assets), list("privileged actions", s.Privileged)), s, true
		}
		return fmt.Sprintf("%d process starts since %s (peer group %s)%s%s", s.Processes, since, s.PeerGroup,
			list("usual lineages", s.Lineages[:min(5, len(s.Lineages))]), list("accounts", s.Users)), s, true
	}
}
