package sigma

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/winfield"
)

// JSON value kinds in the parse tree.
const (
	jNull = iota
	jFalse
	jTrue
	jNumber
	jString
	jObject
	jArray
)

type jnode struct {
	kind  uint8
	key   string // member name when the node is an object member
	val   string // text of scalars
	first int32  // first child (objects, arrays), -1 if none
	next  int32  // next sibling, -1 if none
}

// maxJSONDepth bounds nesting of JSON events.
const maxJSONDepth = 200

type jsonParser struct {
	s     string
	pos   int
	nodes []jnode
	depth int
	rec   *Record
	name  []byte // scratch for dotted names
	// A Velociraptor rendering's channel and event ID, for the HexInt fields it writes in
	// decimal (hexOn while its sections are flattened).
	hexChannel, hexEventID string
	hexOn                  bool
}

// ResetJSON replaces the record's content with the flattened form of one JSON document (an
// object). The data is copied; the caller may reuse it afterwards.
//
// Flattening: a document shaped like evtx_dump output, {"Event":{"System":{...},
// "EventData"|"UserData":{...}}}, is flattened the way Windows event fields are named in Sigma:
// System children become fields named after the element (EventID, Channel, Computer, ...),
// their XML attributes fields named <Element>_<Attribute> (Provider_Name,
// TimeCreated_SystemTime, EventID_Qualifiers, ...); each EventData key becomes a field of that
// name (arrays give one field per element); UserData and any other section give their leaf
// element names without path and attributes as <Element>_<Attribute>; xmlns attributes are
// ignored. A Winlogbeat (or Elastic Agent) document, with a "winlog" object, gets the same names
// for its Windows event (Channel from winlog.channel, EventID from winlog.event_id, each
// winlog.event_data member by its name, ...; see flattenBeat) before its generic fields.
// Velociraptor's parse_evtx rendering ({"System":{...},"EventData":{...},"Message":...}) is
// flattened as an evtx_dump one; its System attributes, which it writes as members
// ("Provider":{"Name":...}, "EventID":{"Value":4624}), take the <Element>_<Attribute> names (so do
// golang-evtx's), and its HexInt values, which it writes in decimal, their EVTX text
// (GrantedAccess 5176 is 0x1438; see internal/winfield). A flat rendering of a Windows event
// (EventID and Channel at the top: NXLog, the OTRF datasets, Velociraptor's EvtxHunter) gets
// Provider_Name and its nested EventData members (see flattenFlatWindows) before its generic
// fields; an EvtxECmd row its System columns under EVTX's names and the event's data from its
// Payload column (see flattenEvtxECmd). Any other document is flattened generically: nested
// objects give dotted names (userIdentity.type), arrays give several values under one name,
// numbers keep their JSON text, booleans are "true"/"false", and null is an empty string (the
// field is present).
func (r *Record) ResetJSON(data []byte) error {
	r.Reset()
	return r.AddJSON(data)
}

// EventXML reports whether the last JSON document given to the record (ResetJSON, AddJSON)
// was shaped like evtx_dump output and flattened as a Windows event.
func (r *Record) EventXML() bool { return r.eventXML }

