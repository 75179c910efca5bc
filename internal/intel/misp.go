package intel

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// mispAttribute is a MISP attribute as events and restSearch responses carry it.
type mispAttribute struct {
	UUID      flexString    `json:"uuid"`
	Type      string        `json:"type"`
	Category  string        `json:"category"`
	Value     flexString    `json:"value"`
	ToIDS     flexBool      `json:"to_ids"`
	Timestamp flexString    `json:"timestamp"`
	Comment   string        `json:"comment"`
	Deleted   flexBool      `json:"deleted"`
	FirstSeen flexString    `json:"first_seen"`
	LastSeen  flexString    `json:"last_seen"`
	Tag       []mispTag     `json:"Tag"`
	Galaxy    []mispGalaxy  `json:"Galaxy"`
	Event     *mispEventCtx `json:"Event"` // attributes restSearch: the attribute's event
}

type mispTag struct {
	Name string `json:"name"`
}

type mispGalaxy struct {
	Type          string `json:"type"`
	Name          string `json:"name"`
	GalaxyCluster []struct {
		Value   string `json:"value"`
		TagName string `json:"tag_name"`
	} `json:"GalaxyCluster"`
}

type mispOrg struct {
	Name string `json:"name"`
}

// mispEventCtx is what an event lends its attributes.
type mispEventCtx struct {
	UUID          flexString   `json:"uuid"`
	Info          string       `json:"info"`
	ThreatLevelID flexString   `json:"threat_level_id"`
	Date          string       `json:"date"`
	Timestamp     flexString   `json:"timestamp"`
	Orgc          *mispOrg     `json:"Orgc"`
	Tag           []mispTag    `json:"Tag"`
	Galaxy        []mispGalaxy `json:"Galaxy"`
}

type mispObject struct {
	Name      string            `json:"name"`
	UUID      flexString        `json:"uuid"`
	Deleted   flexBool          `json:"deleted"`
	Attribute []json.RawMessage `json:"Attribute"`
}

// pendingAttr is an attribute read before its event's tags and galaxies (which MISP writes
// after the attributes) are known.
type pendingAttr struct {
	a     mispAttribute
	entry string
}

// readMISP reads MISP JSON: {"Event":{…}}, an event object itself, [{"Event":{…}}, …],
// {"response":[{"Event":{…}}, …]} and {"response":{"Attribute":[…]}}.
func (fr *feedReader) readMISP(r io.Reader) error {
	js := newJSONStream(r, fr.file)
	d, _, err := js.delim()
	if err != nil {
		return err
	}
	switch d {
	case '[':
		return js.array(func(i int) error { return fr.mispEventWrapper(js, fmt.Sprintf("[%d]", i)) })
	case '{':
		// The top level is a wrapper ({"Event":…}, {"response":…}) or an event itself.
		ev := &mispEventCtx{}
		var pending []pendingAttr
		bare := false
		err := js.object(func(key string) error {
			switch key {
			case "Event":
				return fr.mispEvent(js, "Event")
			case "response":
				return fr.mispResponse(js)
			}
			isEventKey, err := fr.mispEventMember(js, key, ev, &pending, "Event")
			bare = bare || isEventKey
			return err
		})
		if bare {
			fr.mispFlush(ev, pending)
		}
		return err
	}
	return &EntryError{File: fr.file, Err: fmt.Errorf("%w: not MISP JSON", ErrFormat)}
}

// mispEventWrapper reads {"Event":{…}} or an event object.
func (fr *feedReader) mispEventWrapper(js *jsonStream, where string) error {
	d, _, err := js.delim()
	if err != nil {
		return err
	}
	if d != '{' {
		if d == '[' {
			return js.skipRest(1)
		}
		return nil
	}
	ev := &mispEventCtx{}
	var pending []pendingAttr
	bare := false
	err = js.object(func(key string) error {
		if key == "Event" {
			return fr.mispEvent(js, where+" Event")
		}
		isEventKey, err := fr.mispEventMember(js, key, ev, &pending, where)
		bare = bare || isEventKey
		return err
	})
	if bare {
		fr.mispFlush(ev, pending)
	}
	return err
}

