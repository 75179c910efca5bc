package evtx

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"unicode/utf16"
)

// bx writes BinXML at a known chunk offset (base), so that inline names and templates can
// point at themselves as real records do.
type bx struct {
	b     []byte
	base  int
	noDep bool // element starts without dependency identifier (BinXML in a substitution)
}

func (x *bx) pos() int     { return x.base + len(x.b) }
func (x *bx) u8(v byte)    { x.b = append(x.b, v) }
func (x *bx) u16(v int)    { x.b = binary.LittleEndian.AppendUint16(x.b, uint16(v)) }
func (x *bx) u32(v int)    { x.b = binary.LittleEndian.AppendUint32(x.b, uint32(v)) }
func (x *bx) raw(p []byte) { x.b = append(x.b, p...) }
func (x *bx) str16(s string) {
	for _, u := range utf16.Encode([]rune(s)) {
		x.u16(int(u))
	}
}

// name writes a name reference with the name inline.
func (x *bx) name(s string) {
	x.u32(x.pos() + 4)
	x.u32(0)
	x.u16(0)
	x.u16(len(utf16.Encode([]rune(s))))
	x.str16(s)
	x.u16(0)
}

func (x *bx) fragment() { x.raw([]byte{0x0f, 1, 1, 0}) }

func (x *bx) open(name string, attrs bool) {
	if attrs {
		x.u8(0x41)
	} else {
		x.u8(0x01)
	}
	if !x.noDep {
		x.u16(0)
	}
	x.u32(0)
	x.name(name)
	if attrs {
		x.u32(0)
	}
}

func (x *bx) attr(name string) { x.u8(0x06); x.name(name) }
func (x *bx) closeStart()      { x.u8(0x02) }
func (x *bx) closeEmpty()      { x.u8(0x03) }
func (x *bx) end()             { x.u8(0x04) }
func (x *bx) eof()             { x.u8(0x00) }
func (x *bx) text(s string) {
	x.u8(0x05)
	x.u8(tString)
	x.u16(len(utf16.Encode([]rune(s))))
	x.str16(s)
}
func (x *bx) entity(name string) { x.u8(0x09); x.name(name) }
func (x *bx) charRef(c int)      { x.u8(0x08); x.u16(c) }
func (x *bx) cdata(s string)     { x.u8(0x07); x.u16(len(utf16.Encode([]rune(s)))); x.str16(s) }
func (x *bx) pi(target, data string) {
	x.u8(0x0a)
	x.name(target)
	x.u8(0x0b)
	x.u16(len(data))
	x.str16(data)
}
func (x *bx) sub(i int, vt byte, opt bool) {
	if opt {
		x.u8(0x0e)
	} else {
		x.u8(0x0d)
	}
	x.u16(i)
	x.u8(vt)
}

type value struct {
	vt   byte
	data func(base int) []byte // built at its chunk offset
}

func val(vt byte, data []byte) value { return value{vt, func(int) []byte { return data }} }

// instance writes a template instance; def builds the definition body when it is inline
// (defOff < 0), otherwise the instance refers to defOff.
func (x *bx) instance(defOff int, def func(*bx), values []value) int {
	x.u8(0x0c)
	x.u8(1)
	x.u32(0x1234)
	if defOff < 0 {
		defOff = x.pos() + 4
		x.u32(defOff)
		body := &bx{base: defOff + 24}
		body.fragment()
		def(body)
		body.eof()
		x.u32(0)
		x.raw(bytes.Repeat([]byte{0xab}, 16)) // GUID
		x.u32(len(body.b))
		x.raw(body.b)
	} else {
		x.u32(defOff)
	}
	x.u32(len(values))
	base := x.pos() + 4*len(values)
	var data [][]byte
	for _, v := range values {
		d := v.data(base)
		data = append(data, d)
		base += len(d)
	}
	for i, v := range values {
		x.u16(len(data[i]))
		x.u8(v.vt)
		x.u8(0)
	}
	for _, d := range data {
		x.raw(d)
	}
	return defOff
}