// AddJSON flattens one JSON document (see ResetJSON) and appends its fields.
func (r *Record) AddJSON(data []byte) error {
	r.eventXML = false
	r.unstable = true // names are views of the record's arena
	p := &r.jp
	p.rec = r
	p.s = r.intern(data)
	p.pos = 0
	p.depth = 0
	p.nodes = p.nodes[:0]
	p.skipSpace()
	root, err := p.parseValue()
	if err != nil {
		return err
	}
	p.skipSpace()
	if p.pos != len(p.s) {
		return fmt.Errorf("%w: unexpected data after the value at offset %d", ErrInvalidJSON, p.pos)
	}
	if p.nodes[root].kind != jObject {
		return fmt.Errorf("%w: the event is not a JSON object", ErrInvalidJSON)
	}
	if ev := p.member(root, "Event"); ev >= 0 && p.nodes[ev].kind == jObject {
		if sys := p.member(ev, "System"); sys >= 0 && p.nodes[sys].kind == jObject {
			p.flattenWindows(ev)
			r.eventXML = true
			return nil
		}
	}
	if sys := p.member(root, "System"); sys >= 0 && p.nodes[sys].kind == jObject && p.member(sys, "EventID") >= 0 {
		// Velociraptor's parse_evtx: the sections at the top, attributes as members.
		p.hexChannel, p.hexEventID, p.hexOn = p.systemText(sys, "Channel"), p.systemText(sys, "EventID"), true
		p.flattenWindows(root)
		p.hexOn = false
		r.eventXML = true
		return nil
	}
	if wl := p.member(root, "winlog"); wl >= 0 && p.nodes[wl].kind == jObject {
		p.flattenBeat(wl)
	} else if p.isEvtxECmd(root) {
		return p.flattenEvtxECmd(root)
	} else {
		p.flattenFlatWindows(root)
	}
	p.name = p.name[:0]
	p.flattenGeneric(root, 0)
	return nil
}

// isEvtxECmd reports whether the document is a row of EvtxECmd (Eric Zimmerman's EVTX parser,
// KAPE's !EZParser): EventId, Channel and the event's XML as a JSON string in Payload.
func (p *jsonParser) isEvtxECmd(root int32) bool {
	eid, ch, pl := p.member(root, "EventId"), p.member(root, "Channel"), p.member(root, "Payload")
	if eid < 0 || ch < 0 || pl < 0 {
		return false
	}
	k := p.nodes[eid].kind
	return (k == jNumber || k == jString) && p.nodes[ch].kind == jString && p.nodes[pl].kind == jString
}

// evtxECmdSystem names the System columns of an EvtxECmd row by the names of an EVTX record's
// fields. Its Level and Keywords are words there ("Info", "Audit success"), not EVTX's numbers,
// and keep their own names only.
var evtxECmdSystem = [...]struct{ column, name string }{
	{"EventId", "EventID"}, {"Provider", "Provider_Name"}, {"EventRecordId", "EventRecordID"},
	{"ProcessId", "Execution_ProcessID"}, {"ThreadId", "Execution_ThreadID"},
}

// flattenEvtxECmd adds the fields of an EvtxECmd row: its System columns under EVTX's names
// only (see evtxECmdSystem), the others (Channel, Computer, TimeCreated, MapDescription,
// PayloadData1...) by their own, then the event's data from the JSON in Payload
// ({"EventData":{"Data":[{"@Name":"Image","#text":"..."}]}} or {"UserData":{...}}, XML
// converted with @ for attributes) by the names an EVTX record gives them. A Payload that is
// not JSON is an error naming it.
func (p *jsonParser) flattenEvtxECmd(root int32) error {
	for _, c := range evtxECmdSystem {
		if n := p.member(root, c.column); n >= 0 && p.nodes[n].kind != jObject && p.nodes[n].kind != jArray {
			p.add(c.name, p.scalarText(n))
		}
	}
	payload := p.member(root, "Payload")
	for c := p.nodes[root].first; c >= 0; c = p.nodes[c].next {
		// The System columns have their EVTX names; under their own, ProcessId would be taken
		// for the EventData field of that name.
		if c != payload && !slices.ContainsFunc(evtxECmdSystem[:], func(s struct{ column, name string }) bool { return s.column == p.nodes[c].key }) {
			p.name = append(p.name[:0], p.nodes[c].key...)
			p.flattenGeneric(c, len(p.name))
		}
	}
	// The payload's nodes follow the document's in p.nodes; its text is the record's.
	text := p.nodes[payload].val
	if text == "" {
		return nil
	}
	s, pos, depth := p.s, p.pos, p.depth
	p.s, p.pos, p.depth = text, 0, 0
	p.skipSpace()
	ev, err := p.parseValue()
	if err == nil {
		if p.skipSpace(); p.pos != len(p.s) {
			err = fmt.Errorf("%w: unexpected data after the value at offset %d", ErrInvalidJSON, p.pos)
		}
	}
	p.s, p.pos, p.depth = s, pos, depth
	if err != nil {
		return fmt.Errorf("Payload: %w", err)
	}
	if p.nodes[ev].kind != jObject {
		return nil
	}
	for sec := p.nodes[ev].first; sec >= 0; sec = p.nodes[sec].next {
		key := p.nodes[sec].key
		if key != "EventData" || p.nodes[sec].kind != jObject {
			p.flattenAtElement(key, sec) // UserData, and any other section: leaf names
			continue
		}
		for c := p.nodes[sec].first; c >= 0; c = p.nodes[c].next {
			if p.nodes[c].key == "Data" {
				p.flattenDataItems(c)
			} else {
				p.flattenAtElement(p.nodes[c].key, c)
			}
		}
	}
	return nil
}

