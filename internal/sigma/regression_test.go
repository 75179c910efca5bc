package sigma

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// openJSONTwin opens the .json twin of an .evtx sample: evtx_dump JSON objects concatenated.
func openJSONTwin(path string) (RecordSeq, error) {
	data, err := os.ReadFile(strings.TrimSuffix(path, ".evtx") + ".json")
	if err != nil {
		return nil, err
	}
	return func(yield func(*Record, error) bool) {
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				if !errors.Is(err, io.EOF) {
					yield(nil, err)
				}
				return
			}
			if err := rec.ResetJSON(raw); err != nil {
				if !yield(nil, err) {
					return
				}
				continue
			}
			if !yield(&rec, nil) {
				return
			}
		}
	}, nil
}

func TestRegressionSigmaHQ(t *testing.T) {
	rs, _ := loadSigmaHQ(t)
	eng, _ := NewEngine(rs, EngineOptions{})
	rep, err := RunRegression(context.Background(), eng, sigmaData+"/regression_data", openJSONTwin, RegressionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	upstream, err := RunRegression(context.Background(), eng, sigmaData+"/regression_data", openJSONTwin, RegressionOptions{AtLeast: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("regression (at least match_count, as SigmaHQ checks): %d/%d passed", upstream.Passed, upstream.Total)
	if upstream.Passed != upstream.Total {
		t.Errorf("at-least regression: %d of %d passed, want all", upstream.Passed, upstream.Total)
	}
	for _, f := range rep.Failed {
		t.Logf("FAIL %s %s expected=%d at_least=%v got=%d %s", f.RuleID, f.RuleFile, f.Expected, f.AtLeast, f.Got, f.Error)
	}
	t.Logf("regression: %d/%d passed", rep.Passed, rep.Total)
	if rep.Total != 202 {
		t.Errorf("total = %d, want 202", rep.Total)
	}
	// Four samples hold more events that the rule genuinely matches than their match_count
	// states (see knownOverCounts); every other test must pass exactly.
	for _, f := range rep.Failed {
		if want, ok := knownOverCounts[f.RuleID]; !ok || f.Got != want {
			t.Errorf("unexpected regression failure: %+v", f)
		}
	}
}

// knownOverCounts lists the regression samples whose match_count understates the events that
// match the rule by the specification (rule id -> events that match). SigmaHQ's runner only
// checks "at least match_count", so these pass upstream:
//   - 0b9ad457 Anydesk Temporary Artefact: three file events contain ...\AnyDesk\user.conf
//     (user.conf.new twice, user.conf~RF*.TMP once).
//   - 8fbf3271 Cred Dump Tools Dropped Files: procdump.exe, procdump64.exe and procdump64a.exe
//     are each listed by the rule.
//   - 45e112d0 Change Security Zones: three ZoneMap\Domains values set to DWORD 2, none filtered.
//   - c7dcacd0 Disable Administrative Share: both AutoShareServer and AutoShareWks set to 0.
var knownOverCounts = map[string]int{
	"0b9ad457-2554-44c1-82c2-d56a99c42377": 3,
	"8fbf3271-1ef6-4e94-8210-03c2317947f6": 3,
	"45e112d0-7759-4c2a-aa36-9f8fb79d3393": 3,
	"c7dcacd0-cc59-4004-b0a4-1d6cdebe6f3e": 2,
}
