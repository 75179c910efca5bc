package intel

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// stixObject holds the fields of the STIX objects the loader reads (indicator, relationship,
// and the domain objects relationships lead to).
type stixObject struct {
	Type               string              `json:"type"`
	ID                 string              `json:"id"`
	SpecVersion        string              `json:"spec_version"`
	Created            string              `json:"created"`
	Modified           string              `json:"modified"`
	CreatedByRef       string              `json:"created_by_ref"`
	Revoked            bool                `json:"revoked"`
	Labels             []string            `json:"labels"`
	Confidence         *int                `json:"confidence"`
	Name               string              `json:"name"`
	Description        string              `json:"description"`
	Aliases            []string            `json:"aliases"`
	IndicatorTypes     []string            `json:"indicator_types"`
	Pattern            string              `json:"pattern"`
	PatternType        string              `json:"pattern_type"`
	ValidFrom          string              `json:"valid_from"`
	ValidUntil         string              `json:"valid_until"`
	KillChainPhases    []KillChainPhase    `json:"kill_chain_phases"`
	ExternalReferences []ExternalReference `json:"external_references"`
	RelationshipType   string              `json:"relationship_type"`
	SourceRef          string              `json:"source_ref"`
	TargetRef          string              `json:"target_ref"`
}

// stixEntry is an object with where it was read and its parsed modification time.
type stixEntry struct {
	obj      stixObject
	entry    string
	modified time.Time
}

// stixRead gathers a bundle's objects; indicators are built once relationships are known.
type stixRead struct {
	order      []string              // indicator ids, first appearance
	indicators map[string]*stixEntry // latest version by id
	objects    map[string]*stixEntry // domain objects by id
	rels       map[string]*stixEntry // relationships by id
}

// readSTIX reads a STIX bundle ({"type":"bundle","objects":[…]}), a TAXII envelope
// ({"objects":[…]}) or a bare array of objects.
func (fr *feedReader) readSTIX(r io.Reader) error {
	js := newJSONStream(r, fr.file)
	sr := &stixRead{indicators: map[string]*stixEntry{}, objects: map[string]*stixEntry{}, rels: map[string]*stixEntry{}}
	d, _, err := js.delim()
	if err != nil {
		return err
	}
	objects := func() error {
		return js.array(func(i int) error {
			if err := fr.entry(); err != nil {
				return err
			}
			raw, err := js.raw()
			if err != nil {
				return err
			}
			fr.stixObject(sr, i, raw)
			return nil
		})
	}
	switch d {
	case '[':
		err = objects()
	case '{':
		found := false
		err = js.object(func(key string) error {
			if key != "objects" {
				return js.skip()
			}
			ok, err := js.expectArray()
			if err != nil || !ok {
				return err
			}
			found = true
			return objects()
		})
		if err == nil && !found {
			err = &EntryError{File: fr.file, Err: fmt.Errorf("%w: no \"objects\" array: not a STIX bundle", ErrFormat)}
		}
	default:
		err = &EntryError{File: fr.file, Err: fmt.Errorf("%w: not a STIX bundle", ErrFormat)}
	}
	// What was read before a structural error still loads.
	fr.stixIndicators(sr)
	return err
}

// stixObject files one object of the bundle.
func (fr *feedReader) stixObject(sr *stixRead, i int, raw json.RawMessage) {
	var o stixObject
	err := json.Unmarshal(raw, &o)
	if err != nil && o.ID == "" {
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &id) // best effort: only names the entry
		o.ID = id.ID
	}
	entry := fmt.Sprintf("objects[%d]", i)
	if o.ID != "" {
		entry += " (" + clip(o.ID) + ")"
	}
	if err != nil {
		fr.fail(entry, fmt.Errorf("%w: %v", ErrMalformed, err))
		return
	}
	if o.Type == "" || o.ID == "" {
		fr.fail(entry, malformedf("object without type or id"))
		return
	}
	modified, err := stixTime(o.Modified, o.Created)
	if err != nil {
		fr.fail(entry, err)
		return
	}
	e := &stixEntry{obj: o, entry: entry, modified: modified}
	var into map[string]*stixEntry
	switch o.Type {
	case "indicator":
		into = sr.indicators
		if _, ok := into[o.ID]; !ok {
			sr.order = append(sr.order, o.ID)
		}
	case "relationship":
		into = sr.rels
	case "malware", "tool", "threat-actor", "intrusion-set", "campaign", "attack-pattern", "infrastructure", "identity":
		into = sr.objects
	default:
		return
	}
	// STIX versioning: the latest "modified" wins; a later copy wins a tie.
	if prev, ok := into[o.ID]; ok && prev.modified.After(modified) {
		return
	}
	into[o.ID] = e
}

// stixTime reads the first non-empty STIX timestamp of ts (zero when none).
func stixTime(ts ...string) (time.Time, error) {
	for _, s := range ts {
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, malformedf("timestamp %q is not RFC 3339", clip(s))
		}
		return t.UTC(), nil
	}
	return time.Time{}, nil
}

