package evtx

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"testing"
)

func jsonValid(b []byte) bool { return json.Valid(b) }

// FuzzReader feeds arbitrary bytes to the Reader: it must not panic or hang, and every
// record it returns must render as valid JSON and flat fields. The seed corpus is in
// testdata/fuzz/FuzzReader (a truncated header, a one-chunk file cut from a sample, garbage).
func FuzzReader(f *testing.F) {
	// The synthetic sample, cut right after its records: nested BinXML, arrays, optional
	// substitutions, references.
	synth := synthSample()
	free := int(binary.LittleEndian.Uint32(synth[fileHeaderSize+48:]))
	f.Add(synth[:fileHeaderSize+free])
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf []byte
		for i := 0; ; i++ {
			if i > 1<<20 {
				t.Fatal("too many records")
			}
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			buf = rec.AppendJSON(buf[:0])
			if !json.Valid(buf) {
				t.Fatalf("invalid JSON: %s", buf)
			}
			rec.Fields(func(name, value string) {})
		}
	})
}
