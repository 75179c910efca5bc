package sigma

import (
	"fmt"
	"testing"
	"time"
)

// The caller reuses one Record for every event (as the detect stage and scan do); the
// correlator must copy the values it keeps instead of aliasing the record's buffers.
func TestCorrelatorCopiesReusedRecordValues(t *testing.T) {
	rs, refs := LoadBytes("spray.yml", []byte(`title: Failed
name: failed
logsource: {product: okta, service: okta}
detection:
  sel: {outcome.result: FAILURE}
  condition: sel
---
title: Spray
correlation:
  type: value_count
  rules: [failed]
  group-by: [client.ipAddress]
  timespan: 15m
  condition: {field: actor.alternateId, gte: 5}
`), LoadOptions{})
	if len(refs) != 0 {
		t.Fatal(refs)
	}
	cr := NewCorrelator(rs, CorrelatorOptions{})
	var rec Record
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var alerts []CorrelationAlert
	for i := range 6 {
		js := fmt.Sprintf(`{"outcome":{"result":"FAILURE"},"client":{"ipAddress":"203.0.113.7"},"actor":{"alternateId":"user%d@example.com"}}`, i)
		if err := rec.ResetJSON([]byte(js)); err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, cr.Observe(Detection{Rule: rs.Rules[0], Time: base.Add(time.Duration(i) * 7 * time.Second), Record: &rec, Ref: fmt.Sprint("ev", i)})...)
	}
	if len(alerts) != 1 || alerts[0].Value != 5 || alerts[0].GroupBy["client.ipAddress"] != "203.0.113.7" {
		t.Fatalf("alerts = %+v", alerts)
	}
	if alerts[0].Matches[0].Ref != "ev0" || alerts[0].Matches[4].Ref != "ev4" {
		t.Fatalf("contributions lost their refs: %+v", alerts[0].Matches)
	}
}