// mispResponse reads a restSearch "response": a list of events or {"Attribute":[…]}.
func (fr *feedReader) mispResponse(js *jsonStream) error {
	d, _, err := js.delim()
	if err != nil {
		return err
	}
	switch d {
	case '[':
		return js.array(func(i int) error { return fr.mispEventWrapper(js, fmt.Sprintf("response[%d]", i)) })
	case '{':
		return js.object(func(key string) error {
			if key != "Attribute" {
				return js.skip()
			}
			ok, err := js.expectArray()
			if err != nil || !ok {
				return err
			}
			return js.array(func(i int) error {
				if err := fr.entry(); err != nil {
					return err
				}
				raw, err := js.raw()
				if err != nil {
					return err
				}
				entry := fmt.Sprintf("response.Attribute[%d]", i)
				a, err := decodeAttr(raw)
				if err != nil {
					fr.fail(entry+attrID(a), fmt.Errorf("%w: %v", ErrMalformed, err))
					return nil
				}
				ctx := a.Event
				if ctx == nil {
					ctx = &mispEventCtx{}
				}
				fr.mispAttr(ctx, a, entry, "")
				return nil
			})
		})
	}
	return nil
}

// mispEvent reads an event object.
func (fr *feedReader) mispEvent(js *jsonStream, where string) error {
	d, _, err := js.delim()
	if err != nil {
		return err
	}
	if d != '{' {
		if d == '[' {
			return js.skipRest(1)
		}
		return nil
	}
	ev := &mispEventCtx{}
	var pending []pendingAttr
	err = js.object(func(key string) error {
		_, err := fr.mispEventMember(js, key, ev, &pending, where)
		return err
	})
	fr.mispFlush(ev, pending)
	return err
}

// mispEventMember reads one member of an event; isEventKey reports a key only events have.
func (fr *feedReader) mispEventMember(js *jsonStream, key string, ev *mispEventCtx, pending *[]pendingAttr, where string) (isEventKey bool, err error) {
	decode := func(v any) error {
		raw, err := js.raw()
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, v); err != nil {
			fr.fail(where+"."+key, fmt.Errorf("%w: %v", ErrMalformed, err))
		}
		return nil
	}
	switch key {
	case "info":
		return true, decode(&ev.Info)
	case "uuid":
		return false, decode(&ev.UUID)
	case "threat_level_id":
		return true, decode(&ev.ThreatLevelID)
	case "date":
		return false, decode(&ev.Date)
	case "timestamp":
		return false, decode(&ev.Timestamp)
	case "Orgc":
		return true, decode(&ev.Orgc)
	case "Tag":
		return false, decode(&ev.Tag)
	case "Galaxy":
		return true, decode(&ev.Galaxy)
	case "Attribute":
		ok, err := js.expectArray()
		if err != nil || !ok {
			return true, err
		}
		return true, js.array(func(i int) error {
			if err := fr.entry(); err != nil {
				return err
			}
			raw, err := js.raw()
			if err != nil {
				return err
			}
			entry := fmt.Sprintf("%s Attribute[%d]", where, i)
			a, err := decodeAttr(raw)
			if err != nil {
				fr.fail(entry+attrID(a), fmt.Errorf("%w: %v", ErrMalformed, err))
				return nil
			}
			*pending = append(*pending, pendingAttr{a, entry})
			return nil
		})
	case "Object":
		ok, err := js.expectArray()
		if err != nil || !ok {
			return true, err
		}
		return true, js.array(func(i int) error {
			raw, err := js.raw()
			if err != nil {
				return err
			}
			oentry := fmt.Sprintf("%s Object[%d]", where, i)
			var o mispObject
			if err := json.Unmarshal(raw, &o); err != nil {
				fr.fail(oentry, fmt.Errorf("%w: %v", ErrMalformed, err))
				return nil
			}
			if o.Name != "" {
				oentry += " (" + clip(o.Name) + ")"
			}
			for j, araw := range o.Attribute {
				if err := fr.entry(); err != nil {
					return err
				}
				entry := fmt.Sprintf("%s Attribute[%d]", oentry, j)
				a, err := decodeAttr(araw)
				if err != nil {
					fr.fail(entry+attrID(a), fmt.Errorf("%w: %v", ErrMalformed, err))
					continue
				}
				if o.Deleted {
					a.Deleted = true
				}
				*pending = append(*pending, pendingAttr{a, entry})
			}
			return nil
		})
	}
	return false, js.skip()
}

func attrID(a mispAttribute) string {
	if a.UUID != "" {
		return " (" + clip(string(a.UUID)) + ")"
	}
	return ""
}

// decodeAttr decodes an attribute; on error the attribute still carries its uuid if it has
// one, to name it.
func decodeAttr(raw json.RawMessage) (mispAttribute, error) {
	var a mispAttribute
	err := json.Unmarshal(raw, &a)
	if err != nil {
		var id struct {
			UUID string `json:"uuid"`
		}
		_ = json.Unmarshal(raw, &id) // best effort: only names the entry
		a = mispAttribute{UUID: flexString(id.UUID)}
	}
	return a, err
}

// mispFlush turns an event's attributes into indicators once the whole event was read.
func (fr *feedReader) mispFlush(ev *mispEventCtx, pending []pendingAttr) {
	for _, p := range pending {
		fr.mispAttr(ev, p.a, p.entry+attrID(p.a), "")
	}
}

