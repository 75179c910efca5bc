package correlate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
)

// killChain orders ATT&CK tactics along an attack's progression.
var killChain = map[string]int{
	"TA0043": 0, "TA0042": 1, "TA0001": 2, "TA0002": 3, "TA0003": 4, "TA0004": 5, "TA0005": 6, "TA0006": 7,
	"TA0007": 8, "TA0008": 9, "TA0009": 10, "TA0011": 11, "TA0010": 12, "TA0040": 13,
}

// TacticNames gives ATT&CK tactic names for display.
var TacticNames = map[string]string{
	"TA0043": "reconnaissance", "TA0042": "resource development", "TA0001": "initial access", "TA0002": "execution",
	"TA0003": "persistence", "TA0004": "privilege escalation", "TA0005": "defense evasion", "TA0006": "credential access",
	"TA0007": "discovery", "TA0008": "lateral movement", "TA0009": "collection", "TA0011": "command and control",
	"TA0010": "exfiltration", "TA0040": "impact",
}

// stage returns the alert's furthest tactic along the kill chain and its rank (-1 when none).
func stage(a *event.Alert) (string, int) {
	best, rank := "", -1
	for _, t := range a.Tactics {
		if r, ok := killChain[t]; ok && r > rank {
			best, rank = t, r
		}
	}
	return best, rank
}

// lateralKinds are the edges that move an attack from one entity to another.
var lateralKinds = map[string]bool{
	EdgeLogon: true, EdgeExplicit: true, EdgeRemoteSvc: true, EdgeRemoteTask: true, EdgeSMB: true, EdgeWMI: true,
	EdgeSignIn: true, EdgeConsent: true, EdgeMailbox: true, EdgeCredentials: true,
}