// flattenDataItems adds the EventData Data items of an EvtxECmd payload, node n (one item or an
// array of them): a named item ({"@Name":"Image","#text":"..."}) as its name, an unnamed one as
// Data.
func (p *jsonParser) flattenDataItems(n int32) {
	switch p.nodes[n].kind {
	case jArray:
		for c := p.nodes[n].first; c >= 0; c = p.nodes[c].next {
			p.flattenDataItems(c)
		}
	case jObject:
		name, text := "Data", int32(-1)
		if nm := p.member(n, "@Name"); nm >= 0 && p.nodes[nm].kind == jString {
			name = p.nodes[nm].val
		}
		if text = p.member(n, "#text"); text >= 0 {
			p.addScalarOrNested(name, text)
		} else {
			p.add(name, "") // <Data Name="x"/>: present and empty, as EVTX gives it
		}
	default:
		p.add("Data", p.scalarText(n))
	}
}

// flattenAtElement adds XML element name, converted to JSON with attributes as "@name" members
// and the text as "#text" (node n), as an EVTX record names its fields: the text as name, the
// attributes as name_attribute (xmlns left out), child elements by their own names.
func (p *jsonParser) flattenAtElement(name string, n int32) {
	switch p.nodes[n].kind {
	case jArray:
		for c := p.nodes[n].first; c >= 0; c = p.nodes[c].next {
			p.flattenAtElement(name, c)
		}
	case jObject:
		for c := p.nodes[n].first; c >= 0; c = p.nodes[c].next {
			key := p.nodes[c].key
			switch {
			case key == "#text":
				p.addScalarOrNested(name, c)
			case strings.HasPrefix(key, "@"):
				if attr := key[1:]; !isXMLNS(attr) {
					p.name = append(append(append(p.name[:0], name...), '_'), attr...)
					p.addScalarOrNested(p.rec.intern(p.name), c)
				}
			default:
				p.flattenAtElement(key, c)
			}
		}
	default:
		p.add(name, p.scalarText(n))
	}
}

// flatProviders are the names flat renderings of Windows events give the event's provider:
// NXLog's and the OTRF datasets' SourceName, ProviderName, and Velociraptor artifacts' Provider
// (System.Provider.Name as Provider).
var flatProviders = [...]string{"SourceName", "ProviderName", "Provider"}

