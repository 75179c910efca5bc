package evtx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// multiChunk is a 10-chunk sample (869 records, 98 in chunk 0).
var multiChunk = filepath.Join(dataDir, "evtx-attack-samples", "Lateral Movement", "LM_5145_Remote_FileCopy.evtx")

const multiChunkRecords = 869

func loadFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("sample not available: %v", err)
	}
	return data
}

type readResult struct {
	ids      []uint64
	numbers  []int64
	problems []*Error
}

func readBytes(t *testing.T, data []byte, opts Options) readResult {
	t.Helper()
	var res readResult
	var seen []*Error
	opts.OnProblem = func(e *Error) { seen = append(seen, e) }
	r, err := NewReaderWithOptions(bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		res.ids = append(res.ids, rec.RecordID)
		res.numbers = append(res.numbers, rec.Number)
		if !jsonValid(rec.AppendJSON(nil)) {
			t.Fatalf("record %d: invalid JSON", rec.RecordID)
		}
	}
	res.problems = r.Problems()
	if len(seen) != len(res.problems) || r.NumProblems() != len(seen) {
		t.Errorf("OnProblem saw %d problems, Problems has %d, NumProblems %d", len(seen), len(res.problems), r.NumProblems())
	}
	return res
}

// countRecords reads r to its end and returns how many records it gave.
func countRecords(t *testing.T, r *Reader) int {
	t.Helper()
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}

// chunkOffset returns the file offset of chunk i.
func chunkOffset(i int) int { return fileHeaderSize + i*chunkSize }

// recordOffsets returns the chunk-relative offsets of the records of chunk i.
func recordOffsets(data []byte, i int) []int {
	c := data[chunkOffset(i) : chunkOffset(i)+chunkSize]
	var offs []int
	for p := chunkHeaderSize; p+28 <= chunkSize && bytes.Equal(c[p:p+4], recordMagic); {
		offs = append(offs, p)
		p += int(binary.LittleEndian.Uint32(c[p+4:]))
	}
	return offs
}

func fixFileHeaderCRC(data []byte) {
	binary.LittleEndian.PutUint32(data[124:], crc32.ChecksumIEEE(data[:120]))
}

func TestHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotEVTX},
		{"garbage", bytes.Repeat([]byte{0x41}, 5000), ErrNotEVTX},
		{"truncated header", append([]byte("ElfFile\x00"), make([]byte, 20)...), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.data))
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	// A valid header with no chunk is an empty log.
	data := loadFile(t, multiChunk)[:fileHeaderSize]
	res := readBytes(t, data, Options{})
	if len(res.ids) != 0 || len(res.problems) != 0 {
		t.Errorf("header only: %d records, problems %v", len(res.ids), res.problems)
	}
}

func TestCleanFile(t *testing.T) {
	res := readBytes(t, loadFile(t, multiChunk), Options{})
	if len(res.ids) != multiChunkRecords || len(res.problems) != 0 {
		t.Fatalf("%d records, problems %v", len(res.ids), res.problems)
	}
	for i, n := range res.numbers {
		if n != int64(i+1) {
			t.Fatalf("record %d has Number %d", i, n)
		}
	}
}

func TestHeaderWithFewerChunks(t *testing.T) {
	data := bytes.Clone(loadFile(t, multiChunk))
	binary.LittleEndian.PutUint16(data[42:], 1) // the header claims one chunk
	binary.LittleEndian.PutUint64(data[16:], 0) // last chunk number 0
	fixFileHeaderCRC(data)
	res := readBytes(t, data, Options{})
	if len(res.ids) != multiChunkRecords || len(res.problems) != 0 {
		t.Fatalf("%d records, problems %v", len(res.ids), res.problems)
	}
}

func TestBadFileHeaderChecksum(t *testing.T) {
	data := bytes.Clone(loadFile(t, multiChunk))
	data[124] ^= 0xff
	res := readBytes(t, data, Options{})
	if len(res.ids) != multiChunkRecords {
		t.Fatalf("%d records", len(res.ids))
	}
	if len(res.problems) != 1 || !errors.Is(res.problems[0], ErrChecksum) || res.problems[0].Chunk != -1 {
		t.Fatalf("problems %v", res.problems)
	}
}

