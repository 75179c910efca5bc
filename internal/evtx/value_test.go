package evtx

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf16"
)

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func TestAppendUTF16(t *testing.T) {
	tests := []struct {
		in, raw, esc string
	}{
		{"", "", ""},
		{"abc", "abc", "abc"},
		{"abcdefghij", "abcdefghij", "abcdefghij"},
		{"a\"b\\c\nd\x01", "a\"b\\c\nd\x01", `a\"b\\c\nd\u0001`},
		{"tab\there quotes\"\"", "tab\there quotes\"\"", `tab\there quotes\"\"`},
		{"Ann\u202egepj.exe €😀 end", "Ann\u202egepj.exe €😀 end", "Ann\u202egepj.exe €😀 end"},
	}
	for _, tt := range tests {
		if got := string(appendUTF16(nil, utf16le(tt.in), false)); got != tt.raw {
			t.Errorf("raw %q: got %q", tt.in, got)
		}
		if got := string(appendUTF16(nil, utf16le(tt.in), true)); got != tt.esc {
			t.Errorf("esc %q: got %q, want %q", tt.in, got, tt.esc)
		}
	}
	// Unpaired surrogates become U+FFFD.
	lone := []byte{0x00, 0xd8, 'a', 0, 0x00, 0xdc}
	if got := string(appendUTF16(nil, lone, false)); got != "\uFFFDa\uFFFD" {
		t.Errorf("lone surrogates: got %q", got)
	}
}

func TestValueFormatting(t *testing.T) {
	le := binary.LittleEndian
	u32 := func(v uint32) []byte { return le.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return le.AppendUint64(nil, v) }
	guid := []byte{0x5f, 0x38, 0x70, 0x57, 0x2a, 0xc2, 0xe0, 0x43, 0xbf, 0x4c, 0x06, 0xf5, 0x69, 0x8f, 0xfb, 0xd9}
	sid := []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0x82, 0x04, 0x9a, 0x5e, 0xa2, 0x20, 0xc4, 0x58, 0xb3, 0x76, 0xc2, 0x3d, 0x52, 0x04, 0, 0}
	systime := []byte{0xe3, 0x07, 3, 0, 0, 0, 19, 0, 23, 0, 34, 0, 25, 0, 0x7b, 0}
	strs := append(append(utf16le("a"), 0, 0), append(utf16le("bc"), 0, 0)...)
	tests := []struct {
		name string
		vt   uint8
		data []byte
		want string
	}{
		{"int8", tInt8, []byte{0xff}, "-1"},
		{"uint16", tUint16, []byte{0x34, 0x12}, "4660"},
		{"int64", tInt64, u64(^uint64(0)), "-1"},
		{"uint64", tUint64, u64(1 << 63), "9223372036854775808"},
		{"real32", tReal32, u32(0x3fc00000), "1.5"},
		{"real64 whole", tReal64, u64(0x4059000000000000), "100.0"},
		{"real64 big", tReal64, u64(0x4415af1d78b58c40), "1e20"},
		{"bool", tBool, u32(1), "true"},
		{"binary", tBinary, []byte{0x00, 0xab, 0x0f}, "00AB0F"},
		{"guid", tGUID, guid, "5770385F-C22A-43E0-BF4C-06F5698FFBD9"},
		{"sizet", tSizeT, u64(42), "42"},
		{"filetime", tFileTime, u64(132018428491350000), "2019-05-09T02:34:09.135000Z"},
		{"systime", tSysTime, systime, "2019-03-19T23:34:25.123000Z"},
		{"sid", tSID, sid, "S-1-5-21-1587152002-1489248418-1036154547-1106"},
		{"hex32", tHexInt32, u32(0x58c3c), "0x58c3c"},
		{"hex64", tHexInt64, u64(0x8000000000000000), "0x8000000000000000"},
		{"string array", tString | tArray, strs, "a,bc"},
		{"uint16 array", tUint16 | tArray, []byte{1, 0, 2, 0}, "1,2"},
		{"hex32 array", tHexInt32 | tArray, append(u32(10), u32(255)...), "0xa,0xff"},
	}
	for _, tt := range tests {
		if got := string(appendValue(nil, tt.vt, tt.data, true)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	if n := arrayLen(tString|tArray, strs); n != 2 {
		t.Errorf("string array length %d", n)
	}
	if vt, item := arrayItem(tString|tArray, strs, 1); vt != tString || string(appendUTF16(nil, item, false)) != "bc" {
		t.Errorf("string array item 1: %#x %q", vt, item)
	}
	if got := string(appendUTF16(nil, trimSubstString(utf16le("cmd.exe \u3000\t\x00junk")), false)); got != "cmd.exe" {
		t.Errorf("trimSubstString: %q", got)
	}
}

// TestTypedTextAlphabet checks the promise of FieldsTyped: the text of every value it calls
// typed (isTypedText) is made of TypedAlphabet's bytes, whatever the value's bytes, while the
// types it does not call typed can leave the alphabet.
func TestTypedTextAlphabet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inAlphabet := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if !strings.Contains(TypedAlphabet, s[i:i+1]) {
				return false
			}
		}
		return true
	}
	typed := 0
	for vt := uint8(0); vt < tArray; vt++ {
		isTyped := isTypedText(vt)
		left := false
		for i := 0; i < 2000; i++ {
			size := fixedSize(vt)
			switch {
			case vt == tSID:
				size = 8 + 4*rng.IntN(6)
			case vt == tSizeT:
				size = 4 + 4*rng.IntN(2)
			case size == 0:
				size = rng.IntN(40)
			}
			data := make([]byte, size)
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			if vt == tSID {
				data[1] = byte((size - 8) / 4)
			}
			if checkValue(vt, data) != nil {
				continue
			}
			s := string(appendValue(nil, vt, data, false))
			if isTyped && !inAlphabet(s) {
				t.Fatalf("type %#x, data % x: %q leaves TypedAlphabet", vt, data, s)
			}
			if !inAlphabet(s) {
				left = true
			}
		}
		if isTyped {
			typed++
		} else if vt == tString || vt == tBool {
			if !left {
				t.Errorf("type %#x not called typed, yet its text stayed in the alphabet", vt)
			}
		}
	}
	if typed < 15 {
		t.Fatalf("%d types called typed, want the integers, hex integers, GUID, SID, times, binary", typed)
	}
}