// flattenFlatWindows adds, for a flat rendering of a Windows event (a scalar EventID and Channel
// at the top), the fields an EVTX record has and the rendering names otherwise: Provider_Name
// from the rendering's provider name (see flatProviders) when it has none, and, when the
// event's data is nested (Velociraptor's Windows.EventLogs.EvtxHunter and the artifacts like it:
// "EventData": {...}, "UserData": {...}), each EventData member by its name and UserData's
// elements by their leaf names, HexInt values written in decimal given their EVTX text. The
// document's own names follow, as for any JSON.
func (p *jsonParser) flattenFlatWindows(root int32) {
	eid, ch := p.member(root, "EventID"), p.member(root, "Channel")
	if eid < 0 || ch < 0 || p.nodes[eid].kind == jObject || p.nodes[eid].kind == jArray || p.nodes[ch].kind != jString {
		return
	}
	if p.member(root, "Provider_Name") < 0 {
		for _, name := range flatProviders {
			if n := p.member(root, name); n >= 0 && p.nodes[n].kind == jString {
				p.add("Provider_Name", p.nodes[n].val)
				break
			}
		}
	}
	p.hexChannel, p.hexEventID, p.hexOn = p.nodes[ch].val, p.scalarText(eid), true
	if ed := p.member(root, "EventData"); ed >= 0 && p.nodes[ed].kind == jObject {
		p.flattenEventData(ed)
	}
	if ud := p.member(root, "UserData"); ud >= 0 && p.nodes[ud].kind == jObject {
		for c := p.nodes[ud].first; c >= 0; c = p.nodes[c].next {
			if k := p.nodes[c].key; k != "#attributes" {
				p.flattenElement(k, c)
			}
		}
	}
	p.hexOn = false
}

// beatSystem names the members of a Winlogbeat (or Elastic Agent) "winlog" object that an EVTX
// record holds in its System section, by the paths under winlog and the names of
// internal/evtx's fields. The others (task, opcode, keywords, log.level) are names there, not
// the numbers EVTX holds, and are left out.
var beatSystem = [...]struct{ path, name string }{
	{"channel", "Channel"}, {"event_id", "EventID"}, {"provider_name", "Provider_Name"},
	{"provider_guid", "Provider_Guid"}, {"computer_name", "Computer"}, {"record_id", "EventRecordID"},
	{"version", "Version"}, {"process.pid", "Execution_ProcessID"}, {"process.thread.id", "Execution_ThreadID"},
	{"user.identifier", "Security_UserID"}, {"activity_id", "Correlation_ActivityID"},
}

// flattenBeat adds the Windows event of a Winlogbeat document (the object winlog) under the
// names Sigma's Windows rules use, as an EVTX record of it gives them: the System members of
// beatSystem, each event_data member by its name and the elements of user_data by their leaf
// names. The document's own dotted names (winlog.event_data.Image, ...) follow, as for any
// JSON.
func (p *jsonParser) flattenBeat(winlog int32) {
	for _, f := range beatSystem {
		n := winlog
		for part := range strings.SplitSeq(f.path, ".") {
			if n = p.member(n, part); n < 0 {
				break
			}
		}
		if n >= 0 && p.nodes[n].kind != jObject && p.nodes[n].kind != jArray {
			p.add(f.name, p.scalarText(n))
		}
	}
	for _, sec := range [...]string{"event_data", "user_data"} {
		if s := p.member(winlog, sec); s >= 0 && p.nodes[s].kind == jObject {
			for c := p.nodes[s].first; c >= 0; c = p.nodes[c].next {
				p.flattenElement(p.nodes[c].key, c)
			}
		}
	}
}

func (p *jsonParser) member(obj int32, key string) int32 {
	for c := p.nodes[obj].first; c >= 0; c = p.nodes[c].next {
		if p.nodes[c].key == key {
			return c
		}
	}
	return -1
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalidJSON, fmt.Sprintf(format, args...), p.pos)
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) newNode(kind uint8) int32 {
	p.nodes = append(p.nodes, jnode{kind: kind, first: -1, next: -1})
	return int32(len(p.nodes) - 1)
}

func (p *jsonParser) parseValue() (int32, error) {
	if p.pos >= len(p.s) {
		return -1, p.errorf("unexpected end of input")
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		return p.parseObject()
	case c == '[':
		return p.parseArray()
	case c == '"':
		s, err := p.parseString()
		if err != nil {
			return -1, err
		}
		n := p.newNode(jString)
		p.nodes[n].val = s
		return n, nil
	case c == 't':
		return p.parseLiteral("true", jTrue)
	case c == 'f':
		return p.parseLiteral("false", jFalse)
	case c == 'n':
		return p.parseLiteral("null", jNull)
	case c == '-' || ('0' <= c && c <= '9'):
		return p.parseNumber()
	default:
		return -1, p.errorf("unexpected character %q", c)
	}
}

