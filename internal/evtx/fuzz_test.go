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
		checkRecords(t, r, 1<<20, func(name, value string) {})
	})
}

// checkRecords reads every record of r (failing past max of them) and checks that each renders as
// valid JSON; fields sees the flat fields of every record.
func checkRecords(t *testing.T, r *Reader, max int, fields func(name, value string)) {
	var buf []byte
	for i := 0; ; i++ {
		if i > max {
			t.Fatal("too many records")
		}
		rec, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		buf = rec.AppendJSON(buf[:0])
		if !json.Valid(buf) {
			t.Fatalf("invalid JSON: %s", buf)
		}
		rec.Fields(fields)
	}
}

// FuzzRecordBinXML feeds arbitrary bytes as the BinXML of one record, in a valid file whose
// next record is a valid one: far smaller inputs than whole files, so the fuzzer spends its
// time in the BinXML parser (templates, substitutions, value types, nesting). The parser must
// not panic or hang, every record it returns must render as valid JSON, and the valid record
// after the damaged one must still be read.
func FuzzRecordBinXML(f *testing.F) {
	// Seeds: the records of the synthetic sample, and a few hand-made breakages of the first.
	file := synthSample()
	chunk := file[fileHeaderSize:]
	free := int(binary.LittleEndian.Uint32(chunk[48:]))
	for off := chunkHeaderSize; off+recordHeaderLen+4 <= free; {
		size := int(binary.LittleEndian.Uint32(chunk[off+4:]))
		if size < recordHeaderLen+4 || off+size > free {
			break
		}
		payload := chunk[off+recordHeaderLen : off+size-4]
		f.Add(bytes.Clone(payload))
		f.Add(bytes.Clone(payload[:len(payload)/2]))
		f.Add(append(bytes.Clone(payload[:8]), 0x0d, 0xff, 0xff, 0x21))
		off += size
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) > 16<<10 {
			return
		}
		data := synthFile(
			func(x *bx) { x.raw(payload) },
			func(x *bx) {
				x.fragment()
				x.instance(-1, synthTemplate, []value{
					val(tUint16, le16(1)), val(tUint16, le16(4242)), val(tNull, nil),
					val(tString|tArray, append(str16("z"), 0, 0)), val(tBinXML, nil), val(tString, str16("after")),
					val(tUint32, le32(1)), val(tHexInt64, binary.LittleEndian.AppendUint64(nil, 1)),
					val(tNull, nil), val(tNull, nil), val(tNull, nil),
				})
				x.eof()
			},
		)
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("the valid file is refused: %v", err)
		}
		sawValid := false
		checkRecords(t, r, 10, func(name, value string) {
			if name == "EventID" && value == "4242" {
				sawValid = true
			}
		})
		if !sawValid {
			t.Fatalf("the valid record after the fuzzed one was lost (problems: %v)", r.Problems())
		}
	})
}