// dirtyChunk0 changes one byte of record data in chunk 0, so its records checksum fails
// while the records still decode.
func dirtyChunk0(t *testing.T) []byte {
	data := bytes.Clone(loadFile(t, multiChunk))
	c := data[chunkOffset(0):]
	i := bytes.Index(c[chunkHeaderSize:], []byte{'\\', 0}) // a backslash in some UTF-16 path
	if i < 0 {
		t.Fatal("no UTF-16 backslash in chunk 0")
	}
	c[chunkHeaderSize+i] = '/'
	return data
}

func TestBadChunkChecksumKeepsRecords(t *testing.T) {
	res := readBytes(t, dirtyChunk0(t), Options{})
	if len(res.ids) != multiChunkRecords {
		t.Fatalf("%d records, want %d", len(res.ids), multiChunkRecords)
	}
	if len(res.problems) != 1 {
		t.Fatalf("problems %v", res.problems)
	}
	p := res.problems[0]
	if !errors.Is(p, ErrChecksum) || p.Chunk != 0 || p.Skipped || p.Offset != fileHeaderSize {
		t.Fatalf("problem %+v", p)
	}
}

func TestStrictChecksumsSkipChunk(t *testing.T) {
	res := readBytes(t, dirtyChunk0(t), Options{StrictChecksums: true})
	if len(res.ids) != multiChunkRecords-98 || res.ids[0] != 99 {
		t.Fatalf("%d records, first %d", len(res.ids), res.ids[0])
	}
	if len(res.problems) != 1 || !res.problems[0].Skipped || !errors.Is(res.problems[0], ErrChecksum) {
		t.Fatalf("problems %v", res.problems)
	}
}

func TestTruncatedLastChunk(t *testing.T) {
	data := loadFile(t, multiChunk)
	offs := recordOffsets(data, 9)
	// Cut in the middle of the 10th record of the last chunk.
	cut := chunkOffset(9) + offs[9] + 100
	res := readBytes(t, data[:cut], Options{})
	if want := 787 + 9; len(res.ids) != want {
		t.Fatalf("%d records, want %d", len(res.ids), want)
	}
	var truncated bool
	for _, p := range res.problems {
		if errors.Is(p, ErrTruncated) && p.Chunk == 9 {
			truncated = true
		}
	}
	if !truncated {
		t.Fatalf("no truncation reported: %v", res.problems)
	}
}

func TestDamagedRecordIsSkipped(t *testing.T) {
	data := bytes.Clone(loadFile(t, multiChunk))
	offs := recordOffsets(data, 0)
	p := chunkOffset(0) + offs[4]
	id := binary.LittleEndian.Uint64(data[p+8:])
	data[p+24] = 0xff // not a BinXML token
	res := readBytes(t, data, Options{})
	if len(res.ids) != multiChunkRecords-1 {
		t.Fatalf("%d records", len(res.ids))
	}
	var found bool
	for _, pr := range res.problems {
		if pr.Skipped && pr.RecordID == id && pr.Chunk == 0 && pr.Offset == int64(p) && errors.Is(pr, ErrCorrupt) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no problem for record %d at %#x: %v", id, p, res.problems)
	}
	// The records after it keep their position in the file.
	if res.ids[4] != id+1 || res.numbers[4] != 6 {
		t.Errorf("record after the damaged one: id %d number %d", res.ids[4], res.numbers[4])
	}
}

func TestBadRecordSignatureResyncs(t *testing.T) {
	data := bytes.Clone(loadFile(t, multiChunk))
	offs := recordOffsets(data, 2)
	p := chunkOffset(2) + offs[10]
	copy(data[p:], "XXXX")
	res := readBytes(t, data, Options{})
	if len(res.ids) != multiChunkRecords-1 {
		t.Fatalf("%d records", len(res.ids))
	}
	// The chunk's checksum no longer matches, and the record is reported.
	if len(res.problems) != 2 || !errors.Is(res.problems[0], ErrChecksum) {
		t.Fatalf("problems %v", res.problems)
	}
	if pr := res.problems[1]; pr.Chunk != 2 || pr.Offset != int64(p) || !pr.Skipped || !errors.Is(pr, ErrCorrupt) {
		t.Fatalf("problem %+v", pr)
	}
}

func TestGarbageChunkIsSkipped(t *testing.T) {
	data := bytes.Clone(loadFile(t, multiChunk))
	copy(data[chunkOffset(3):], "NotAChunk")
	res := readBytes(t, data, Options{})
	if len(res.ids) != multiChunkRecords-82 {
		t.Fatalf("%d records", len(res.ids))
	}
	if len(res.problems) != 1 || res.problems[0].Chunk != 3 || !res.problems[0].Skipped {
		t.Fatalf("problems %v", res.problems)
	}
}

