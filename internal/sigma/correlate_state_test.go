package sigma

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fullSummary describes alerts with their windows and contributing event references.
func fullSummary(as []CorrelationAlert) []string {
	var out []string
	for _, a := range as {
		refs := make([]string, 0, len(a.Matches))
		for _, m := range a.Matches {
			refs = append(refs, m.Ref+"@"+m.Time.UTC().Format(time.RFC3339))
		}
		out = append(out, fmt.Sprintf("%s %v %g %s..%s %v", a.Title, a.GroupBy, a.Value,
			a.Start.UTC().Format(time.RFC3339), a.End.UTC().Format(time.RFC3339), refs))
	}
	return out
}

// TestCorrelatorStateCarriesWindows feeds each stream whole to one Correlator, and split in
// two to a Correlator and, after a JSON round trip of its State, to a fresh one (as after a
// restart or a rule reload): the alerts must be the same, including windows that span the cut.
func TestCorrelatorStateCarriesWindows(t *testing.T) {
	const failed = "5638f7c0-ac70-491d-8465-2a65075e0d86"
	type step struct {
		rule string
		at   time.Duration
		kv   []string
	}
	streams := map[string][]step{}
	var ec []step
	for i := range 250 { // host A reaches 100 in an hour twice; host B never does
		host := "A"
		if i%5 == 4 {
			host = "B"
		}
		ec = append(ec, step{failed, time.Duration(i) * 20 * time.Second, []string{"ComputerName", host}})
	}
	streams["event_count.yml"] = ec
	var vc []step
	for i := range 300 {
		vc = append(vc, step{failed, time.Duration(i) * time.Minute, []string{"ComputerName", "DC1", "WorkstationName", "WS1", "User", fmt.Sprintf("u%d", i%120)}})
	}
	streams["value_count.yml"] = vc
	var to []step
	for i := range 12 { // a, b, c in order per user, some windows cut in the middle
		u := fmt.Sprintf("user%d", i%3)
		for j, r := range []string{"recon_cmd_a", "recon_cmd_b", "recon_cmd_c"} {
			to = append(to, step{r, time.Duration(i)*3*time.Minute + time.Duration(j)*50*time.Second, []string{"ComputerName", "H", "User", u}})
		}
	}
	streams["temporal_ordered.yml"] = to

	for name, steps := range streams {
		t.Run(name, func(t *testing.T) {
			rs, _ := loadCorrelationExample(t, name)
			feed := func(cr *Correlator, rs *RuleSet, steps []step, from int) []CorrelationAlert {
				var out []CorrelationAlert
				for i, s := range steps {
					d := det(rs, s.rule, t0.Add(s.at), s.kv...)
					d.Ref = fmt.Sprint("ev", from+i)
					out = append(out, cr.Observe(d)...)
				}
				return out
			}
			whole := NewCorrelator(rs, CorrelatorOptions{})
			want := append(feed(whole, rs, steps, 0), whole.Flush()...)
			if len(want) == 0 {
				t.Fatal("the stream fires nothing: the comparison would prove nothing")
			}

			cut := len(steps) * 2 / 5
			first := NewCorrelator(rs, CorrelatorOptions{})
			got := feed(first, rs, steps[:cut], 0)
			b, err := json.Marshal(first.State())
			if err != nil {
				t.Fatal(err)
			}
			var st CorrelatorState
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			rs2, _ := loadCorrelationExample(t, name) // a new generation of the same rules
			second := NewCorrelator(rs2, CorrelatorOptions{})
			restored, skipped := second.Restore(st)
			if restored == 0 || skipped != 0 {
				t.Fatalf("restored %d, skipped %d matches", restored, skipped)
			}
			got = append(got, feed(second, rs2, steps[cut:], cut)...)
			got = append(got, second.Flush()...)
			if w, g := fullSummary(want), fullSummary(got); !slices.Equal(w, g) {
				t.Errorf("alerts differ across the restore: %d alerts, want %d", len(g), len(w))
				for i := range min(len(w), len(g)) {
					if w[i] != g[i] {
						t.Errorf("first difference, alert %d:\n want %.300s\n got  %.300s", i, w[i], g[i])
						break
					}
				}
			}

			// Without the state, the windows that span the cut are lost.
			fresh := NewCorrelator(rs2, CorrelatorOptions{})
			lost := append(feed(NewCorrelator(rs, CorrelatorOptions{}), rs, steps[:cut], 0), feed(fresh, rs2, steps[cut:], cut)...)
			lost = append(lost, fresh.Flush()...)
			if slices.Equal(fullSummary(want), fullSummary(lost)) {
				t.Error("starting empty gives the same alerts: the stream does not test the restore")
			}
		})
	}
}

// TestCorrelatorRestoreSkipsChangedCorrelations restores windows into rules whose correlation
// changed its timespan, and malformed matches: nothing of them is restored.
func TestCorrelatorRestoreSkipsChangedCorrelations(t *testing.T) {
	const failed = "5638f7c0-ac70-491d-8465-2a65075e0d86"
	rs, _ := loadCorrelationExample(t, "event_count.yml")
	cr := NewCorrelator(rs, CorrelatorOptions{})
	for i := range 10 {
		cr.Observe(det(rs, failed, t0.Add(time.Duration(i)*time.Second), "ComputerName", "A"))
	}
	st := cr.State()
	if len(st.Correlations) != 1 || len(st.Correlations[0].Groups[0].Matches) != 10 {
		t.Fatalf("state %+v", st)
	}

	data, err := os.ReadFile(filepath.Join(specCorrelationDir, "event_count.yml"))
	if err != nil {
		t.Skip(err)
	}
	changed := strings.Replace(string(data), "timespan: 1h", "timespan: 2h", 1)
	if changed == string(data) {
		t.Fatal("the example has no 'timespan: 1h' to change")
	}
	rs2, refusals := LoadBytes("changed.yml", []byte(changed+"\n---\n"+stubRules), LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals)
	}
	if r, s := NewCorrelator(rs2, CorrelatorOptions{}).Restore(st); r != 0 || s != 10 {
		t.Errorf("changed correlation: restored %d, skipped %d; want 0, 10", r, s)
	}

	bad := cr.State()
	bad.Correlations[0].Groups[0].Matches[3].Source = 7
	bad.Correlations[0].Groups[0].Matches[4].Time = time.Time{}
	fresh := NewCorrelator(rs, CorrelatorOptions{})
	if r, s := fresh.Restore(bad); r != 8 || s != 2 {
		t.Errorf("malformed matches: restored %d, skipped %d; want 8, 2", r, s)
	}
	if fresh.Watermark().IsZero() {
		t.Error("the restored newest event time is lost")
	}
}