func str16(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func le16(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
func le32(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }

// synthFile builds a one-chunk EVTX file whose records are written by the record functions.
func synthFile(records ...func(x *bx)) []byte {
	chunk := make([]byte, chunkHeaderSize, chunkSize)
	copy(chunk, chunkMagic)
	for i, rec := range records {
		start := len(chunk)
		x := &bx{base: start + recordHeaderLen}
		rec(x)
		size := recordHeaderLen + len(x.b) + 4
		chunk = append(chunk, recordMagic...)
		chunk = binary.LittleEndian.AppendUint32(chunk, uint32(size))
		chunk = binary.LittleEndian.AppendUint64(chunk, uint64(i+1))
		chunk = binary.LittleEndian.AppendUint64(chunk, 132018428491350000)
		chunk = append(chunk, x.b...)
		chunk = binary.LittleEndian.AppendUint32(chunk, uint32(size))
	}
	free := len(chunk)
	chunk = chunk[:chunkSize]
	le := binary.LittleEndian
	le.PutUint64(chunk[8:], 1)
	le.PutUint64(chunk[16:], uint64(len(records)))
	le.PutUint64(chunk[24:], 1)
	le.PutUint64(chunk[32:], uint64(len(records)))
	le.PutUint32(chunk[40:], 128)
	le.PutUint32(chunk[48:], uint32(free))
	le.PutUint32(chunk[52:], crc32.ChecksumIEEE(chunk[chunkHeaderSize:free]))
	le.PutUint32(chunk[124:], crc32.Update(crc32.ChecksumIEEE(chunk[:120]), crc32.IEEETable, chunk[128:chunkHeaderSize]))
	hdr := make([]byte, fileHeaderSize)
	copy(hdr, fileMagic)
	le.PutUint64(hdr[24:], uint64(len(records)+1))
	le.PutUint32(hdr[32:], 128)
	le.PutUint16(hdr[36:], 1)
	le.PutUint16(hdr[38:], 3)
	le.PutUint16(hdr[40:], fileHeaderSize)
	le.PutUint16(hdr[42:], 1)
	le.PutUint32(hdr[124:], crc32.ChecksumIEEE(hdr[:120]))
	return append(hdr, chunk...)
}

// synthTemplate is the template of the synthetic records.
func synthTemplate(x *bx) {
	x.open("Event", true)
	x.attr("xmlns")
	x.text("x")
	x.closeStart()
	x.open("System", false)
	x.closeStart()
	x.open("EventID", true)
	x.attr("Qualifiers")
	x.sub(0, tUint16, true)
	x.closeStart()
	x.sub(1, tUint16, false)
	x.end()
	x.open("Correlation", true)
	x.attr("ActivityID")
	x.sub(2, tGUID, true)
	x.closeEmpty()
	x.end() // System
	x.open("Items", false)
	x.closeStart()
	x.open("Multi", false)
	x.closeStart()
	x.sub(3, tString|tArray, false)
	x.end()
	x.end() // Items
	x.open("EventData", false)
	x.closeStart()
	data := func(name string, body func()) {
		x.open("Data", true)
		x.attr("Name")
		x.text(name)
		x.closeStart()
		body()
		x.end()
	}
	data("Nested", func() { x.sub(4, tBinXML, true) })
	data("Ent", func() {
		x.text("A")
		x.entity("amp")
		x.text("B")
		x.charRef(65)
		x.cdata("c")
		x.pi("pi", "d")
	})
	data("Opt", func() { x.sub(5, tString, true) })
	data("Num", func() { x.sub(6, tUint32, false) })
	data("Hex", func() { x.sub(7, tHexInt64, false) })
	data("Sid", func() { x.sub(8, tSID, false) })
	data("Real", func() { x.sub(9, tReal64, false) })
	data("When", func() { x.sub(10, tFileTime, false) })
	x.end() // EventData
	x.end() // Event
}

// synthSample is a one-chunk file with two records of one template that use every kind of
// substitution the renderer distinguishes.
func synthSample() []byte {
	sid := []byte{1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}
	guid := []byte{0x5f, 0x38, 0x70, 0x57, 0x2a, 0xc2, 0xe0, 0x43, 0xbf, 0x4c, 0x06, 0xf5, 0x69, 0x8f, 0xfb, 0xd9}
	nested := value{tBinXML, func(base int) []byte {
		x := &bx{base: base, noDep: true}
		x.fragment()
		x.open("Inner", true)
		x.attr("a")
		x.text("1")
		x.closeStart()
		x.text("text")
		x.end()
		x.eof()
		return x.b
	}}
	real := binary.LittleEndian.AppendUint64(nil, 0x3ff8000000000000) // 1.5
	filetime := binary.LittleEndian.AppendUint64(nil, 132018428491350007)
	var defOff int
	return synthFile(
		func(x *bx) {
			x.fragment()
			defOff = x.instance(-1, synthTemplate, []value{
				val(tUint16, le16(16384)),
				val(tUint16, le16(4624)),
				val(tNull, nil),
				val(tString|tArray, append(append(str16("a"), 0, 0), append(str16("b"), 0, 0)...)),
				nested,
				val(tString, nil),
				val(tUint32, le32(7)),
				val(tHexInt64, binary.LittleEndian.AppendUint64(nil, 0xff)),
				val(tSID, sid),
				val(tReal64, real),
				val(tFileTime, filetime),
			})
			x.eof()
		},
		func(x *bx) {
			x.fragment()
			x.instance(defOff, nil, []value{
				val(tNull, nil),
				val(tUint16, le16(4688)),
				val(tGUID, guid),
				val(tString|tArray, append(str16("only"), 0, 0)),
				val(tBinXML, nil),
				val(tString, str16("kept  \x00")),
				val(tUint32, le32(0)),
				val(tHexInt64, binary.LittleEndian.AppendUint64(nil, 0)),
				val(tSID, sid),
				val(tReal64, real),
				val(tFileTime, filetime),
			})
			x.eof()
		},
	)
}

func TestSyntheticRecords(t *testing.T) {
	file := synthSample()
	// A Data element with element children keeps its attributes (Name too), as the crate
	// renders it with write_element_body_json.
	want := []string{
		`{"Event":{"#attributes":{"xmlns":"x"},` +
			`"System":{"EventID":{"#attributes":{"Qualifiers":16384},"#text":4624},"Correlation":null},` +
			`"Items":{"Multi":"a","Multi_1":"b"},` +
			`"EventData":{"Nested":{"#attributes":{"Name":"Nested"},"Inner":{"#attributes":{"a":"1"},"#text":"text"}},"Ent":"A&amp;B&#65;c","Opt":"",` +
			`"Num":7,"Hex":"0xff","Sid":"S-1-5-18","Real":"1.5","When":"2019-05-09T02:34:09.135000Z"}}}`,
		`{"Event":{"#attributes":{"xmlns":"x"},` +
			`"System":{"EventID":4688,"Correlation":{"#attributes":{"ActivityID":"5770385F-C22A-43E0-BF4C-06F5698FFBD9"}}},` +
			`"Items":{"Multi":"only"},` +
			`"EventData":{"Nested":"","Ent":"A&amp;B&#65;c","Opt":"kept",` +
			`"Num":0,"Hex":"0x0","Sid":"S-1-5-18","Real":"1.5","When":"2019-05-09T02:34:09.135000Z"}}}`,
	}
	wantFields := [][][2]string{
		{{"EventID_Qualifiers", "16384"}, {"EventID", "4624"}, {"Correlation", ""}, {"Multi", "a"}, {"Multi_1", "b"},
			{"Inner_a", "1"}, {"Inner", "text"}, {"Ent", "A&amp;B&#65;c"}, {"Opt", ""}, {"Num", "7"}, {"Hex", "0xff"},
			{"Sid", "S-1-5-18"}, {"Real", "1.5"}, {"When", "2019-05-09T02:34:09.135000Z"}},
		{{"EventID", "4688"}, {"Correlation_ActivityID", "5770385F-C22A-43E0-BF4C-06F5698FFBD9"}, {"Multi", "only"},
			{"Nested", ""}, {"Ent", "A&amp;B&#65;c"}, {"Opt", "kept"}, {"Num", "0"}, {"Hex", "0x0"},
			{"Sid", "S-1-5-18"}, {"Real", "1.5"}, {"When", "2019-05-09T02:34:09.135000Z"}},
	}
	res := readBytes(t, file, Options{})
	if len(res.problems) != 0 {
		t.Fatalf("problems: %v", res.problems)
	}
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v (problems %v)", i, err, r.Problems())
		}
		if got := string(rec.AppendJSON(nil)); got != want[i] {
			t.Errorf("record %d JSON:\n got %s\nwant %s", i, got, want[i])
		}
		var fields [][2]string
		rec.Fields(func(n, v string) { fields = append(fields, [2]string{n, v}) })
		if d := pairsDiff(fields, wantFields[i]); d != "" {
			t.Errorf("record %d fields: %s\n%q", i, d, fields)
		}
		if d := pairsDiff(fields, flattenJSON(decodeOne(t, rec.AppendJSON(nil)))); d != "" {
			t.Errorf("record %d fields vs JSON: %s", i, d)
		}
	}
}

// TestSubstitutedFieldNamesStayValid reads two records whose Data names are substitution
// values: the first name must stay as it was after the second record is read.
func TestSubstitutedFieldNamesStayValid(t *testing.T) {
	def := func(x *bx) {
		x.open("Event", false)
		x.closeStart()
		x.open("EventData", false)
		x.closeStart()
		x.open("Data", true)
		x.attr("Name")
		x.sub(0, tString, false)
		x.closeStart()
		x.sub(1, tString, false)
		x.end()
		x.end()
		x.end()
	}
	var defOff int
	file := synthFile(
		func(x *bx) {
			x.fragment()
			defOff = x.instance(-1, def, []value{val(tString, str16("Alpha")), val(tString, str16("one"))})
			x.eof()
		},
		func(x *bx) {
			x.fragment()
			x.instance(defOff, nil, []value{val(tString, str16("Bravo")), val(tString, str16("two"))})
			x.eof()
		},
	)
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		rec.Fields(func(name, _ string) { names = append(names, name) })
	}
	if len(names) != 2 || names[0] != "Alpha" || names[1] != "Bravo" {
		t.Fatalf("names %q, want [Alpha Bravo]", names)
	}
}