// stixIndicators turns the bundle's indicators into the source's indicators.
func (fr *feedReader) stixIndicators(sr *stixRead) {
	g := newSTIXGraph(sr)
	for _, id := range sr.order {
		e := sr.indicators[id]
		o := &e.obj
		pt := strings.ToLower(o.PatternType)
		if pt != "" && pt != "stix" {
			fr.skipped++ // snort, yara, sigma, … patterns are for other engines
			continue
		}
		if strings.TrimSpace(o.Pattern) == "" {
			fr.fail(e.entry, malformedf("indicator without a pattern"))
			continue
		}
		p, err := ParsePattern(o.Pattern)
		if err != nil {
			fr.fail(e.entry, err)
			continue
		}
		from, err := stixTime(o.ValidFrom)
		if err != nil {
			fr.fail(e.entry, fmt.Errorf("valid_from: %w", err))
			continue
		}
		until, err := stixTime(o.ValidUntil)
		if err != nil {
			fr.fail(e.entry, fmt.Errorf("valid_until: %w", err))
			continue
		}
		conf := 0
		if o.Confidence != nil {
			if *o.Confidence < 0 || *o.Confidence > 100 {
				fr.fail(e.entry, malformedf("confidence %d is not 0-100", *o.Confidence))
				continue
			}
			conf = *o.Confidence
		}
		ind := Indicator{
			ID:          o.ID,
			Pattern:     o.Pattern,
			Name:        o.Name,
			Description: o.Description,
			Confidence:  conf,
			Labels:      appendUnique(appendUnique(nil, o.Labels...), o.IndicatorTypes...),
			CreatedBy:   g.name(o.CreatedByRef),
			KillChain:   o.KillChainPhases,
			References:  o.ExternalReferences,
			ValidFrom:   from,
			LastSeen:    e.modified,
			ValidUntil:  until,
			Revoked:     o.Revoked,
		}
		ind.Related, ind.Malware, ind.Actors = g.related(o.ID)
		if !fr.addPattern(ind, p) {
			fr.skipped++
		}
	}
}

// stixGraph is a bundle's relationships, both ways.
type stixGraph struct {
	objects  map[string]*stixEntry
	out, in  map[string][]*stixObject
	maxDepth int
}

func newSTIXGraph(sr *stixRead) *stixGraph {
	g := &stixGraph{objects: sr.objects, out: map[string][]*stixObject{}, in: map[string][]*stixObject{}, maxDepth: 3}
	ids := make([]string, 0, len(sr.rels))
	for id := range sr.rels {
		ids = append(ids, id)
	}
	slices.Sort(ids) // deterministic order of related objects
	for _, id := range ids {
		r := &sr.rels[id].obj
		if r.Revoked || r.SourceRef == "" || r.TargetRef == "" {
			continue
		}
		g.out[r.SourceRef] = append(g.out[r.SourceRef], r)
		g.in[r.TargetRef] = append(g.in[r.TargetRef], r)
	}
	return g
}

// name returns an object's name, or its id when the bundle does not hold it.
func (g *stixGraph) name(id string) string {
	if id == "" {
		return ""
	}
	if e, ok := g.objects[id]; ok && e.obj.Name != "" {
		return e.obj.Name
	}
	return id
}

func typeOfID(id string) string {
	t, _, _ := strings.Cut(id, "--")
	return t
}

// related follows an indicator's relationships: what it indicates, and from there who wrote,
// uses or is credited with it ("attributed-to", "authored-by", "uses" taken backwards), up to
// three steps.
func (g *stixGraph) related(id string) (rel []Related, malware, actors []string) {
	type step struct {
		id, via string
		depth   int
	}
	var queue []step
	for _, r := range g.out[id] {
		if r.RelationshipType == "indicates" {
			queue = append(queue, step{r.TargetRef, "indicates", 1})
		}
	}
	seen := map[string]bool{id: true}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if seen[s.id] {
			continue
		}
		seen[s.id] = true
		typ := typeOfID(s.id)
		name := ""
		if e, ok := g.objects[s.id]; ok {
			typ, name = e.obj.Type, e.obj.Name
			if e.obj.Revoked {
				continue
			}
		}
		rel = append(rel, Related{ID: s.id, Type: typ, Name: name, Via: s.via})
		switch typ {
		case "malware", "tool":
			malware = appendUnique(malware, name)
		case "threat-actor", "intrusion-set":
			actors = appendUnique(actors, name)
		}
		if s.depth >= g.maxDepth {
			continue
		}
		for _, r := range g.out[s.id] {
			switch r.RelationshipType {
			case "attributed-to", "authored-by":
				queue = append(queue, step{r.TargetRef, s.via + "/" + r.RelationshipType, s.depth + 1})
			}
		}
		for _, r := range g.in[s.id] {
			switch typeOfID(r.SourceRef) {
			case "threat-actor", "intrusion-set", "campaign":
				if r.RelationshipType == "uses" {
					queue = append(queue, step{r.SourceRef, s.via + "/used-by", s.depth + 1})
				}
			}
		}
	}
	return rel, malware, actors
}
