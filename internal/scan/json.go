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
// timestamp it cannot render); b is then returned unchanged.
func (d *Detection) AppendJSON(b []byte) ([]byte, error) {
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
	b = append(b, `","file":`...)
	b = jsontext.AppendString(b, d.File)
	b = append(b, `,"record":`...)
	b = strconv.AppendInt(b, d.Record, 10)
	b = append(b, `,"tags":`...)
	b = appendJSONStrings(b, d.Tags)
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
	if len(d.Fields) > 0 {
		b = append(b, `,"fields":`...)
		b = d.Fields.appendJSON(b)
	}
	return append(b, '}'), nil
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
