package syslog

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpora from the test tables")

// TestFuzzCorpus keeps testdata/fuzz in step with the test tables: every table line is a committed
// seed. Run with -update after changing a table.
func TestFuzzCorpus(t *testing.T) {
	var parseSeeds, frameSeeds []string
	for _, tt := range parseTests {
		parseSeeds = append(parseSeeds, corpusFile(tt.line))
	}
	for _, tt := range parseErrorTests {
		parseSeeds = append(parseSeeds, corpusFile(tt.line))
	}
	for _, tt := range readerTests {
		frameSeeds = append(frameSeeds, corpusFile(tt.in, tt.max))
	}
	checkCorpus(t, "FuzzParse", parseSeeds)
	checkCorpus(t, "FuzzFraming", frameSeeds)
}

// corpusFile renders values in the "go test fuzz v1" format.
func corpusFile(vals ...any) string {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(v))
		case int:
			fmt.Fprintf(&b, "int(%d)\n", v)
		default:
			panic(fmt.Sprintf("corpusFile: unsupported %T", v))
		}
	}
	return b.String()
}

func checkCorpus(t *testing.T, target string, files []string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	for _, content := range files {
		path := filepath.Join(dir, fmt.Sprintf("seed-%x", sha256.Sum256([]byte(content)))[:5+16])
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("seed corpus out of date: %s missing or different (run go test -run TestFuzzCorpus -update)", path)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		raw := trimTrailers(string(line))
		strict := Parser{Reference: ref}
		m, err := strict.Parse(line)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if pe.Offset < 0 || pe.Offset > len(raw) || pe.Field == "" || pe.Reason == "" {
				t.Fatalf("error %+v: offset outside the line of %d bytes or no field or reason", pe, len(raw))
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotSyslog) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrNotSyslog", err)
			}
		} else {
			checkInvariants(t, m, raw)
		}

		lenient := Parser{Reference: ref, Lenient: true}
		lm, lerr := lenient.Parse(line)
		if lerr != nil {
			t.Fatalf("lenient Parse: %v", lerr)
		}
		if lm.Raw != raw {
			t.Fatalf("lenient Raw = %q, want %q", lm.Raw, raw)
		}
		if err == nil && !sameMessage(m, lm) {
			t.Fatalf("lenient and strict disagree:\n strict  %+v\n lenient %+v", m, lm)
		}

		// An RFC 5424 message, written out again, reads back the same.
		if err == nil && m.Format == FormatRFC5424 && !strings.HasPrefix(m.Message, bom) {
			again, err := strict.ParseString(format5424(m))
			if err != nil {
				t.Fatalf("re-parse of %q: %v", format5424(m), err)
			}
			again.Raw = m.Raw
			if !sameMessage(m, again) {
				t.Fatalf("round trip changed the message:\n first %+v\n again %+v", m, again)
			}
		}
	})
}

func checkInvariants(t *testing.T, m Message, raw string) {
	t.Helper()
	if m.Raw != raw {
		t.Fatalf("Raw = %q, want %q", m.Raw, raw)
	}
	if m.Format != FormatRFC3164 && m.Format != FormatRFC5424 {
		t.Fatalf("strict Parse returned Format %v", m.Format)
	}
	if m.Priority.Facility > FacilityLocal7 || m.Priority.Severity > SeverityDebug {
		t.Fatalf("Priority %+v out of range", m.Priority)
	}
	if !m.HasPriority && m.Priority != DefaultPriority {
		t.Fatalf("no PRI but Priority %v", m.Priority)
	}
	if m.Format == FormatRFC5424 && (m.Version != 1 || !m.HasPriority) {
		t.Fatalf("RFC 5424 message with Version %d, HasPriority %v", m.Version, m.HasPriority)
	}
	for _, f := range []string{m.Hostname, m.AppName, m.ProcID, m.MsgID, m.Message} {
		if !strings.Contains(raw, f) {
			t.Fatalf("field %q is not part of the line", f)
		}
	}
	for _, f := range []string{m.Hostname, m.AppName, m.ProcID, m.MsgID} {
		if strings.ContainsAny(f, " \t") {
			t.Fatalf("header field %q holds a space", f)
		}
	}
	for _, el := range m.StructuredData {
		if el.ID == "" {
			t.Fatal("SD-ELEMENT without an ID")
		}
		for _, p := range el.Params {
			if p.Name == "" {
				t.Fatal("SD-PARAM without a name")
			}
		}
	}
}