func (p *jsonParser) parseLiteral(lit string, kind uint8) (int32, error) {
	if !strings.HasPrefix(p.s[p.pos:], lit) {
		return -1, p.errorf("invalid literal")
	}
	p.pos += len(lit)
	n := p.newNode(kind)
	p.nodes[n].val = lit
	return n, nil
}

func (p *jsonParser) parseNumber() (int32, error) {
	start := p.pos
	if p.s[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.s) && '0' <= p.s[p.pos] && p.s[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if digits() == 0 {
		return -1, p.errorf("invalid number")
	}
	if p.pos < len(p.s) && p.s[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return -1, p.errorf("invalid number")
		}
	}
	if p.pos < len(p.s) && (p.s[p.pos] == 'e' || p.s[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.s) && (p.s[p.pos] == '+' || p.s[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return -1, p.errorf("invalid number")
		}
	}
	n := p.newNode(jNumber)
	p.nodes[n].val = p.s[start:p.pos]
	return n, nil
}

func (p *jsonParser) parseString() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	p.pos = quoteOrEscape(p.s, p.pos)
	if p.pos < len(p.s) {
		if p.s[p.pos] == '"' {
			s := p.s[start:p.pos]
			p.pos++
			return s, nil
		}
		return p.parseEscapedString(start)
	}
	return "", p.errorf("unterminated string")
}

// quoteOrEscape returns the index of the first quote or backslash in s at or after i, or
// len(s): eight bytes at a time, as a string's text is mostly neither.
func quoteOrEscape(s string, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q, b := x^(ones*'"'), x^(ones*'\\')
		if ((q-ones)&^q|(b-ones)&^b)&highs != 0 {
			break
		}
	}
	for i < len(s) && s[i] != '"' && s[i] != '\\' {
		i++
	}
	return i
}

func (p *jsonParser) parseEscapedString(start int) (string, error) {
	r := p.rec
	bstart := len(r.buf)
	r.buf = append(r.buf, p.s[start:p.pos]...)
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case '"':
			p.pos++
			return bytesString(r.buf[bstart:len(r.buf):len(r.buf)]), nil
		case '\\':
			if p.pos+1 >= len(p.s) {
				return "", p.errorf("unterminated escape")
			}
			e := p.s[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				r.buf = append(r.buf, e)
			case 'b':
				r.buf = append(r.buf, '\b')
			case 'f':
				r.buf = append(r.buf, '\f')
			case 'n':
				r.buf = append(r.buf, '\n')
			case 'r':
				r.buf = append(r.buf, '\r')
			case 't':
				r.buf = append(r.buf, '\t')
			case 'u':
				u, ok := p.hex4()
				if !ok {
					return "", p.errorf("invalid \\u escape")
				}
				ru := rune(u)
				if utf16.IsSurrogate(ru) {
					ru = utf8.RuneError
					if strings.HasPrefix(p.s[p.pos:], "\\u") {
						save := p.pos
						p.pos += 2
						if u2, ok := p.hex4(); ok {
							if d := utf16.DecodeRune(rune(u), rune(u2)); d != utf8.RuneError {
								ru = d
							} else {
								p.pos = save
							}
						} else {
							p.pos = save
						}
					}
				}
				r.buf = utf8.AppendRune(r.buf, ru)
			default:
				return "", p.errorf("invalid escape \\%c", e)
			}
		default:
			j := quoteOrEscape(p.s, p.pos)
			r.buf = append(r.buf, p.s[p.pos:j]...)
			p.pos = j
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *jsonParser) hex4() (uint16, bool) {
	if p.pos+4 > len(p.s) {
		return 0, false
	}
	var v uint16
	for i := 0; i < 4; i++ {
		c := p.s[p.pos+i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(d)
	}
	p.pos += 4
	return v, true
}

func (p *jsonParser) parseObject() (int32, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return -1, p.errorf("nesting deeper than %d", maxJSONDepth)
	}
	defer func() { p.depth-- }()
	n := p.newNode(jObject)
	p.pos++ // {
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == '}' {
		p.pos++
		return n, nil
	}
	last := int32(-1)
	for {
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != '"' {
			return -1, p.errorf("expected a member name")
		}
		key, err := p.parseString()
		if err != nil {
			return -1, err
		}
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return -1, p.errorf("expected ':'")
		}
		p.pos++
		p.skipSpace()
		v, err := p.parseValue()
		if err != nil {
			return -1, err
		}
		p.nodes[v].key = key
		if last < 0 {
			p.nodes[n].first = v
		} else {
			p.nodes[last].next = v
		}
		last = v
		p.skipSpace()
		if p.pos >= len(p.s) {
			return -1, p.errorf("unterminated object")
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return n, nil
		default:
			return -1, p.errorf("expected ',' or '}'")
		}
	}
}

