package intel

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// lookupValues covers every fixture's kinds of match.
var lookupValues = []string{
	"198.51.100.3", "203.0.113.70", "203.0.113.33", "192.0.2.200", "2001:db8:dead:beef::1",
	"evil-update.example", "http://malicious.example.com/Payload-Stage2?id=7",
	"aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", "cead3f77f6cda6ec00f57d76c9a6879f",
	"billing@invoices-phish.example", "host7.dyn-dns.example", "https://blog.example/wp-content/uploads/ab12cd34.php",
	"198.51.100.77", "beacon.example", "100.64.5.5", "100.64.0.1", "slow-exfil.example",
	"203.0.113.7", "http://dridex-update.example/gate.php", "198.51.100.24", "198.51.100.9",
	"login.secure.phish-kit.example", "2001:db8:bad:1::1", "198.51.100.80", "update-check.example",
}

func fullStore(t *testing.T) *Store {
	t.Helper()
	s := newStore()
	load(t, s, stixSource, 7)
	load(t, s, mispSource, 3)
	load(t, s, feodoSource, 2)
	load(t, s, listSource, 1)
	load(t, s, threatfoxSource, 2)
	return s
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := fullStore(t)
	var buf bytes.Buffer
	if err := s.Save(&buf); err != nil {
		t.Fatal(err)
	}
	r := New(Options{Now: func() time.Time { return now.Add(time.Hour) }})
	if err := r.LoadSnapshot(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{now, time.Date(2024, 2, 20, 0, 0, 0, 0, time.UTC), time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)} {
		for _, v := range lookupValues {
			want, got := s.Lookup(v, at), r.Lookup(v, at)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Lookup(%q, %v) after the round trip:\n got %+v\nwant %+v", v, at, got, want)
			}
		}
	}
	ws, gs := s.Stats(), r.Stats()
	if len(ws) != len(gs) {
		t.Fatalf("%d sources after the round trip, want %d", len(gs), len(ws))
	}
	for i := range ws {
		if !reflect.DeepEqual(ws[i], gs[i]) {
			t.Errorf("stats after the round trip:\n got %+v\nwant %+v", gs[i], ws[i])
		}
	}
	// Saving again gives the same bytes but for the header's time.
	var again bytes.Buffer
	if err := r.Save(&again); err != nil {
		t.Fatal(err)
	}
	_, body1, _ := strings.Cut(buf.String(), "\n")
	_, body2, _ := strings.Cut(again.String(), "\n")
	if body1 != body2 {
		t.Error("a reloaded snapshot saves differently")
	}
}

func TestSnapshotKeepsOtherSources(t *testing.T) {
	s := newStore()
	load(t, s, listSource, 1)
	var buf bytes.Buffer
	if err := s.Save(&buf); err != nil {
		t.Fatal(err)
	}
	r := newStore()
	load(t, r, feodoSource, 2)
	if err := r.LoadSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	only(t, r, "203.0.113.9", now) // from the snapshot
	only(t, r, "203.0.113.7", now) // kept
}

func TestSnapshotCorrupt(t *testing.T) {
	s := newStore()
	load(t, s, listSource, 1)
	var buf bytes.Buffer
	if err := s.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	lines := strings.SplitAfter(good, "\n")
	tests := map[string]string{
		"empty":               "",
		"no header":           strings.Join(lines[1:], ""),
		"future version":      strings.Replace(good, `"vigil_intel_snapshot":1`, `"vigil_intel_snapshot":9`, 1),
		"truncated":           good[:len(good)-40],
		"not normalised":      strings.Replace(good, `"value":"203.0.113.9"`, `"value":"203.000.113.9"`, 1),
		"bad value":           strings.Replace(good, `"value":"203.0.113.9"`, `"value":"nope"`, 1),
		"wrong source":        strings.Replace(good, `"indicator":{"source":"blocklist"`, `"indicator":{"source":"other"`, 1),
		"indicator first":     lines[0] + strings.Join(lines[2:], ""),
		"bad pattern":         lines[0] + lines[1] + `{"indicator":{"source":"blocklist","type":"stix-pattern","pattern":"[a:b ="}}` + "\n",
		"empty line object":   lines[0] + "{}\n",
		"source without name": lines[0] + `{"source":{"name":""}}` + "\n",
	}
	for name, doc := range tests {
		r := newStore()
		_, errs := r.LoadReader(t.Context(), Source{Name: "keep", Format: FormatList}, strings.NewReader("192.0.2.1\n"))
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		err := r.LoadSnapshot(strings.NewReader(doc))
		if !errors.Is(err, ErrSnapshot) {
			t.Errorf("%s: LoadSnapshot = %v, want ErrSnapshot", name, err)
		}
		if st := r.Stats(); len(st) != 1 || st[0].Source != "keep" {
			t.Errorf("%s: a failed snapshot changed the store: %+v", name, st)
		}
	}
}
