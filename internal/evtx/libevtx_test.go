package evtx

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
	tool, files := libevtxSetup(t)
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

// libevtxSetup returns the path of evtxexport and the EVTX files of the datasets, or skips
// the test (fails it under CI, which installs the tool).
func libevtxSetup(t *testing.T) (tool string, files []string) {
	t.Helper()
	tool, err := exec.LookPath("evtxexport")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("evtxexport not found: .ci/run installs libevtx-utils")
		}
		t.Skip("evtxexport (libevtx-utils) not installed")
	}
	err = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".evtx") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Skipf("no EVTX files under %s: %v", dataDir, err)
	}
	return tool, files
}

// TestLibevtxFields checks this Reader's field names against libevtx's XML rendering of the
// same files (evtxexport -f xml): every System element and attribute, every named EventData
// item and every item of a UserData section libevtx shows is a field of the record, named as
// Fields names it (Provider Name is Provider_Name, <Data Name="Image"> is Image,
// <LogFileCleared><SubjectUserName> is SubjectUserName), with the same value. The strings test
// above cannot see a value given the wrong name.
func TestLibevtxFields(t *testing.T) {
	tool, files := libevtxSetup(t)
	var records, fields int
	for _, path := range files {
		out, err := exec.Command(tool, "-f", "xml", path).Output()
		if err != nil {
			t.Errorf("%s: evtxexport: %v", path, err)
			continue
		}
		theirs, err := parseEvtxexportXML(xmlSafe(out))
		if err != nil {
			t.Errorf("%s: evtxexport's XML: %v", path, err)
			continue
		}
		ours := readValues(t, path)
		if len(ours) != len(theirs) {
			t.Errorf("%s: %d records, libevtx's XML has %d events", path, len(ours), len(theirs))
			continue
		}
		for i, want := range theirs {
			rec := ours[i]
			records++
			for _, f := range want {
				fields++
				got := rec.all(f[0])
				if len(got) == 0 {
					t.Errorf("%s record %d: no field %s (libevtx: %q)", path, i+1, f[0], f[1])
				} else if !slices.ContainsFunc(got, func(v string) bool { return normXMLValue(v) == normXMLValue(f[1]) }) {
					t.Errorf("%s record %d: %s = %q, libevtx %q", path, i+1, f[0], got, f[1])
				}
			}
		}
	}
	if records == 0 || fields == 0 {
		t.Fatalf("compared %d records and %d fields: nothing to compare", records, fields)
	}
	t.Logf("%d files, %d records and %d named fields agree", len(files), records, fields)
}

// xmlSafe replaces the control characters XML 1.0 does not allow, which evtxexport writes as
// they are (a SID history value holds U+000F), by U+FFFD, so that the output parses.
func xmlSafe(b []byte) []byte { return bytes.Map(xmlChar, b) }

// xmlChar is r, or U+FFFD for a control character XML 1.0 does not allow.
func xmlChar(r rune) rune {
	if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
		return '\uFFFD'
	}
	return r
}

// normXMLValue is normValue for values that went through XML: line ends are one \n (XML
// normalizes them), space around a value is not significant, and a control character is
// U+FFFD (see xmlSafe).
func normXMLValue(v string) string {
	return normValue(strings.Map(xmlChar, strings.ReplaceAll(v, "\r\n", "\n")))
}

// xmlEvent is the part of an event libevtx renders in XML that the field names are checked
// against: the System section's elements, and EventData's named items.
type xmlEvent struct {
	System struct {
		Elems []struct {
			XMLName xml.Name
			Attrs   []xml.Attr `xml:",any,attr"`
			Value   string     `xml:",chardata"`
		} `xml:",any"`
	} `xml:"System"`
	EventData struct {
		Data []struct {
			Name  string `xml:"Name,attr"`
			Value string `xml:",chardata"`
		} `xml:"Data"`
	} `xml:"EventData"`
	// UserData holds one element (LogFileCleared, EventXML) whose items are named by their
	// element.
	UserData struct {
		Sections []struct {
			Items []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
				Inner   []struct {
					XMLName xml.Name
				} `xml:",any"`
			} `xml:",any"`
		} `xml:",any"`
	} `xml:"UserData"`
}

// parseEvtxexportXML returns, per event of evtxexport's XML output, the (field name, value)
// pairs Fields must give: a System element's text under its name (unless it has attributes
// and no text), its attributes as element_attribute, EventData's named items, and the items
// (without children) of UserData's sections.
func parseEvtxexportXML(out []byte) ([][][2]string, error) {
	var evs [][][2]string
	dec := xml.NewDecoder(bytes.NewReader(out))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Event" {
			continue
		}
		var ev xmlEvent
		if err := dec.DecodeElement(&ev, &se); err != nil {
			return nil, err
		}
		var fs [][2]string
		for _, el := range ev.System.Elems {
			name := el.XMLName.Local
			if v := strings.TrimSpace(el.Value); v != "" || len(el.Attrs) == 0 {
				fs = append(fs, [2]string{name, v})
			}
			for _, a := range el.Attrs {
				if a.Name.Space == "" && a.Name.Local != "xmlns" {
					fs = append(fs, [2]string{name + "_" + a.Name.Local, a.Value})
				}
			}
		}
		for _, d := range ev.EventData.Data {
			if d.Name != "" {
				fs = append(fs, [2]string{d.Name, strings.TrimSpace(d.Value)})
			}
		}
		for _, sec := range ev.UserData.Sections {
			for _, it := range sec.Items {
				if len(it.Inner) == 0 {
					fs = append(fs, [2]string{it.XMLName.Local, strings.TrimSpace(it.Value)})
				}
			}
		}
		evs = append(evs, fs)
	}
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

// get returns the value of the record's first field named name, or "".
func (r *recordValues) get(name string) string {
	if vs := r.all(name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// all returns the values of the record's fields named name: System's Version and an
// EventData item named Version are both Version.
func (r *recordValues) all(name string) []string {
	var vs []string
	for i, n := range r.names {
		if n == name {
			vs = append(vs, r.values[i])
		}
	}
	return vs
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
	var recs []*recordValues
	problems, err := eachRecord(path, func(rec *Record) {
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
	})
	if err != nil {
		t.Errorf("%s: %v", path, err)
	}
	for _, p := range problems {
		t.Errorf("%s: %v", path, p)
	}
	return recs
}