func (p *jsonParser) parseArray() (int32, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return -1, p.errorf("nesting deeper than %d", maxJSONDepth)
	}
	defer func() { p.depth-- }()
	n := p.newNode(jArray)
	p.pos++ // [
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		return n, nil
	}
	last := int32(-1)
	for {
		p.skipSpace()
		v, err := p.parseValue()
		if err != nil {
			return -1, err
		}
		if last < 0 {
			p.nodes[n].first = v
		} else {
			p.nodes[last].next = v
		}
		last = v
		p.skipSpace()
		if p.pos >= len(p.s) {
			return -1, p.errorf("unterminated array")
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return n, nil
		default:
			return -1, p.errorf("expected ',' or ']'")
		}
	}
}

func (p *jsonParser) scalarText(n int32) string {
	if p.nodes[n].kind == jNull {
		return ""
	}
	return p.nodes[n].val
}

// flattenGeneric adds the fields of node n under the dotted name held in p.name[:plen].
func (p *jsonParser) flattenGeneric(n int32, plen int) {
	node := &p.nodes[n]
	switch node.kind {
	case jObject:
		for c := node.first; c >= 0; c = p.nodes[c].next {
			p.name = p.name[:plen]
			if plen > 0 {
				p.name = append(p.name, '.')
			}
			p.name = append(p.name, p.nodes[c].key...)
			p.flattenGeneric(c, len(p.name))
		}
	case jArray:
		for c := node.first; c >= 0; c = p.nodes[c].next {
			p.flattenGeneric(c, plen)
		}
	default:
		if plen == 0 {
			return
		}
		p.rec.fields = append(p.rec.fields, recField{name: p.rec.intern(p.name[:plen]), value: p.scalarText(n)})
	}
}

func isXMLNS(attr string) bool {
	return attr == "xmlns" || strings.HasPrefix(attr, "xmlns:")
}

func (p *jsonParser) add(name, value string) {
	p.rec.fields = append(p.rec.fields, recField{name: name, value: value})
}

// addAttrs adds <elem>_<attr> fields for the members of an "#attributes" object.
func (p *jsonParser) addAttrs(elem string, attrs int32) {
	if p.nodes[attrs].kind != jObject {
		return
	}
	for a := p.nodes[attrs].first; a >= 0; a = p.nodes[a].next {
		key := p.nodes[a].key
		if isXMLNS(key) {
			continue
		}
		p.name = append(p.name[:0], elem...)
		p.name = append(p.name, '_')
		p.name = append(p.name, key...)
		name := p.rec.intern(p.name)
		p.addScalarOrNested(name, a)
	}
}

