package normalize

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/event"
	"github.com/vigil-soc/vigil/internal/jsontext"
)

// AIT-ADS (the AIT Alert Data Set, https://github.com/ait-aecid/alert-data-set) rows: CSV
// with the columns time,name,ip,host,short,time_label,event_label, no quoting. The first five
// describe the alert; the last two are ground truth for evaluation.

// aitColumns are the AIT-ADS CSV columns in order.
var aitColumns = [...]string{"time", "name", "ip", "host", "short", "time_label", "event_label"}

// Labels is the ground truth of one AIT-ADS row. It is returned beside the alert, never inside
// it, so that nothing downstream of normalization can read it by accident.
type Labels struct {
	// TimeLabel is the attack phase whose time window holds the alert, or "false_positive".
	TimeLabel string
	// EventLabel is the label of the log event that caused the alert, or "-".
	EventLabel string
}

// Attack reports whether the alert falls into an attack phase.
func (l Labels) Attack() bool { return l.TimeLabel != "" && l.TimeLabel != "false_positive" }

// AITRow normalizes one AIT-ADS CSV row (the header excluded) into an alert: Time from the
// epoch seconds, Source from the name's detector prefix (wazuh, suricata, aminer), RuleTitle the
// name without the prefix, Kind the short alert-type ID, Host, and the host and IP as entities.
// The labels are returned separately. A row with the wrong number of columns, an empty
// required column or a bad time returns an error wrapping ErrMalformed that names the column.
// origin.Format is set to "ait-ads" when empty.
func AITRow(fields []string, origin event.Origin) (event.Alert, Labels, error) {
	if len(fields) != len(aitColumns) {
		if len(fields) < len(aitColumns) {
			return event.Alert{}, Labels{}, fmt.Errorf("%w: ait-ads row: missing column %q (got %d of %d columns)",
				ErrMalformed, aitColumns[len(fields)], len(fields), len(aitColumns))
		}
		return event.Alert{}, Labels{}, fmt.Errorf("%w: ait-ads row: %d columns after %q, want %d",
			ErrMalformed, len(fields), aitColumns[len(aitColumns)-1], len(aitColumns))
	}
	col := func(i int) string { return strings.TrimSpace(fields[i]) }
	sec, err := strconv.ParseInt(col(0), 10, 64)
	if err != nil || sec <= 0 || sec > 1<<40 {
		return event.Alert{}, Labels{}, fmt.Errorf("%w: ait-ads row: column \"time\": %q is not epoch seconds", ErrMalformed, col(0))
	}
	for _, i := range [...]int{1, 4} {
		if col(i) == "" {
			return event.Alert{}, Labels{}, fmt.Errorf("%w: ait-ads row: column %q is empty", ErrMalformed, aitColumns[i])
		}
	}
	if origin.Format == "" {
		origin.Format = "ait-ads"
	}
	name, short, host, ip := col(1), col(4), col(3), ipOf(col(2))
	source, title := "external", name
	if p, rest, ok := strings.Cut(name, ":"); ok {
		switch lp := strings.ToLower(strings.TrimSpace(p)); lp {
		case "wazuh", "suricata", "aminer":
			source, title = lp, strings.TrimSpace(rest)
		}
	}
	al := event.Alert{
		Time:      time.Unix(sec, 0).UTC(),
		Created:   origin.Received,
		Source:    source,
		RuleTitle: title,
		Kind:      short,
		Host:      host,
		Message:   name,
		Count:     1,
		Origin:    origin,
	}
	if host != "" {
		al.Entities = append(al.Entities, event.EntityRef{Kind: event.EntityHost, Value: strings.ToLower(host), Role: "host"})
	}
	if ip != "" {
		al.Entities = append(al.Entities, event.EntityRef{Kind: event.EntityIP, Value: ip, Role: "host"})
	}
	// Raw and the ID cover the alert columns only: the labels must not leak into either.
	raw := make([]byte, 0, 128)
	raw = append(raw, '{')
	for i := range 5 {
		if i > 0 {
			raw = append(raw, ',')
		}
		raw = jsontext.AppendString(raw, aitColumns[i])
		raw = append(raw, ':')
		raw = jsontext.AppendString(raw, col(i))
	}
	al.Raw = append(raw, '}')
	al.ID = deriveID(event.PrefixAlert, &origin, strings.Join(fields[:5], ","))
	return al, Labels{TimeLabel: col(5), EventLabel: col(6)}, nil
}
