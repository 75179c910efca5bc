package app

import (
	"context"
	"time"

	"github.com/vigil-soc/vigil/internal/correlate"
	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/pipeline"
	"github.com/vigil-soc/vigil/internal/store"
)

// graphStage builds the entity graph from stored events (a second consumer of the events
// subject, beside detection) and persists its edges.
func (a *App) graphStage(ctx context.Context, msgs []pipeline.Msg) error {
	var edges []event.ChainEdge
	for _, m := range msgs {
		evs, err := pipeline.DecodeLines[event.Event](m.Data)
		if err != nil {
			return err
		}
		for i := range evs {
			edges = append(edges, a.graph.Add(&evs[i])...)
		}
	}
	return a.Store.PutEdges(ctx, edges)
}

// chainFor builds an incident's attack chain from its stored alerts and the graph.
func (a *App) chainFor(ctx context.Context, inc *event.Incident) (*event.Chain, error) {
	alerts, err := a.Store.ListAlerts(ctx, store.AlertQuery{Incident: inc.ID, Limit: 2000})
	if err != nil {
		return nil, err
	}
	keys := correlate.IncidentKeys(inc)
	from, to := inc.FirstSeen.Add(-time.Hour), inc.LastSeen.Add(10*time.Minute)
	edges := a.graph.Edges(keys, from, to)
	if h := a.graph.Horizon(); h.IsZero() || !from.After(h) {
		// Older parts of the graph live in the store.
		older, err := a.Store.EdgesOf(ctx, keys, from, to, 2000)
		if err != nil {
			return nil, err
		}
		edges = mergeEdges(older, edges)
	}
	return correlate.BuildChain(inc, alerts, edges, a.graph.Watermark()), nil
}

func mergeEdges(a, b []event.ChainEdge) []event.ChainEdge {
	seen := map[string]bool{}
	var out []event.ChainEdge
	for _, list := range [][]event.ChainEdge{a, b} {
		for _, e := range list {
			k := e.From + "|" + e.To + "|" + e.Kind + "|" + e.Time.String()
			if !seen[k] {
				seen[k] = true
				out = append(out, e)
			}
		}
	}
	return out
}

// refreshChains rebuilds the chains of open incidents whose entities gained graph edges, and
// publishes the changed incidents; it runs every interval until ctx ends (live chains).
func (a *App) refreshChains(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := a.refreshDirtyChains(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("chain refresh", "err", err)
		}
	}
}

func (a *App) refreshDirtyChains(ctx context.Context) error {
	dirty, all := a.graph.Dirty()
	if len(dirty) == 0 && !all {
		return nil
	}
	a.stateful.mu.Lock()
	var ids []string
	for _, inc := range a.stateful.cor.Open() {
		for _, k := range correlate.IncidentKeys(inc) {
			if all || dirty[k] {
				ids = append(ids, inc.ID)
				break
			}
		}
	}
	a.stateful.mu.Unlock()
	var changed []event.Incident
	for _, id := range ids {
		cur, err := a.Store.GetIncident(ctx, id)
		if err != nil {
			continue // not written yet
		}
		ch, err := a.chainFor(ctx, &cur)
		if err != nil {
			return err
		}
		up, err := a.Store.UpdateIncident(ctx, id, func(inc *event.Incident, exists bool) error {
			inc.Chain = ch
			inc.Updated = time.Now().UTC()
			return nil
		})
		if err != nil {
			return err
		}
		changed = append(changed, up)
	}
	return a.publishIncidents(ctx, "chains", changed)
}

func (a *App) publishIncidents(ctx context.Context, from string, incs []event.Incident) error {
	if len(incs) == 0 {
		return nil
	}
	encoded := make([][]byte, 0, len(incs))
	for i := range incs {
		js, err := jsonMarshal(&incs[i])
		if err != nil {
			return err
		}
		encoded = append(encoded, js)
	}
	return pipeline.PublishLines(ctx, a.Bus, pipeline.SubjectIncidents, event.NewID("m_"+from+"_"), encoded)
}

// rebuildChains rebuilds the chains of every open incident (end of an import or demo, once
// every stage is done).
func (a *App) rebuildChains(ctx context.Context) error {
	a.graph.Dirty()
	a.stateful.mu.Lock()
	var ids []string
	for _, inc := range a.stateful.cor.Open() {
		ids = append(ids, inc.ID)
	}
	a.stateful.mu.Unlock()
	for _, id := range ids {
		cur, err := a.Store.GetIncident(ctx, id)
		if err != nil {
			continue
		}
		ch, err := a.chainFor(ctx, &cur)
		if err != nil {
			return err
		}
		if _, err := a.Store.UpdateIncident(ctx, id, func(inc *event.Incident, exists bool) error {
			inc.Chain = ch
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}
