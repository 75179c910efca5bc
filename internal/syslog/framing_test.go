package syslog

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// item is one result of Reader.Next, flattened for comparison.
type item struct {
	Data    string
	Offset  int64
	Framing Framing
	Err     string // "" or "too large <size>" or "unexpected EOF"
}

func readAll(t *testing.T, r *Reader) []item {
	t.Helper()
	var out []item
	for range 10000 {
		f, err := r.Next()
		if err == io.EOF {
			return out
		}
		var fe *FrameError
		switch {
		case err == nil:
			out = append(out, item{Data: string(f.Data), Offset: f.Offset, Framing: f.Framing})
		case errors.As(err, &fe) && errors.Is(err, ErrFrameTooLarge):
			out = append(out, item{Offset: fe.Offset, Err: fmt.Sprintf("too large %d", fe.Size)})
		case errors.As(err, &fe) && errors.Is(err, io.ErrUnexpectedEOF):
			out = append(out, item{Offset: fe.Offset, Err: "unexpected EOF"})
		default:
			t.Fatalf("Next: %v", err)
		}
	}
	t.Fatal("Next never returned io.EOF")
	return nil
}

// readerTests are streams with the frames they hold. They also seed FuzzFraming.
var readerTests = []struct {
	name string
	max  int
	in   string
	want []item
}{
	{
		name: "non-transparent with LF, CRLF and NUL trailers",
		in:   "<13>a\n<13>b\r\n<13>c\x00<13>d",
		want: []item{{"<13>a", 0, NonTransparent, ""}, {"<13>b", 6, NonTransparent, ""},
			{"<13>c", 13, NonTransparent, ""}, {"<13>d", 19, NonTransparent, ""}},
	},
	{
		name: "octet counting back to back, LFs inside",
		in:   "11 <13>1 - - x13 <13>line\nnext",
		want: []item{{"<13>1 - - x", 0, OctetCounting, ""}, {"<13>line\nnext", 14, OctetCounting, ""}},
	},
	{
		name: "framings mixed frame by frame, trailing LF after a counted frame",
		in:   "5 <13>a\n<13>b\n5 <13>c",
		want: []item{{"<13>a", 0, OctetCounting, ""}, {"<13>b", 8, NonTransparent, ""}, {"<13>c", 14, OctetCounting, ""}},
	},
	{
		name: "empty frames skipped",
		in:   "\n\r\n\x00\x00<13>a\n\n",
		want: []item{{"<13>a", 5, NonTransparent, ""}},
	},
	{
		name: "digits without a space, a leading zero, eleven digits: all non-transparent",
		in:   "123abc\n0 zero\n12345678901 x\n",
		want: []item{{"123abc", 0, NonTransparent, ""}, {"0 zero", 7, NonTransparent, ""}, {"12345678901 x", 14, NonTransparent, ""}},
	},
	{
		name: "oversize line skipped up to its LF",
		max:  8,
		in:   "<13>ok\n<13>far too long for the limit\n<13>ok2\n",
		want: []item{{"<13>ok", 0, NonTransparent, ""}, {"", 7, 0, "too large 30"}, {"<13>ok2", 38, NonTransparent, ""}},
	},
	{
		name: "oversize line much longer than the buffer",
		max:  8,
		in:   "<13>" + strings.Repeat("x", 100) + "\n<13>ok\n",
		want: []item{{"", 0, 0, "too large 104"}, {"<13>ok", 105, NonTransparent, ""}},
	},
	{
		name: "oversize counted frame skipped by its count, even with LFs inside",
		max:  8,
		in:   "19 <13>a\nb\nc\nd\ne\nf\ng\nh8 <13>okay",
		want: []item{{"", 0, 0, "too large 19"}, {"<13>okay", 22, OctetCounting, ""}},
	},
	{
		name: "exactly the limit passes in both framings, one more fails",
		max:  5,
		in:   "<13>a\r\n5 <13>b<13>ab\n6 <13>ab<13>c\n",
		want: []item{{"<13>a", 0, NonTransparent, ""}, {"<13>b", 7, OctetCounting, ""},
			{"", 14, 0, "too large 6"}, {"", 21, 0, "too large 6"}, {"<13>c", 29, NonTransparent, ""}},
	},
	{
		name: "stream ends inside a counted frame",
		in:   "<13>a\n50 <13>short",
		want: []item{{"<13>a", 0, NonTransparent, ""}, {"", 6, 0, "unexpected EOF"}},
	},
	{
		name: "stream ends inside an oversize counted frame",
		max:  4,
		in:   "50 <13>short",
		want: []item{{"", 0, 0, "too large 50"}},
	},
	{
		name: "stream ends inside the digits",
		in:   "<13>a\n123",
		want: []item{{"<13>a", 0, NonTransparent, ""}, {"123", 6, NonTransparent, ""}},
	},
}

