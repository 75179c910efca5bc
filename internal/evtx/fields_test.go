package evtx

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// flattenJSON is the Fields rules applied to evtx_dump JSON, written independently of the
// tree walk: it is what vigil's JSON input path implements.
func flattenJSON(v any) [][2]string {
	var out [][2]string
	emit := func(k, v string) { out = append(out, [2]string{k, v}) }
	var children func(obj map[string]any)
	var value func(k string, v any)
	str := func(v any) string {
		switch x := v.(type) {
		case nil:
			return ""
		case string:
			return x
		case json.Number:
			return x.String()
		case bool:
			if x {
				return "true"
			}
			return "false"
		}
		return fmt.Sprint(v)
	}
	hasChildKeys := func(obj map[string]any) bool {
		for k := range obj {
			if k != "#attributes" && k != "#text" {
				return true
			}
		}
		return false
	}
	children = func(obj map[string]any) {
		for k, v := range obj {
			if k != "#attributes" && k != "#text" {
				value(k, v)
			}
		}
	}
	value = func(k string, v any) {
		obj, ok := v.(map[string]any)
		if !ok {
			emit(k, str(v))
			return
		}
		if hasChildKeys(obj) {
			children(obj)
			return
		}
		if attrs, ok := obj["#attributes"].(map[string]any); ok {
			for a, av := range attrs {
				if a == "xmlns" || strings.HasPrefix(a, "xmlns:") {
					continue
				}
				emit(k+"_"+a, str(av))
			}
		}
		switch t := obj["#text"].(type) {
		case nil:
		case []any:
			for _, item := range t {
				if m, ok := item.(map[string]any); ok {
					children(m)
				} else {
					emit(k, str(item))
				}
			}
		default:
			emit(k, str(t))
		}
	}
	for _, root := range v.(map[string]any) {
		event, ok := root.(map[string]any)
		if !ok {
			continue
		}
		for k, sec := range event {
			if k == "#attributes" || k == "#text" {
				continue
			}
			if obj, ok := sec.(map[string]any); ok && hasChildKeys(obj) {
				children(obj)
			}
		}
	}
	return out
}

func sortedPairs(p [][2]string) [][2]string {
	q := append([][2]string(nil), p...)
	sort.Slice(q, func(i, j int) bool {
		if q[i][0] != q[j][0] {
			return q[i][0] < q[j][0]
		}
		return q[i][1] < q[j][1]
	})
	return q
}

func pairsDiff(got, want [][2]string) string {
	g, w := sortedPairs(got), sortedPairs(want)
	for i := 0; i < len(g) || i < len(w); i++ {
		switch {
		case i >= len(g):
			return fmt.Sprintf("missing %q", w[i])
		case i >= len(w):
			return fmt.Sprintf("unexpected %q", g[i])
		case g[i] != w[i]:
			return fmt.Sprintf("got %q, want %q", g[i], w[i])
		}
	}
	return ""
}

// TestFieldsOracle checks Fields against the flattening of the oracle JSON.
func TestFieldsOracle(t *testing.T) {
	var records int
	for _, evtxPath := range regressionPairs(t) {
		want, err := os.ReadFile(strings.TrimSuffix(evtxPath, ".evtx") + ".json")
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		wantRecs := decodeConcatenated(t, want)
		jsons, fields, _ := readAll(t, evtxPath)
		name := filepath.Base(evtxPath)
		if len(jsons) != len(wantRecs) {
			t.Errorf("%s: %d records, oracle has %d", name, len(jsons), len(wantRecs))
			continue
		}
		for i := range jsons {
			records++
			key := fmt.Sprintf("%s#%d", name, i)
			applyQuirks(t, key, decodeOne(t, jsons[i]), wantRecs[i])
			if d := pairsDiff(fields[i], flattenJSON(wantRecs[i])); d != "" {
				t.Errorf("%s record %d: %s", name, i, d)
			}
		}
	}
	t.Logf("fields: %d records checked against the oracle", records)
}

