package ingest

import (
	"errors"
	"strings"
	"testing"
)

func TestSplitJSON(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		want    []string
		badRec  int64
		wantErr error
	}{
		{"ndjson", "{\"a\":1}\n{\"b\":\"x}\"}\n\n", []string{`{"a":1}`, `{"b":"x}"}`}, 0, nil},
		{"array", ` [ {"a":[1,2]} , "line two" ] `, []string{`{"a":[1,2]}`, `"line two"`}, 0, nil},
		{"pretty concatenated", "{\n \"a\": {\"b\": 1}\n}\n{\n\"c\":2}", []string{"{\n \"a\": {\"b\": 1}\n}", "{\n\"c\":2}"}, 0, nil},
		{"single object", `{"x":"\"}{"}`, []string{`{"x":"\"}{"}`}, 0, nil},
		{"empty array", `[]`, nil, 0, nil},
		{"empty body", "  \n", nil, 1, ErrEmpty},
		{"bad third line", "{\"a\":1}\n{\"a\":2}\n{\"a\":}\n{\"a\":4}", nil, 3, ErrSyntax},
		{"number record", "{\"a\":1}\n42\n", nil, 2, ErrNotRecord},
		{"array of numbers", `[{"a":1}, 2]`, nil, 2, ErrNotRecord},
		{"unterminated array", `[{"a":1}, {"b":2}`, nil, 3, ErrSyntax},
		{"unterminated object", `{"a":1`, nil, 1, ErrSyntax},
		{"missing comma", `[{"a":1} {"b":2}]`, nil, 2, ErrSyntax},
		{"trailing garbage after array", `[{"a":1}] x`, nil, 2, ErrSyntax},
		{"unterminated string", `{"a":"b`, nil, 1, ErrSyntax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			n, err := SplitJSON([]byte(c.body), func(i int, rec []byte) error {
				got = append(got, string(rec))
				return nil
			})
			if c.wantErr != nil {
				var re *RecordError
				if !errors.As(err, &re) || !errors.Is(err, c.wantErr) || re.Record != c.badRec {
					t.Fatalf("err = %v, want record %d %v", err, c.badRec, c.wantErr)
				}
				if !strings.Contains(err.Error(), "record ") {
					t.Fatalf("error %q does not name the record", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != len(c.want) || strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("got %d %q, want %q", n, got, c.want)
			}
		})
	}
}

func FuzzSplitJSON(f *testing.F) {
	for _, s := range []string{"{\"a\":1}\n{\"b\":2}", `[{"a":1},"x"]`, `{"a":"\\\""}`, "[", `{"a":[}`, "\"\\", "[]", " "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n := 0
		_, err := SplitJSON(body, func(i int, rec []byte) error {
			n++
			if i != n {
				t.Fatalf("record numbers not consecutive: %d after %d", i, n-1)
			}
			if checkRecord(rec) != nil {
				t.Fatalf("record %d %q passed to fn but invalid", i, rec)
			}
			return nil
		})
		var re *RecordError
		if err != nil && !errors.As(err, &re) {
			t.Fatalf("error %v is not a RecordError", err)
		}
	})
}

func BenchmarkSplitJSONNDJSON(b *testing.B) {
	line := `{"EventID":4624,"Computer":"ws01.corp.local","TargetUserName":"alice","IpAddress":"10.1.2.3","LogonType":3,"Message":"An account was successfully logged on.\r\n"}` + "\n"
	body := []byte(strings.Repeat(line, 1000))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SplitJSON(body, func(int, []byte) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
