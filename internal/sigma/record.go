package sigma

import (
	"iter"
	"strings"
	"time"
)

// Record is one event as the engine sees it: an ordered list of (name, value) string pairs,
// where a name may repeat (a field with several values), plus optional log source hints.
//
// A Record is reusable: Reset keeps its buffers, so a loop that fills and matches one Record
// per event allocates nothing once the buffers have grown. Strings passed to Add are kept as
// they are (not copied) and must stay valid until Reset; AddBytes and the JSON and map builders
// copy into the Record's own memory. Strings obtained from a Record are valid until its next
// Reset. A Record is not safe for concurrent use.
type Record struct {
	fields []recField
	buf    []byte // arena for copied names and values
	lbuf   []byte // arena for lower-cased values
	hints  [3]string
	// unstable is set when a field name may change after it was added (see AddStable).
	unstable bool

	// JSON builder scratch, kept for reuse.
	jp jsonParser
	// eventXML: the last JSON document added was an evtx_dump rendering (see EventXML).
	eventXML bool
}

type recField struct {
	name, value string
	lower       string
	lowered     bool
	typed       bool // value made of TypedAlphabet's bytes only (see AddStableTyped)
}

// Log source hint slots.
const (
	hintProduct = iota
	hintService
	hintCategory
)

// Reset empties the record and its hints, keeping its memory for reuse.
func (r *Record) Reset() {
	clear(r.fields)
	r.fields = r.fields[:0]
	r.buf = r.buf[:0]
	r.lbuf = r.lbuf[:0]
	r.hints = [3]string{}
	r.unstable = false
	r.eventXML = false
}

// Add appends a field. name and value are used as they are, not copied.
func (r *Record) Add(name, value string) {
	r.fields = append(r.fields, recField{name: name, value: value})
	r.unstable = true
}

// AddStable appends a field like Add, for a name whose bytes never change (a constant, or a
// string interned by a parser and shared by the records of one shape). A Matcher may then
// keep the name past Reset and recognise the next record's names by identity, without
// comparing their bytes.
func (r *Record) AddStable(name, value string) {
	r.fields = append(r.fields, recField{name: name, value: value})
}

// TypedAlphabet holds the bytes of the text of a typed value: a number, hex number, GUID, SID,
// time or binary as an EVTX parser renders them (see AddStableTyped).
const TypedAlphabet = "0123456789ABCDEFabcdefSTZx-:."

// AddStableTyped is AddStable for a parser that knows the type of the value: typed says that
// the value is the text of a typed value, made only of the bytes of TypedAlphabet. A Matcher
// then does not look in it for literals that cannot occur in such text (most keyword
// searches, for instance, have letters outside the alphabet), which saves time and changes no
// result. A value wrongly marked typed can be missed: pass false when in doubt.
func (r *Record) AddStableTyped(name, value string, typed bool) {
	r.fields = append(r.fields, recField{name: name, value: value, typed: typed})
}

// AddBytes appends a field, copying name and value into the record's memory.
func (r *Record) AddBytes(name, value []byte) {
	r.fields = append(r.fields, recField{name: r.intern(name), value: r.intern(value)})
	r.unstable = true
}

// intern copies b into the record arena and returns a string view of the copy.
func (r *Record) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	start := len(r.buf)
	r.buf = append(r.buf, b...)
	return bytesString(r.buf[start:len(r.buf):len(r.buf)])
}

func (r *Record) internString(s string) string {
	if len(s) == 0 {
		return ""
	}
	start := len(r.buf)
	r.buf = append(r.buf, s...)
	return bytesString(r.buf[start:len(r.buf):len(r.buf)])
}

// SetLogSource sets the log source hints a normalizer knows for this event, in Sigma taxonomy
// terms (for example "aws", "cloudtrail", ""). Empty strings leave a hint unset. Windows events
// need no hints: the engine routes them by their Channel, EventID and Provider_Name fields.
func (r *Record) SetLogSource(product, service, category string) {
	r.hints = [3]string{strings.ToLower(product), strings.ToLower(service), strings.ToLower(category)}
}

// LogSource returns the hints set with SetLogSource.
func (r *Record) LogSource() (product, service, category string) {
	return r.hints[hintProduct], r.hints[hintService], r.hints[hintCategory]
}

// Len returns the number of fields.
func (r *Record) Len() int { return len(r.fields) }

// Field returns the i-th field.
func (r *Record) Field(i int) (name, value string) {
	f := &r.fields[i]
	return f.name, f.value
}

// All iterates over all fields in order.
func (r *Record) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := range r.fields {
			if !yield(r.fields[i].name, r.fields[i].value) {
				return
			}
		}
	}
}

// Get returns the first value of the named field. Names compare the way the engine compares
// them: ASCII case-insensitively and ignoring spaces.
func (r *Record) Get(name string) (string, bool) {
	f := foldFieldName(name)
	for i := range r.fields {
		if equalFoldedASCII(f, r.fields[i].name) {
			return r.fields[i].value, true
		}
	}
	return "", false
}

// Values iterates over every value of the named field (names compare as in Get).
func (r *Record) Values(name string) iter.Seq[string] {
	f := foldFieldName(name)
	return func(yield func(string) bool) {
		for i := range r.fields {
			if equalFoldedASCII(f, r.fields[i].name) && !yield(r.fields[i].value) {
				return
			}
		}
	}
}

// lowerAt returns the lower-cased value of field i, computing it once.
func (r *Record) lowerAt(i int32) string {
	f := &r.fields[i]
	if !f.lowered {
		f.lowered = true
		if needsLower(f.value) {
			start := len(r.lbuf)
			r.lbuf = appendLower(r.lbuf, f.value)
			f.lower = bytesString(r.lbuf[start:len(r.lbuf):len(r.lbuf)])
		} else {
			f.lower = f.value
		}
	}
	return f.lower
}

// ResetPairs replaces the record's content with the given pairs (copied).
func (r *Record) ResetPairs(pairs iter.Seq2[string, string]) {
	r.Reset()
	r.unstable = true
	for k, v := range pairs {
		r.fields = append(r.fields, recField{name: r.internString(k), value: r.internString(v)})
	}
}

// timeFields are the fields Time consults, in order.
var timeFields = []string{
	"TimeCreated_SystemTime", "@timestamp", "timestamp", "eventTime", "EventTime", "time",
	"UtcTime", "TimeGenerated", "published", "ts", "date",
}

// Time returns the event time from the first well-known timestamp field that parses
// (TimeCreated_SystemTime, @timestamp, timestamp, eventTime, time, UtcTime, ...).
func (r *Record) Time() (time.Time, bool) {
	for _, name := range timeFields {
		for i := range r.fields {
			if !strings.EqualFold(r.fields[i].name, name) {
				continue
			}
			if t, ok := parseTimestamp(r.fields[i].value); ok {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	time.RFC1123Z,
	time.RFC1123,
	"2006-01-02",
}

// parseTimestamp parses the common timestamp forms found in logs; times without a zone are UTC.
func parseTimestamp(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 8 {
		return time.Time{}, false
	}
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