// addScalarOrNested adds name=value for a scalar, one field per element for an array of
// scalars, and the text of an object's "#text" member.
func (p *jsonParser) addScalarOrNested(name string, n int32) {
	switch p.nodes[n].kind {
	case jObject:
		if t := p.member(n, "#text"); t >= 0 {
			p.addScalarOrNested(name, t)
		}
	case jArray:
		for c := p.nodes[n].first; c >= 0; c = p.nodes[c].next {
			p.addScalarOrNested(name, c)
		}
	default:
		p.add(name, p.scalarText(n))
	}
}

// flattenElement adds the fields of XML element `name` represented by node n: text-only
// elements give name=text, attributes give name_attr, child elements recurse with their own
// names (no path).
func (p *jsonParser) flattenElement(name string, n int32) {
	node := &p.nodes[n]
	switch node.kind {
	case jArray:
		for c := node.first; c >= 0; c = p.nodes[c].next {
			p.flattenElement(name, c)
		}
	case jObject:
		for c := node.first; c >= 0; c = p.nodes[c].next {
			key := p.nodes[c].key
			switch key {
			case "#attributes":
				p.addAttrs(name, c)
			case "#text":
				p.addScalarOrNested(name, c)
			default:
				p.flattenElement(key, c)
			}
		}
	default:
		if p.hexOn && node.kind == jNumber && winfield.Hex(p.hexChannel, p.hexEventID, name) {
			p.addHex(name, n)
			return
		}
		p.add(name, p.scalarText(n))
	}
}

// inlineAttrs adds the fields of System element elem, node n, rendered with its attributes as
// members (Velociraptor, golang-evtx: "Provider": {"Name": ...}, "EventID": {"Value": 4624}):
// each attribute as <elem>_<attribute>, the element's text ("Value" or "#text") as elem, as an
// EVTX record names them.
func (p *jsonParser) inlineAttrs(elem string, n int32) {
	for a := p.nodes[n].first; a >= 0; a = p.nodes[a].next {
		key := p.nodes[a].key
		switch {
		case key == "Value":
			p.addScalarOrNested(elem, a)
		case isXMLNS(key):
		default:
			p.name = append(append(append(p.name[:0], elem...), '_'), key...)
			p.addScalarOrNested(p.rec.intern(p.name), a)
		}
	}
}

// addHex adds name with the EVTX text of the number at node n, a HexInt value that Velociraptor
// writes in decimal (see winfield), or its JSON text when it is not an integer.
func (p *jsonParser) addHex(name string, n int32) {
	if b, ok := winfield.AppendHex(p.name[:0], p.scalarText(n)); ok {
		p.name = b
		p.add(name, p.rec.intern(b))
		return
	}
	p.add(name, p.scalarText(n))
}

// systemText returns the text of System member name (of its "Value" or "#text" when it is an
// object), or "" when it is not a scalar.
func (p *jsonParser) systemText(sys int32, name string) string {
	n := p.member(sys, name)
	if n >= 0 && p.nodes[n].kind == jObject {
		if v := p.member(n, "Value"); v >= 0 {
			n = v
		} else {
			n = p.member(n, "#text")
		}
	}
	if n < 0 || p.nodes[n].kind == jObject || p.nodes[n].kind == jArray {
		return ""
	}
	return p.scalarText(n)
}

func (p *jsonParser) flattenWindows(ev int32) {
	for sec := p.nodes[ev].first; sec >= 0; sec = p.nodes[sec].next {
		key := p.nodes[sec].key
		switch key {
		case "#attributes":
			// Event attributes are only namespace declarations.
		case "EventData":
			p.flattenEventData(sec)
		default: // System, UserData, RenderingInfo, ...
			if p.nodes[sec].kind != jObject {
				p.flattenElement(key, sec)
				continue
			}
			for c := p.nodes[sec].first; c >= 0; c = p.nodes[c].next {
				ck := p.nodes[c].key
				switch {
				case ck == "#attributes":
					p.addAttrs(key, c)
				case ck == "#text":
					p.addScalarOrNested(key, c)
				case key == "System" && p.nodes[c].kind == jObject && p.member(c, "#attributes") < 0 && p.member(c, "#text") < 0:
					p.inlineAttrs(ck, c)
				case key == "System" && p.hexOn && winfield.SystemHex(ck):
					p.addHex(ck, c)
				default:
					p.flattenElement(ck, c)
				}
			}
		}
	}
}

