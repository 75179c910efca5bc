package scan

import (
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/jsontext"
)

// AppendJSON appends the JSON of d to b: the bytes encoding/json marshals d into when HTML
// escaping is off (json.Encoder with SetEscapeHTML(false)), without the newline. It exists
// because a scan prints its detections by the thousand, and encoding them by reflection cost
// a tenth of the CPU of a whole scan. The error is the one encoding/json would report (a
// timestamp it cannot render); b is then returned unchanged. A JSONEncoder writes the same
// bytes faster for a stream of detections.
func (d *Detection) AppendJSON(b []byte) ([]byte, error) {
	var e JSONEncoder
	return e.Append(b, d)
}

// JSONEncoder appends detections as AppendJSON does, remembering the encodings of the parts
// that consecutive detections repeat: the file (its records come together), and the record's
// identity and identifying fields (its detections come together). A part is reused when it is
// equal to the remembered one, compared by content (a string of the same memory compares at
// once). The zero value is ready to use.
type JSONEncoder struct {
	// The last file, record identity (computer, channel, event ID) and identifying fields
	// (a copy of the slice), with their encodings.
	file       string
	fileJSON   []byte
	ident      [3]string
	identJSON  []byte
	fields     Fields
	fieldsJSON []byte
	valid      bool // the above hold an encoding
}

// Append appends the JSON of d to b, as d.AppendJSON(b).
func (e *JSONEncoder) Append(b []byte, d *Detection) ([]byte, error) {
	start := len(b)
	b = append(b, `{"rule_id":`...)
	b = jsontext.AppendString(b, d.RuleID)
	b = append(b, `,"rule_title":`...)
	b = jsontext.AppendString(b, d.RuleTitle)
	b = append(b, `,"level":`...)
	b = jsontext.AppendString(b, d.Level)
	b = append(b, `,"timestamp":"`...)
	tb, err := d.Timestamp.AppendText(b) // what Time.MarshalJSON writes between its quotes
	if err != nil {
		return b[:start], err
	}
	b = tb
	if !e.valid || d.File != e.file {
		n := len(b)
		b = append(b, `","file":`...)
		b = jsontext.AppendString(b, d.File)
		e.file, e.fileJSON = d.File, append(e.fileJSON[:0], b[n:]...)
	} else {
		b = append(b, e.fileJSON...)
	}
	b = append(b, `,"record":`...)
	b = strconv.AppendInt(b, d.Record, 10)
	b = append(b, `,"tags":`...)
	b = appendJSONStrings(b, d.Tags)
	if ident := [3]string{d.Computer, d.Channel, d.EventID}; !e.valid || ident != e.ident {
		n := len(b)
		b = d.appendIdent(b)
		e.ident, e.identJSON = ident, append(e.identJSON[:0], b[n:]...)
	} else {
		b = append(b, e.identJSON...)
	}
	if len(d.Matches) > 0 {
		b = append(b, `,"matches":[`...)
		for i, m := range d.Matches {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"field":`...)
			b = jsontext.AppendString(b, m.Field)
			b = append(b, `,"value":`...)
			b = jsontext.AppendString(b, m.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if d.Correlation {
		b = append(b, `,"correlation":true`...)
	}
	if len(d.Records) > 0 {
		b = append(b, `,"records":`...)
		b = appendJSONStrings(b, d.Records)
	}
	if !e.valid || !slices.Equal(d.Fields, e.fields) {
		n := len(b)
		if len(d.Fields) > 0 {
			b = append(b, `,"fields":`...)
			b = d.Fields.appendJSON(b)
		}
		e.fields, e.fieldsJSON = append(e.fields[:0], d.Fields...), append(e.fieldsJSON[:0], b[n:]...)
	} else {
		b = append(b, e.fieldsJSON...)
	}
	e.valid = true
	return append(b, '}'), nil
}

// appendIdent appends the computer, channel and event ID members of d's JSON (each left out
// when empty).
func (d *Detection) appendIdent(b []byte) []byte {
	if d.Computer != "" {
		b = append(b, `,"computer":`...)
		b = jsontext.AppendString(b, d.Computer)
	}
	if d.Channel != "" {
		b = append(b, `,"channel":`...)
		b = jsontext.AppendString(b, d.Channel)
	}
	if d.EventID != "" {
		b = append(b, `,"event_id":`...)
		b = jsontext.AppendString(b, d.EventID)
	}
	return b
}

// appendJSON appends fs as a JSON object, names in sorted order (as encoding/json orders a
// map's keys); fs is sorted already unless built by hand.
func (fs Fields) appendJSON(b []byte) []byte {
	if !slices.IsSortedFunc(fs, func(x, y Field) int { return strings.Compare(x.Name, y.Name) }) {
		fs = slices.SortedStableFunc(slices.Values(fs), func(x, y Field) int { return strings.Compare(x.Name, y.Name) })
	}
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(b, f.Name)
		b = append(b, ':')
		b = jsontext.AppendString(b, f.Value)
	}
	return append(b, '}')
}

// appendJSONStrings appends a string slice as encoding/json does: null when nil.
func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(b, s)
	}
	return append(b, ']')
}