var threatLevels = map[string]string{"1": "high", "2": "medium", "3": "low", "4": "undefined"}

// mispAttr adds the indicators an attribute holds. extraTags are a CSV row's tags.
func (fr *feedReader) mispAttr(ev *mispEventCtx, a mispAttribute, entry string, extraTags string) {
	if a.Deleted {
		fr.skipped++
		return
	}
	if !bool(a.ToIDS) && !fr.src.IncludeNonIDS {
		fr.skipped++
		return
	}
	if _, known := typeSlots(a.Type); !known {
		fr.skipped++ // a MISP type that names no indicator the store looks up
		return
	}
	vals, err := valuesOf(a.Type, string(a.Value), "")
	if err != nil {
		fr.fail(entry, err)
		return
	}
	if len(vals) == 0 {
		fr.skipped++
		return
	}
	ind := Indicator{
		ID:          string(a.UUID),
		Name:        ev.Info,
		Description: a.Comment,
		ThreatLevel: threatLevels[strings.TrimSpace(string(ev.ThreatLevelID))],
	}
	if ind.ThreatLevel == "" {
		ind.ThreatLevel = strings.ToLower(strings.TrimSpace(string(ev.ThreatLevelID)))
	}
	if ev.Orgc != nil {
		ind.CreatedBy = ev.Orgc.Name
	}
	tags := append(append([]mispTag(nil), ev.Tag...), a.Tag...)
	for _, t := range splitTags(extraTags) {
		tags = append(tags, mispTag{Name: t})
	}
	for _, t := range tags {
		kind, name := galaxyTag(t.Name)
		switch kind {
		case "malware":
			ind.Malware = appendUnique(ind.Malware, name)
		case "actor":
			ind.Actors = appendUnique(ind.Actors, name)
		default:
			ind.Labels = appendUnique(ind.Labels, t.Name)
		}
	}
	for _, g := range append(append([]mispGalaxy(nil), ev.Galaxy...), a.Galaxy...) {
		kind := galaxyKind(g.Type)
		for _, c := range g.GalaxyCluster {
			switch kind {
			case "malware":
				ind.Malware = appendUnique(ind.Malware, c.Value)
			case "actor":
				ind.Actors = appendUnique(ind.Actors, c.Value)
			}
		}
	}
	var errs []error
	if ind.ValidFrom, err = parseTime(string(a.FirstSeen)); err != nil {
		errs = append(errs, fmt.Errorf("first_seen: %w", err))
	}
	var last, stamp time.Time
	if last, err = parseTime(string(a.LastSeen)); err != nil {
		errs = append(errs, fmt.Errorf("last_seen: %w", err))
	}
	if stamp, err = parseTime(string(a.Timestamp)); err != nil {
		errs = append(errs, fmt.Errorf("timestamp: %w", err))
	}
	if len(errs) > 0 {
		fr.fail(entry, errs[0])
		return
	}
	ind.LastSeen = last
	if ind.LastSeen.IsZero() {
		ind.LastSeen = stamp
	}
	if ind.LastSeen.IsZero() {
		ind.LastSeen, _ = parseTime(string(ev.Timestamp))
	}
	for _, v := range vals {
		fr.addValue(ind, v)
	}
}

// galaxyTag reads a galaxy tag, misp-galaxy:threat-actor="Sofacy", as ("actor", "Sofacy").
func galaxyTag(tag string) (kind, name string) {
	rest, ok := strings.CutPrefix(tag, "misp-galaxy:")
	if !ok {
		return "", ""
	}
	galaxy, val, ok := strings.Cut(rest, "=")
	if !ok {
		return "", ""
	}
	return galaxyKind(galaxy), strings.Trim(val, `"`)
}

// galaxyKind tells whether a MISP galaxy lists malware, actors or neither.
func galaxyKind(galaxy string) string {
	g := strings.ToLower(galaxy)
	switch {
	case strings.Contains(g, "threat-actor"), strings.Contains(g, "intrusion-set"), strings.Contains(g, "activity-group"):
		return "actor"
	case strings.Contains(g, "attack-pattern"), strings.Contains(g, "course-of-action"):
		return ""
	}
	for _, w := range strings.FieldsFunc(g, func(r rune) bool { return r == '-' || r == '_' || r == ' ' }) {
		switch w {
		case "malware", "malpedia", "tool", "ransomware", "rat", "botnet", "banker", "stealer", "backdoor", "exploit":
			return "malware"
		}
	}
	return ""
}

// splitTags splits a CSV tags field ("tlp:white,malware:Dridex" or "a;b").
func splitTags(s string) []string {
	var out []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