// IncidentKeys returns the graph keys of an incident's entities (hosts in their short form).
func IncidentKeys(inc *event.Incident) []string {
	var keys []string
	seen := map[string]bool{}
	add := func(k string) {
		if k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, e := range inc.Entities {
		switch e.Kind {
		case event.EntityHost:
			add(HostKey(e.Value))
		case event.EntityUser:
			add(string(event.EntityUser) + ":" + event.CanonicalUser(e.Value, ""))
		case event.EntityIP:
			add(ipKey(e.Value))
		case event.EntityApp:
			add("app:" + strings.ToLower(e.Value))
		}
	}
	return keys
}

// BuildChain assembles an incident's attack chain from its alerts and the graph edges around
// it: steps in time and kill-chain order, each linked to an earlier step (by a lateral-movement
// edge, a shared account or host), the edges between the incident's entities, and the blast
// radius with what is still active at watermark.
func BuildChain(inc *event.Incident, alerts []event.Alert, edges []event.ChainEdge, watermark time.Time) *event.Chain {
	type stepAcc struct {
		step  event.ChainStep
		rank  int
		count int
	}
	byKey := map[string]*stepAcc{}
	var accs []*stepAcc
	for i := range alerts {
		a := &alerts[i]
		host := strings.TrimPrefix(HostKey(a.Host), "host:")
		key := a.RuleTitle + "|" + host
		if acc, ok := byKey[key]; ok {
			acc.count++
			if a.Time.Before(acc.step.Time) {
				acc.step.Time, acc.step.AlertID, acc.step.EventIDs = a.Time, a.ID, a.EventIDs
			}
			continue
		}
		tactic, rank := stage(a)
		tech := ""
		if len(a.Techniques) > 0 {
			tech = a.Techniques[0]
		}
		acc := &stepAcc{rank: rank, count: 1, step: event.ChainStep{Time: a.Time, Host: host, User: a.User, Tactic: tactic,
			Technique: tech, Title: a.RuleTitle, AlertID: a.ID, EventIDs: limitIDs(a.EventIDs, 20)}}
		byKey[key] = acc
		accs = append(accs, acc)
	}
	// Time order, with the kill chain breaking near-ties (alerts within the same minute).
	sort.SliceStable(accs, func(i, j int) bool {
		ti, tj := accs[i].step.Time.Truncate(time.Minute), accs[j].step.Time.Truncate(time.Minute)
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		if accs[i].rank != accs[j].rank {
			return accs[i].rank < accs[j].rank
		}
		return accs[i].step.Time.Before(accs[j].step.Time)
	})
	if len(accs) > 500 {
		accs = accs[:500]
	}
	ch := &event.Chain{Steps: make([]event.ChainStep, 0, len(accs)), Edges: []event.ChainEdge{}}
	for i, acc := range accs {
		st := acc.step
		st.Index = i + 1
		if acc.count > 1 {
			st.Title = fmt.Sprintf("%s (×%d)", st.Title, acc.count)
		}
		if i > 0 {
			st.Link = linkTo(ch.Steps, st, edges)
		}
		ch.Steps = append(ch.Steps, st)
	}
	keys := map[string]bool{}
	for _, k := range IncidentKeys(inc) {
		keys[k] = true
	}
	lo, hi := inc.FirstSeen.Add(-time.Hour), inc.LastSeen.Add(10*time.Minute)
	seenEdge := map[string]bool{}
	for _, e := range edges {
		if e.Time.Before(lo) || e.Time.After(hi) || !lateralKinds[e.Kind] {
			continue
		}
		if !keys[e.From] && !keys[e.To] {
			continue
		}
		k := e.From + "|" + e.To + "|" + e.Kind
		if seenEdge[k] {
			continue
		}
		seenEdge[k] = true
		if len(ch.Edges) < 200 {
			ch.Edges = append(ch.Edges, e)
		}
	}
	ch.Blast = blast(inc, alerts, ch.Edges, watermark)
	return ch
}

func limitIDs(ids []string, n int) []string {
	if len(ids) > n {
		return ids[:n]
	}
	return ids
}

// linkTo explains how a step connects to the steps before it.
func linkTo(prev []event.ChainStep, st event.ChainStep, edges []event.ChainEdge) string {
	host := "host:" + st.Host
	// A lateral-movement edge into this step's host from an earlier step's host.
	for i := len(prev) - 1; i >= 0; i-- {
		p := prev[i]
		if p.Host == st.Host || p.Host == "" {
			continue
		}
		for _, e := range edges {
			if e.To == host && e.From == "host:"+p.Host && lateralKinds[e.Kind] && !e.Time.Before(p.Time.Add(-time.Hour)) && !e.Time.After(st.Time.Add(time.Minute)) {
				as := ""
				if e.User != "" {
					as = " as " + e.User
				}
				return fmt.Sprintf("%s from %s%s (step %d)", e.Kind, p.Host, as, p.Index)
			}
		}
	}
	for i := len(prev) - 1; i >= 0; i-- {
		p := prev[i]
		switch {
		case st.Host != "" && p.Host == st.Host && st.User != "" && strings.EqualFold(p.User, st.User):
			return fmt.Sprintf("same host and account as step %d", p.Index)
		case st.User != "" && strings.EqualFold(p.User, st.User):
			return fmt.Sprintf("same account %s as step %d (on %s)", st.User, p.Index, orDash(p.Host))
		case st.Host != "" && p.Host == st.Host:
			return fmt.Sprintf("same host as step %d", p.Index)
		}
	}
	return "same attack window as step " + fmt.Sprint(prev[len(prev)-1].Index)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// blast lists every entity the attack touched and whether it is still active.
func blast(inc *event.Incident, alerts []event.Alert, edges []event.ChainEdge, watermark time.Time) []event.BlastEntity {
	last := map[string]time.Time{}
	kind := map[string]event.EntityKind{}
	note := func(k string, ek event.EntityKind, t time.Time) {
		if k == "" {
			return
		}
		if _, ok := kind[k]; !ok {
			kind[k] = ek
		}
		if t.After(last[k]) {
			last[k] = t
		}
	}
	for i := range alerts {
		a := &alerts[i]
		for _, e := range a.Entities {
			switch e.Kind {
			case event.EntityHost:
				note(HostKey(e.Value), event.EntityHost, a.Time)
			case event.EntityUser, event.EntityIP, event.EntityApp:
				note(string(e.Kind)+":"+e.Value, e.Kind, a.Time)
			}
		}
	}
	for _, e := range edges {
		for _, k := range []string{e.From, e.To} {
			ek, _, _ := strings.Cut(k, ":")
			switch event.EntityKind(ek) {
			case event.EntityHost, event.EntityUser, event.EntityIP, event.EntityApp, event.EntityMailbox:
				note(k, event.EntityKind(ek), e.Time)
			}
		}
	}
	if watermark.IsZero() {
		watermark = inc.LastSeen
	}
	out := make([]event.BlastEntity, 0, len(last))
	for k, t := range last {
		_, v, _ := strings.Cut(k, ":")
		out = append(out, event.BlastEntity{Entity: event.EntityRef{Kind: kind[k], Value: v}, LastSeen: t, Active: watermark.Sub(t) <= 30*time.Minute})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Entity.Kind != out[j].Entity.Kind {
			return out[i].Entity.Kind < out[j].Entity.Kind
		}
		return out[i].Entity.Value < out[j].Entity.Value
	})
	if len(out) > 300 {
		out = out[:300]
	}
	return out
}