func sameMessage(a, b Message) bool {
	if !a.Timestamp.Equal(b.Timestamp) {
		return false
	}
	a.Timestamp, b.Timestamp = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// format5424 writes m as an RFC 5424 line.
func format5424(m Message) string {
	nil5424 := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 ", m.Priority.Value())
	if m.Timestamp.IsZero() {
		b.WriteString("-")
	} else {
		b.WriteString(m.Timestamp.Format("2006-01-02T15:04:05.999999999Z07:00"))
	}
	fmt.Fprintf(&b, " %s %s %s %s ", nil5424(m.Hostname), nil5424(m.AppName), nil5424(m.ProcID), nil5424(m.MsgID))
	if len(m.StructuredData) == 0 {
		b.WriteString("-")
	}
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)
	for _, el := range m.StructuredData {
		b.WriteString("[" + el.ID)
		for _, p := range el.Params {
			fmt.Fprintf(&b, ` %s="%s"`, p.Name, esc.Replace(p.Value))
		}
		b.WriteString("]")
	}
	if m.Message != "" {
		b.WriteString(" " + m.Message)
	}
	return b.String()
}

func FuzzFraming(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		limit = 1 + abs(limit)%300
		whole := frames(t, bytes.NewReader(data), limit, len(data))
		oneByte := frames(t, iotest.OneByteReader(bytes.NewReader(data)), limit, len(data))
		if !reflect.DeepEqual(whole, oneByte) {
			t.Fatalf("read whole and one byte at a time differ:\n %+v\n %+v", whole, oneByte)
		}
		last := int64(-1)
		for _, fr := range whole {
			if fr.Offset <= last || fr.Offset >= int64(len(data)) {
				t.Fatalf("frame offset %d after %d, stream of %d bytes", fr.Offset, last, len(data))
			}
			last = fr.Offset
			if fr.Err != "" {
				continue
			}
			if len(fr.Data) == 0 || len(fr.Data) > limit {
				t.Fatalf("frame of %d bytes, limit %d", len(fr.Data), limit)
			}
			at := data[fr.Offset:]
			if fr.Framing == OctetCounting {
				at = bytes.TrimPrefix(at, []byte(strconv.Itoa(len(fr.Data))+" "))
			}
			if !bytes.HasPrefix(at, []byte(fr.Data)) {
				t.Fatalf("frame %q is not the stream's bytes at offset %d", fr.Data, fr.Offset)
			}
		}

		// Messages split from data survive octet-counted framing, and non-transparent framing
		// when they can be told apart from octet counting.
		var counted, lines bytes.Buffer
		var wantCounted, wantLines []string
		for msg := range bytes.SplitSeq(data, []byte{'\n'}) {
			if len(msg) == 0 {
				continue
			}
			fmt.Fprintf(&counted, "%d %s", len(msg), msg)
			wantCounted = append(wantCounted, string(msg))
			if bytes.IndexByte(msg, 0) < 0 && msg[len(msg)-1] != '\r' && !looksCounted(msg) {
				lines.Write(msg)
				lines.WriteByte('\n')
				wantLines = append(wantLines, string(msg))
			}
		}
		check := func(stream []byte, want []string) {
			var got []string
			for _, fr := range frames(t, bytes.NewReader(stream), len(data)+1, len(stream)) {
				if fr.Err != "" {
					t.Fatalf("re-framed stream %q: %s", stream, fr.Err)
				}
				got = append(got, fr.Data)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("re-framed stream %q:\n got  %q\n want %q", stream, got, want)
			}
		}
		check(counted.Bytes(), wantCounted)
		check(lines.Bytes(), wantLines)
	})
}

func abs(n int) int {
	if n < 0 {
		if n = -n; n < 0 {
			return 0
		}
	}
	return n
}

// looksCounted reports whether msg starts the way an octet-counted frame does.
func looksCounted(msg []byte) bool {
	i := 0
	for i < len(msg) && i < 10 && isDigit(msg[i]) {
		i++
	}
	return i > 0 && msg[0] != '0' && i < len(msg) && msg[i] == ' '
}

// frames reads every frame, failing the test if the Reader does not finish.
func frames(t *testing.T, rd io.Reader, limit, size int) []item {
	t.Helper()
	r := NewReader(rd, limit)
	var out []item
	for range size + 2 {
		f, err := r.Next()
		if err == io.EOF {
			return out
		}
		var fe *FrameError
		switch {
		case err == nil:
			out = append(out, item{Data: string(f.Data), Offset: f.Offset, Framing: f.Framing})
		case errors.As(err, &fe):
			if fe.Offset < 0 || fe.Size <= 0 {
				t.Fatalf("FrameError %+v", fe)
			}
			out = append(out, item{Offset: fe.Offset, Err: err.Error()})
		default:
			t.Fatalf("Next: %v", err)
		}
	}
	t.Fatalf("Reader returned more results than a %d-byte stream can hold", size)
	return nil
}