func TestReader(t *testing.T) {
	for _, tt := range readerTests {
		for _, oneByte := range []bool{false, true} {
			name := tt.name
			if oneByte {
				name += "/one byte at a time"
			}
			t.Run(name, func(t *testing.T) {
				var rd io.Reader = strings.NewReader(tt.in)
				if oneByte {
					rd = iotest.OneByteReader(rd)
				}
				got := readAll(t, NewReader(rd, tt.max))
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("frames:\n got  %+v\n want %+v", got, tt.want)
				}
			})
		}
	}
}

func TestReaderDefaultLimit(t *testing.T) {
	big := "<13>" + strings.Repeat("a", DefaultMaxFrameSize-4)
	in := big + "\n" + big + "b\n" + fmt.Sprintf("%d %s", len(big), big) + "<13>end\n"
	got := readAll(t, NewReader(strings.NewReader(in), 0))
	if len(got) != 4 {
		t.Fatalf("got %d results, want 4", len(got))
	}
	if got[0].Data != big || got[1].Err != fmt.Sprintf("too large %d", DefaultMaxFrameSize+1) || got[2].Data != big || got[3].Data != "<13>end" {
		t.Errorf("unexpected results: %.80v", got)
	}
	if got[2].Offset != int64(2*len(big)+3) {
		t.Errorf("third frame at %d, want %d", got[2].Offset, 2*len(big)+3)
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := NewReader(io.MultiReader(strings.NewReader("<13>a\n<13>partial"), iotest.ErrReader(boom)), 0)
	f, err := r.Next()
	if err != nil || string(f.Data) != "<13>a" {
		t.Fatalf("Next = %q, %v", f.Data, err)
	}
	// The partial line is delivered before the error, as at the end of a stream.
	f, err = r.Next()
	if err != nil || string(f.Data) != "<13>partial" {
		t.Fatalf("Next = %q, %v", f.Data, err)
	}
	for range 2 {
		if _, err := r.Next(); !errors.Is(err, boom) {
			t.Fatalf("Next error = %v, want %v", err, boom)
		}
	}
}

func TestReaderNoProgress(t *testing.T) {
	r := NewReader(zeroReader{}, 0)
	if _, err := r.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("Next error = %v, want io.ErrNoProgress", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestFrameErrorMessage(t *testing.T) {
	r := NewReader(strings.NewReader("<13>0123456789\n"), 8)
	_, err := r.Next()
	if want := "syslog: frame at byte 0: 14 bytes exceeds the 8-byte limit"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	r = NewReader(strings.NewReader("9 <13>"), 20)
	_, err = r.Next()
	if want := "syslog: frame at byte 0: stream ended inside a 9-byte octet-counted frame"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// TestReaderThenParse is the listener's loop: frames from a stream, each parsed.
func TestReaderThenParse(t *testing.T) {
	counted := `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [ex@32473 iut="3"]`
	in := "<38>Mar  5 10:15:23 web01 sshd[2213]: Failed password for root from 203.0.113.7 port 40022 ssh2\n" +
		fmt.Sprintf("%d %s", len(counted), counted)
	r := NewReader(strings.NewReader(in), 0)
	p := Parser{Reference: ref}
	var apps []string
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		m, err := p.Parse(f.Data)
		if err != nil {
			t.Fatalf("frame at %d: %v", f.Offset, err)
		}
		apps = append(apps, m.AppName)
	}
	if got := strings.Join(apps, ","); got != "sshd,evntslog" {
		t.Errorf("apps = %q", got)
	}
}