// TestFieldsMatchJSON checks Fields against the flattening of AppendJSON on every attack
// sample, which covers more shapes (UserData, unnamed Data, Binary, Qualifiers) than the
// oracle.
func TestFieldsMatchJSON(t *testing.T) {
	var records int
	err := filepath.WalkDir(filepath.Join(dataDir, "evtx-attack-samples"), func(path string, d os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".evtx") {
			return err
		}
		jsons, fields, _ := readAll(t, path)
		for i := range jsons {
			records++
			if d := pairsDiff(fields[i], flattenJSON(decodeOne(t, jsons[i]))); d != "" {
				t.Errorf("%s record %d: %s\n%s", path, i, d, jsons[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Skipf("attack samples not available: %v", err)
	}
	t.Logf("fields: %d records checked against their JSON", records)
}

func TestFieldsRules(t *testing.T) {
	// A Security 4624-like shape through the real parser would need a sample; the rules
	// on awkward shapes are checked on hand-built trees instead.
	r := &Reader{keyCache: map[keyPair]string{}}
	r.rec.r = r
	a := &r.tree
	text := func(parent int32, s string) { a.appendChild(parent, a.add(kText, s)) }
	elem := func(parent int32, name string) int32 {
		e := a.add(kElem, name)
		a.appendChild(parent, e)
		return e
	}
	attr := func(el int32, name, value string) {
		at := a.add(kAttr, name)
		a.appendAttr(el, at)
		text(at, value)
	}
	a.add(kElem, "")
	ev := elem(0, "Event")
	attr(ev, "xmlns", "x")
	sys := elem(ev, "System")
	id := elem(sys, "EventID")
	attr(id, "Qualifiers", "16384")
	text(id, "4624")
	elem(sys, "Correlation")
	ud := elem(ev, "UserData")
	op := elem(ud, "Op")
	attr(op, "xmlns", "y")
	attr(op, "xmlns:auto", "z")
	for _, h := range []string{"a", "b", "c"} {
		text(elem(op, "Header"), h)
	}
	leaf := elem(op, "Leaf")
	attr(leaf, "Kind", "k")
	ed := elem(ev, "EventData")
	text(elem(ed, "Data"), "p1")
	elem(ed, "Data")
	text(elem(ed, "Binary"), "00FF")

	var got [][2]string
	r.rec.Fields(func(n, v string) { got = append(got, [2]string{n, v}) })
	want := [][2]string{
		{"EventID_Qualifiers", "16384"}, {"EventID", "4624"}, {"Correlation", ""},
		{"Header", "a"}, {"Header_1", "b"}, {"Header_2", "c"}, {"Leaf_Kind", "k"},
		{"Data", "p1"}, {"Data", ""}, {"Binary", "00FF"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Fields:\n got %q\nwant %q", got, want)
	}
	js := r.rec.AppendJSON(nil)
	if d := pairsDiff(got, flattenJSON(decodeOne(t, js))); d != "" {
		t.Errorf("JSON flattening differs: %s\n%s", d, js)
	}
	wantJSON := `{"Event":{"#attributes":{"xmlns":"x"},"System":{"EventID":{"#attributes":{"Qualifiers":"16384"},"#text":"4624"},"Correlation":null},` +
		`"UserData":{"Op":{"#attributes":{"xmlns":"y","xmlns:auto":"z"},"Header":"a","Header_1":"b","Header_2":"c","Leaf":{"#attributes":{"Kind":"k"}}}},` +
		`"EventData":{"Data":{"#text":["p1",""]},"Binary":"00FF"}}}`
	if string(js) != wantJSON {
		t.Errorf("AppendJSON:\n got %s\nwant %s", js, wantJSON)
	}
}

// TestFieldNamesStayValid checks that the names Fields passes stay as they were after later
// records are read (they are interned), unlike the values, which are only valid until Next.
func TestFieldNamesStayValid(t *testing.T) {
	var names, want []string
	err := eachSampleRecord(func(_ string, rec *Record) {
		rec.Fields(func(name, _ string) {
			names = append(names, name) // not cloned
			want = append(want, strings.Clone(name))
		})
	})
	if err != nil || len(names) == 0 {
		t.Skipf("attack samples not available: %v", err)
	}
	for i := range names {
		if names[i] != want[i] {
			t.Fatalf("name %d changed from %q to %q", i, want[i], names[i])
		}
	}
}

// TestFieldsTyped checks on every attack sample that FieldsTyped passes the pairs of Fields,
// that the values it calls typed are in TypedAlphabet, and that it tells the typed fields of
// the System section (numbers, times, SIDs) from the strings (computer and image names).
func TestFieldsTyped(t *testing.T) {
	typedBy := map[string][2]int{} // name -> typed, untyped
	var records int
	err := eachSampleRecord(func(path string, rec *Record) {
		records++
		var plain, typed [][2]string
		rec.Fields(func(n, v string) { plain = append(plain, [2]string{n, strings.Clone(v)}) })
		rec.FieldsTyped(func(n, v string, ty bool) {
			typed = append(typed, [2]string{n, strings.Clone(v)})
			c := typedBy[n]
			if ty {
				c[0]++
				if strings.Trim(v, TypedAlphabet) != "" {
					t.Errorf("%s record %d: %s = %q called typed", path, rec.Number, n, v)
				}
			} else {
				c[1]++
			}
			typedBy[n] = c
		})
		if d := pairsDiff(typed, plain); d != "" {
			t.Errorf("%s record %d: FieldsTyped and Fields differ: %s", path, rec.Number, d)
		}
	})
	if err != nil {
		t.Skipf("attack samples not available: %v", err)
	}
	for _, n := range []string{"EventID", "EventRecordID", "TimeCreated_SystemTime", "Security_UserID", "ProcessGuid"} {
		if c := typedBy[n]; c[0] == 0 || c[1] > c[0]/10 {
			t.Errorf("%s: typed %d times, untyped %d: want mostly typed", n, c[0], c[1])
		}
	}
	for _, n := range []string{"Computer", "Image", "CommandLine", "Channel"} {
		if c := typedBy[n]; c[1] == 0 || c[0] != 0 {
			t.Errorf("%s: typed %d times, untyped %d: want never typed", n, c[0], c[1])
		}
	}
	t.Logf("%d records", records)
}

// eachSampleRecord calls fn with every record of the attack samples that opens as EVTX.
func eachSampleRecord(fn func(path string, rec *Record)) error {
	return filepath.WalkDir(filepath.Join(dataDir, "evtx-attack-samples"), func(path string, d os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".evtx") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r, err := NewReader(f)
		if err != nil {
			return nil
		}
		for {
			rec, err := r.Next()
			if err != nil {
				return nil
			}
			fn(path, rec)
		}
	})
}