func TestResetReusesReader(t *testing.T) {
	data := loadFile(t, multiChunk)
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		if n := countRecords(t, r); n != multiChunkRecords {
			t.Fatalf("round %d: %d records", round, n)
		}
		if err := r.Reset(bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReadErrorIsReturned(t *testing.T) {
	data := loadFile(t, multiChunk)
	boom := errors.New("boom")
	r, err := NewReader(io.MultiReader(bytes.NewReader(data[:chunkOffset(1)]), errReader{boom}))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err = r.Next()
		if err != nil {
			break
		}
		n++
	}
	if !errors.Is(err, boom) || n != 98 {
		t.Fatalf("after %d records: %v", n, err)
	}
}

// countingReader counts the bytes read through it; seekable says whether it passes Seek on.
type countingReader struct {
	r    *bytes.Reader
	read int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

type countingSeeker struct{ *countingReader }

func (c countingSeeker) Seek(off int64, whence int) (int64, error) { return c.r.Seek(off, whence) }

// pipeSeeker has a Seek that fails, like an *os.File on a pipe.
type pipeSeeker struct{ *countingReader }

func (pipeSeeker) Seek(int64, int) (int64, error) { return 0, errors.New("illegal seek") }

// TestPreallocatedChunksSkipped checks that the chunks beyond the header's count that start
// with zeros (preallocated space) are skipped unread on an input that can seek, and read (and
// found empty) on one that cannot, with the same records either way; that a chunk beyond the
// count that holds records is still read; and that damage beyond the count is only reported
// when the chunk does not start with zeros or the input cannot seek.
func TestPreallocatedChunksSkipped(t *testing.T) {
	orig := loadFile(t, multiChunk)
	count := int(binary.LittleEndian.Uint16(orig[42:])) // 10 of the file's 17 chunks
	pipe := false
	read := func(data []byte, seek bool) (records, problems, bytesRead int) {
		c := &countingReader{r: bytes.NewReader(data)}
		var src io.Reader = c
		switch {
		case seek && pipe:
			src = pipeSeeker{c}
		case seek:
			src = countingSeeker{c}
		}
		r, err := NewReader(src)
		if err != nil {
			t.Fatal(err)
		}
		return countRecords(t, r), r.NumProblems(), c.read
	}
	// Three more chunks of preallocated space.
	data := append(bytes.Clone(orig), make([]byte, 3*chunkSize)...)
	beyond := (len(data)-fileHeaderSize)/chunkSize - count
	if beyond != 10 {
		t.Fatalf("sample: %d chunks beyond the header's %d", beyond, count)
	}
	for _, seek := range []bool{true, false} {
		recs, probs, n := read(data, seek)
		if recs != multiChunkRecords || probs != 0 {
			t.Errorf("seek=%v: %d records, %d problems", seek, recs, probs)
		}
		if want := chunkOffset(count) + beyond*8; seek && n != want {
			t.Errorf("seekable input: %d bytes read, want %d (the preallocated chunks' first bytes)", n, want)
		}
		if !seek && n != len(data) {
			t.Errorf("plain input: %d bytes read, want %d", n, len(data))
		}
	}
	// An input whose Seek fails is read through.
	pipe = true
	if recs, probs, n := read(data, true); recs != multiChunkRecords || probs != 0 || n != len(data) {
		t.Errorf("failing Seek: %d records, %d problems, %d of %d bytes read", recs, probs, n, len(data))
	}
	pipe = false
	// The header counting one chunk less: the last chunk, beyond the count, is still read.
	fewer := bytes.Clone(data)
	binary.LittleEndian.PutUint16(fewer[42:], uint16(count-1))
	fixFileHeaderCRC(fewer)
	if recs, probs, _ := read(fewer, true); recs != multiChunkRecords || probs != 0 {
		t.Errorf("header counting one chunk less: %d records, %d problems", recs, probs)
	}
	// Garbage in preallocated space: reported unless the chunk starts with zeros and is
	// skipped unread.
	junk := bytes.Clone(data)
	junk[chunkOffset(count)+100] = 0x41 // starts with zeros
	junk[chunkOffset(count+1)] = 0x41   // does not
	for seek, want := range map[bool]int{true: 1, false: 2} {
		if recs, probs, _ := read(junk, seek); recs != multiChunkRecords || probs != want {
			t.Errorf("garbage, seek=%v: %d records, %d problems, want %d", seek, recs, probs, want)
		}
	}
}