func (p *jsonParser) flattenEventData(sec int32) {
	if p.nodes[sec].kind != jObject {
		p.flattenElement("EventData", sec)
		return
	}
	for c := p.nodes[sec].first; c >= 0; c = p.nodes[c].next {
		key := p.nodes[c].key
		switch key {
		case "#attributes":
			p.addAttrs("EventData", c)
		case "#text":
			p.addScalarOrNested("EventData", c)
		default:
			p.flattenElement(key, c)
		}
	}
}

// ResetMap replaces the record's content with the flattened form of a decoded JSON-like value
// (map[string]any with string, bool, nil, numbers, []any and nested maps), following the rules
// of ResetJSON for evtx_dump renderings and generic documents (not its Winlogbeat and
// Velociraptor shapes). Keys are visited in sorted order.
func (r *Record) ResetMap(m map[string]any) {
	r.Reset()
	r.AddMap(m)
}

// AddMap flattens m (see ResetMap) and appends its fields.
func (r *Record) AddMap(m map[string]any) {
	r.unstable = true
	if ev, ok := m["Event"].(map[string]any); ok {
		if _, ok := ev["System"].(map[string]any); ok {
			r.mapWindows(ev)
			return
		}
	}
	r.mapGeneric("", m, 0)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

const maxMapDepth = 200

func (r *Record) mapGeneric(name string, v any, depth int) {
	if depth > maxMapDepth {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			n := k
			if name != "" {
				n = name + "." + k
			}
			r.mapGeneric(n, x[k], depth+1)
		}
	case []any:
		for _, e := range x {
			r.mapGeneric(name, e, depth+1)
		}
	default:
		if name != "" {
			r.fields = append(r.fields, recField{name: r.internString(name), value: r.internString(scalarString(x))})
		}
	}
}

// scalarString renders a scalar the way the JSON builder would.
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case fmt.Stringer: // json.Number and friends
		return x.String()
	}
	return fmt.Sprint(v)
}

func (r *Record) mapElement(name string, v any, depth int) {
	if depth > maxMapDepth {
		return
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			r.mapElement(name, e, depth+1)
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			switch k {
			case "#attributes":
				r.mapAttrs(name, x[k])
			case "#text":
				r.mapText(name, x[k])
			default:
				r.mapElement(k, x[k], depth+1)
			}
		}
	default:
		r.fields = append(r.fields, recField{name: r.internString(name), value: r.internString(scalarString(x))})
	}
}

func (r *Record) mapText(name string, v any) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			r.mapText(name, e)
		}
	case map[string]any:
		if t, ok := x["#text"]; ok {
			r.mapText(name, t)
		}
	default:
		r.fields = append(r.fields, recField{name: r.internString(name), value: r.internString(scalarString(x))})
	}
}

func (r *Record) mapAttrs(elem string, v any) {
	attrs, ok := v.(map[string]any)
	if !ok {
		return
	}
	for _, k := range sortedKeys(attrs) {
		if isXMLNS(k) {
			continue
		}
		r.mapText(elem+"_"+k, attrs[k])
	}
}

func (r *Record) mapWindows(ev map[string]any) {
	order := []string{"System", "EventData", "UserData"}
	for _, k := range sortedKeys(ev) {
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	for _, sec := range order {
		v, ok := ev[sec]
		if !ok || sec == "#attributes" {
			continue
		}
		obj, isObj := v.(map[string]any)
		if !isObj {
			r.mapElement(sec, v, 0)
			continue
		}
		for _, k := range sortedKeys(obj) {
			switch k {
			case "#attributes":
				r.mapAttrs(sec, obj[k])
			case "#text":
				r.mapText(sec, obj[k])
			default:
				r.mapElement(k, obj[k], 1)
			}
		}
	}
}
