package evtx

import (
	"bufio"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestLibevtxAgreement reads every EVTX file of the datasets with this Reader and with
// evtxexport, the export tool of libevtx (an independent implementation in C, Debian package
// libevtx-utils, which .ci/run installs), and checks that both find the same records, in the
// same order, with the same event identifier and computer, and that every string libevtx
// gives for an event (its substitution strings) is among this Reader's values for it. The
// two render some types differently, which the comparison undoes: hexadecimal numbers with
// or without leading zeros, GUIDs with or without braces, times to 100 ns or to 1 µs.
func TestLibevtxAgreement(t *testing.T) {
	tool, err := exec.LookPath("evtxexport")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("evtxexport not found: .ci/run installs libevtx-utils")
		}
		t.Skip("evtxexport (libevtx-utils) not installed")
	}
	var files []string
	err = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".evtx") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Skipf("no EVTX files under %s: %v", dataDir, err)
	}
	var records, strs int
	for _, path := range files {
		out, err := exec.Command(tool, path).Output()
		if err != nil {
			t.Errorf("%s: evtxexport: %v", path, err)
			continue
		}
		theirs := parseEvtxexport(out)
		ours := readValues(t, path)
		if len(ours) != len(theirs) {
			t.Errorf("%s: %d records, libevtx finds %d", path, len(ours), len(theirs))
			continue
		}
		for i, ev := range theirs {
			rec := ours[i]
			records++
			if got := rec.get("EventID"); got != strconv.Itoa(ev.id) {
				t.Errorf("%s record %d: EventID %q, libevtx %d", path, i+1, got, ev.id)
			}
			if got := rec.get("Computer"); got != ev.computer {
				t.Errorf("%s record %d: Computer %q, libevtx %q", path, i+1, got, ev.computer)
			}
			for _, s := range ev.strings {
				strs++
				if !rec.holds(s) {
					t.Errorf("%s record %d: libevtx string %q is not among the record's values %q", path, i+1, s, rec.values)
				}
			}
		}
	}
	if records == 0 || strs == 0 {
		t.Fatalf("compared %d records and %d strings: nothing to compare", records, strs)
	}
	t.Logf("%d files, %d records and %d libevtx strings agree", len(files), records, strs)
}

// libevtxEvent is what evtxexport prints of an event.
type libevtxEvent struct {
	id       int
	computer string
	strings  []string // first lines of the substitution strings
}

var (
	evtxexportLine = regexp.MustCompile(`^([A-Za-z ]+?)(?:: (\d+))?\t+: ?(.*)$`)
	hexNumber      = regexp.MustCompile(`^0x[0-9a-f]+$`)
	isoTime        = regexp.MustCompile(`^(\d{4}-\d\d-\d\dt\d\d:\d\d:\d\d\.\d{6})\d*z$`)
)

// parseEvtxexport reads evtxexport's text output: an "Event number" line opens each event,
// followed by "name\t: value" lines ("String: N\t: value" for the strings).
func parseEvtxexport(out []byte) []libevtxEvent {
	var evs []libevtxEvent
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := evtxexportLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		switch m[1] {
		case "Event number":
			evs = append(evs, libevtxEvent{})
		}
		if len(evs) == 0 {
			continue
		}
		ev := &evs[len(evs)-1]
		switch m[1] {
		case "Event identifier": // "0x00001000 (4096)": the low 16 bits are the EventID
			if i := strings.IndexByte(m[3], '('); i >= 0 {
				n, _ := strconv.Atoi(strings.TrimSuffix(m[3][i+1:], ")"))
				ev.id = n & 0xffff
			}
		case "Computer name":
			ev.computer = m[3]
		case "String":
			ev.strings = append(ev.strings, m[3])
		}
	}
	return evs
}

// recordValues holds one record's fields as this Reader renders them.
type recordValues struct {
	names, values []string
	norm          map[string]bool
	joined        string
}

func (r *recordValues) get(name string) string {
	for i, n := range r.names {
		if n == name {
			return r.values[i]
		}
	}
	return ""
}

// holds reports whether s, a string evtxexport printed, is one of the record's values (or
// the first line of one), once both are put in the same form.
func (r *recordValues) holds(s string) bool {
	n := normValue(s)
	return n == "" || r.norm[n] || strings.Contains(r.joined, strings.ToLower(strings.TrimSpace(s)))
}

func normValue(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if hexNumber.MatchString(v) {
		if n, err := strconv.ParseUint(v[2:], 16, 64); err == nil {
			return strconv.FormatUint(n, 10)
		}
	}
	if m := isoTime.FindStringSubmatch(v); m != nil {
		return m[1] + "z"
	}
	return strings.Trim(v, "{}")
}

// readValues reads every record of the file at path, failing the test on problems.
func readValues(t *testing.T, path string) []*recordValues {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := NewReader(f)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return nil
	}
	var recs []*recordValues
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Errorf("%s: %v", path, err)
			break
		}
		rv := &recordValues{norm: map[string]bool{}}
		var joined strings.Builder
		rec.Fields(func(name, value string) {
			value = strings.Clone(value) // valid until the next record otherwise
			rv.names = append(rv.names, name)
			rv.values = append(rv.values, value)
			rv.norm[normValue(value)] = true
			joined.WriteString(strings.ToLower(value))
			joined.WriteByte('\n')
		})
		rv.joined = joined.String()
		recs = append(recs, rv)
	}
	for _, p := range rd.Problems() {
		t.Errorf("%s: %v", path, p)
	}
	return recs
}
