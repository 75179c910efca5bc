package evtx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

const (
	fileHeaderSize  = 4096 // the header block; its first 128 bytes are used
	chunkSize       = 65536
	chunkHeaderSize = 512
	recordHeaderLen = 24
	maxProblems     = 1024 // problems kept by Problems; all are counted and passed to OnProblem
)

var (
	fileMagic   = []byte("ElfFile\x00")
	chunkMagic  = []byte("ElfChnk\x00")
	recordMagic = []byte("**\x00\x00")
)

// FileHeader is the decoded EVTX file header.
type FileHeader struct {
	FirstChunk   uint64 // number of the first chunk
	LastChunk    uint64 // number of the last chunk
	NextRecordID uint64 // identifier the next written record will get
	MinorVersion uint16
	MajorVersion uint16
	// ChunkCount is the number of chunks the header claims. The Reader does not trust it:
	// it reads chunks until the end of the input (though beyond the count, on an input that
	// can seek, it skips unread the chunks that start with eight zero bytes: preallocated
	// space).
	ChunkCount uint16
	Flags      uint32 // FlagDirty, FlagFull
}

// File header flags.
const (
	FlagDirty = 0x1 // the file was not closed cleanly
	FlagFull  = 0x2 // the log reached its maximum size
)

// Options tune a Reader. The zero value is the default.
type Options struct {
	// OnProblem, when set, is called with each problem as soon as it is found, before Next
	// returns. Problems keeps the first ones as well.
	OnProblem func(*Error)
	// StrictChecksums makes the Reader skip chunks whose header or records checksum does
	// not match. By default such chunks are read (and the mismatch reported), because the
	// records of a dirty chunk usually still decode.
	StrictChecksums bool
}

// Reader reads event records from an EVTX stream, one chunk at a time. A Reader is not safe
// for concurrent use.
type Reader struct {
	r    io.Reader
	opts Options
	hdr  FileHeader

	chunk      []byte // the current chunk; records point into it until the next chunk is read
	chunkLen   int    // bytes of chunk that hold data (less than chunkSize for a truncated chunk)
	chunkIndex int    // 0-based index of the current chunk in the file
	chunkOff   int64  // file offset of the current chunk
	nextOff    int64  // file offset of the next chunk to read
	inChunk    bool
	pos, end   int // record iteration inside the chunk
	eof        bool
	err        error // sticky read error
	resyncing  bool  // looking for the next record signature after damage; reported once

	numRecords int64 // records met so far, damaged ones included
	lastChunk  int   // with Range: the index of the last chunk to read; -1: to the end

	// Per-chunk caches, cleared when a chunk is loaded.
	names     map[uint32]nameEntry // element/attribute names by chunk offset
	templates map[uint32]*template // compiled templates by definition offset
	// freeTemplates holds templates of earlier chunks whose arenas are reused.
	freeTemplates []*template
	tmplWork      int // template bytes compiled in this chunk (bounded)
	chunkWork     int // decoding steps spent on this chunk's records (bounded)

	// intern keeps one string per distinct name across chunks (keyed by its UTF-16 bytes),
	// so names are allocated once per file, not once per chunk.
	intern map[string]string

	// Record building state, reused for every record.
	tree  arena
	subs  []subst
	stack []int32
	ovr   []override
	work  int // decoding steps spent on the current record
	// workLimit bounds work for the current record.
	workLimit int
	rec       Record

	// Fields state.
	fieldBuf   []byte
	keyCache   map[keyPair]string
	fieldNames map[string]string // field names made of several text parts or substitutions

	problems    []*Error
	numProblems int
	noSeek      bool // the input's Seek failed: chunks are read, not skipped
}

// NewReader reads and checks the file header of r and returns a Reader positioned on the
// first chunk. It fails with ErrNotEVTX when r does not start with the EVTX signature and with
// ErrTruncated when the header is cut short.
func NewReader(r io.Reader) (*Reader, error) {
	return NewReaderWithOptions(r, Options{})
}

// NewReaderWithOptions is NewReader with options.
func NewReaderWithOptions(r io.Reader, opts Options) (*Reader, error) {
	rd := &Reader{
		r:          r,
		opts:       opts,
		chunk:      make([]byte, chunkSize),
		names:      make(map[uint32]nameEntry),
		templates:  make(map[uint32]*template),
		intern:     make(map[string]string),
		fieldNames: make(map[string]string),
		keyCache:   make(map[keyPair]string),

		chunkIndex: -1,
		lastChunk:  -1,
	}
	rd.rec.r = rd
	if err := rd.readFileHeader(); err != nil {
		return nil, err
	}
	return rd, nil
}

// Reset makes the Reader read a new EVTX stream, keeping its buffers and name cache, which
// saves allocations when one goroutine reads many files. It reads and checks the file header
// of src as NewReader does; problems are cleared and options kept.
func (r *Reader) Reset(src io.Reader) error {
	r.r = src
	r.hdr = FileHeader{}
	r.chunkLen, r.chunkIndex, r.chunkOff, r.nextOff = 0, -1, 0, 0
	r.inChunk, r.eof, r.resyncing, r.err, r.noSeek = false, false, false, nil, false
	r.pos, r.end = 0, 0
	r.numRecords = 0
	r.lastChunk = -1
	r.recycleTemplates()
	r.problems, r.numProblems = nil, 0
	return r.readFileHeader()
}

// recycleTemplates empties the chunk caches, keeping template arenas for reuse.
func (r *Reader) recycleTemplates() {
	for _, t := range r.templates {
		r.freeTemplates = append(r.freeTemplates, t)
	}
	clear(r.templates)
	clear(r.names)
	r.tmplWork = 0
	r.chunkWork = 0
	if len(r.intern) > 1<<16 {
		clear(r.intern) // bound memory on files with very many distinct names
	}
}

func (r *Reader) readFileHeader() error {
	buf := r.chunk[:fileHeaderSize]
	n, err := io.ReadFull(r.r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read evtx file header: %w", err)
	}
	if n < len(fileMagic) || !bytes.Equal(buf[:len(fileMagic)], fileMagic) {
		if n < len(fileMagic) {
			return fmt.Errorf("read evtx file header: %w (%d bytes)", ErrNotEVTX, n)
		}
		return fmt.Errorf("read evtx file header: %w: bad signature %q", ErrNotEVTX, buf[:len(fileMagic)])
	}
	if n < 128 {
		return fmt.Errorf("read evtx file header: %w: %d of 128 bytes", ErrTruncated, n)
	}
	le := binary.LittleEndian
	r.hdr = FileHeader{
		FirstChunk:   le.Uint64(buf[8:]),
		LastChunk:    le.Uint64(buf[16:]),
		NextRecordID: le.Uint64(buf[24:]),
		MinorVersion: le.Uint16(buf[36:]),
		MajorVersion: le.Uint16(buf[38:]),
		ChunkCount:   le.Uint16(buf[42:]),
		Flags:        le.Uint32(buf[120:]),
	}
	if sum := crc32.ChecksumIEEE(buf[:120]); sum != le.Uint32(buf[124:]) {
		r.report(&Error{Chunk: -1, Err: fmt.Errorf("%w: file header crc32 %#08x, stored %#08x", ErrChecksum, sum, le.Uint32(buf[124:]))})
	}
	if n < fileHeaderSize {
		// A header without chunks: nothing to read.
		r.eof = true
	}
	r.nextOff = fileHeaderSize
	return nil
}

// Range limits the Reader to n chunks starting at chunk first (0-based; n <= 0: to the end of
// the input), so that parts of a large file can be read in parallel, each by its own Reader.
// It must be called before the first Next, on a Reader over an io.Seeker when first > 0.
// Record numbers then count from the first chunk of the range: a part's Number plus the
// RecordsMet of the parts before it is the record's number in the file.
func (r *Reader) Range(first, n int) error {
	if r.chunkIndex != -1 || r.numRecords != 0 {
		return errors.New("evtx: Range after the first Next")
	}
	if first > 0 {
		s, ok := r.r.(io.Seeker)
		if !ok {
			return errors.New("evtx: Range needs a seekable input")
		}
		off := int64(fileHeaderSize) + int64(first)*chunkSize
		if _, err := s.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("evtx: seek to chunk %d: %w", first, err)
		}
		r.chunkIndex, r.nextOff = first-1, off
	}
	r.lastChunk = -1
	if n > 0 {
		r.lastChunk = first + n - 1
	}
	return nil
}

// RecordsMet returns how many records the Reader has met so far, the damaged ones it skipped
// included: the Number of the last record read, or more after skipped ones.
func (r *Reader) RecordsMet() int64 { return r.numRecords }

// Header returns the decoded file header.
func (r *Reader) Header() FileHeader { return r.hdr }

// Problems returns the problems met so far (at most the first 1024): chunks and records that
// were skipped, and damage that was worked around. Each is an *Error naming the chunk, the file
// offset and, for records, the record identifier.
func (r *Reader) Problems() []*Error { return r.problems }

// NumProblems returns how many problems were met so far, including those beyond the ones
// Problems keeps.
func (r *Reader) NumProblems() int { return r.numProblems }

func (r *Reader) report(e *Error) {
	r.numProblems++
	if len(r.problems) < maxProblems {
		r.problems = append(r.problems, e)
	}
	if r.opts.OnProblem != nil {
		r.opts.OnProblem(e)
	}
}

func (r *Reader) chunkProblem(skipped bool, err error) {
	r.report(&Error{Chunk: r.chunkIndex, Offset: r.chunkOff, Skipped: skipped, Err: err})
}

// Next returns the next record in file order, or io.EOF after the last one. Damaged chunks
// and records are skipped (see Problems); any other error comes from the underlying reader
// and ends the stream.
//
// The returned Record, and everything obtained from it, is only valid until the next call to
// Next: the Reader reuses it.
func (r *Reader) Next() (*Record, error) {
	for {
		if !r.inChunk {
			if r.eof {
				return nil, io.EOF
			}
			if r.err != nil {
				return nil, r.err
			}
			if err := r.loadChunk(); err != nil {
				if err == io.EOF {
					r.eof = true
				} else {
					r.err = err // the stream position is lost: every later call fails too
				}
				return nil, err
			}
			continue
		}
		if rec := r.nextInChunk(); rec != nil {
			return rec, nil
		}
		r.inChunk = false
	}
}

// loadChunk reads the next chunk that can be read. It returns io.EOF at the end of input.
func (r *Reader) loadChunk() error {
	le := binary.LittleEndian
	for {
		if r.eof {
			return io.EOF
		}
		if r.lastChunk >= 0 && r.chunkIndex >= r.lastChunk {
			r.eof = true // the end of the Range
			return io.EOF
		}
		r.chunkOff = r.nextOff
		r.chunkIndex++
		n, skip, err := r.readChunk()
		r.nextOff += int64(n)
		if skip {
			continue
		}
		switch {
		case err == io.EOF:
			r.eof = true
			return io.EOF
		case errors.Is(err, io.ErrUnexpectedEOF):
			r.eof = true
		case err != nil:
			return fmt.Errorf("read evtx chunk %d at offset %#x: %w", r.chunkIndex, r.chunkOff, err)
		}
		c := r.chunk[:n]
		if n < len(chunkMagic) || !bytes.Equal(c[:len(chunkMagic)], chunkMagic) {
			if !allZero(c) {
				r.chunkProblem(true, corruptf("bad chunk signature"))
			}
			// An all-zero chunk is preallocated space, not damage.
			continue
		}
		if n < chunkHeaderSize {
			r.chunkProblem(true, truncatedf("chunk is %d bytes, header needs %d", n, chunkHeaderSize))
			continue
		}
		if n < chunkSize {
			r.chunkProblem(false, truncatedf("chunk is %d of %d bytes; reading the records it holds", n, chunkSize))
		}
		r.chunkLen = n

		freeSpace := int(le.Uint32(c[48:]))
		end := freeSpace
		if freeSpace < chunkHeaderSize || freeSpace > chunkSize {
			r.chunkProblem(false, corruptf("free space offset %#x out of range", freeSpace))
			end = n
		}
		if end > n {
			end = n
		}

		bad := false
		hsum := crc32.Update(crc32.ChecksumIEEE(c[:120]), crc32.IEEETable, c[128:chunkHeaderSize])
		if want := le.Uint32(c[124:]); hsum != want {
			bad = true
			r.chunkProblem(r.opts.StrictChecksums, fmt.Errorf("%w: chunk header crc32 %#08x, stored %#08x", ErrChecksum, hsum, want))
		}
		if freeSpace >= chunkHeaderSize && freeSpace <= n {
			if dsum, want := crc32.ChecksumIEEE(c[chunkHeaderSize:freeSpace]), le.Uint32(c[52:]); dsum != want {
				bad = true
				r.chunkProblem(r.opts.StrictChecksums, fmt.Errorf("%w: records crc32 %#08x, stored %#08x", ErrChecksum, dsum, want))
			}
		}
		if bad && r.opts.StrictChecksums {
			continue
		}

		r.recycleTemplates()
		r.pos, r.end = chunkHeaderSize, end
		r.resyncing = false
		r.inChunk = true
		return nil
	}
}

// readChunk reads the next chunk into r.chunk, or skips it (skip true, n its size): beyond
// the chunks the header counts, on an input that can seek, a chunk whose first eight bytes are
// zero is preallocated space and is not read. Event logs are created at their maximum size, so
// most of a small log's file is such space: reading it would cost more than the records.
func (r *Reader) readChunk() (n int, skip bool, err error) {
	s, seekable := r.r.(io.Seeker)
	if !seekable || r.noSeek || r.chunkIndex < int(r.hdr.ChunkCount) {
		n, err = io.ReadFull(r.r, r.chunk)
		return n, false, err
	}
	const head = 8
	n, err = io.ReadFull(r.r, r.chunk[:head])
	if err != nil {
		return n, false, err
	}
	if binary.LittleEndian.Uint64(r.chunk) == 0 {
		if _, err := s.Seek(chunkSize-head, io.SeekCurrent); err == nil {
			return chunkSize, true, nil
		}
		// A pipe or the like, whose Seek fails (without moving): read on instead, from here on.
		r.noSeek = true
	}
	m, err := io.ReadFull(r.r, r.chunk[head:])
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // the chunk's head was read
	}
	return n + m, false, err
}

var zeroChunk [chunkSize]byte

func allZero(b []byte) bool {
	for len(b) > chunkSize {
		if !bytes.Equal(b[:chunkSize], zeroChunk[:]) {
			return false
		}
		b = b[chunkSize:]
	}
	return bytes.Equal(b, zeroChunk[:len(b)])
}

// nextInChunk decodes the next record of the current chunk; nil when the chunk is done.
func (r *Reader) nextInChunk() *Record {
	le := binary.LittleEndian
	c := r.chunk[:r.chunkLen]
	for r.pos+recordHeaderLen+4 <= r.end {
		p := r.pos
		if !bytes.Equal(c[p:p+4], recordMagic) {
			if !r.resyncing && !allZero(c[p:r.end]) {
				r.recordProblem(p, 0, corruptf("bad record signature at chunk offset %#x", p))
			}
			r.resync(p + 1)
			continue
		}
		size := int(le.Uint32(c[p+4:]))
		if size < recordHeaderLen+4 || size > r.end-p {
			if !r.resyncing {
				r.recordProblem(p, le.Uint64(c[p+8:]), corruptf("record size %d at chunk offset %#x does not fit the chunk", size, p))
			}
			r.resync(p + 1)
			continue
		}
		if copySize := int(le.Uint32(c[p+size-4:])); copySize != size {
			if !r.resyncing {
				r.recordProblem(p, le.Uint64(c[p+8:]), corruptf("record size %d and trailing size %d differ", size, copySize))
			}
			r.resync(p + 1)
			continue
		}
		r.resyncing = false
		r.pos = p + size
		r.numRecords++
		id := le.Uint64(c[p+8:])
		if err := r.buildRecord(p+recordHeaderLen, p+size-4); err != nil {
			r.recordProblem(p, id, err)
			continue
		}
		rec := &r.rec
		rec.Number = r.numRecords
		rec.RecordID = id
		rec.Time = filetimeToTime(le.Uint64(c[p+16:]))
		rec.Chunk = r.chunkIndex
		rec.Offset = r.chunkOff + int64(p)
		return rec
	}
	return nil
}

func (r *Reader) recordProblem(p int, id uint64, err error) {
	r.report(&Error{Chunk: r.chunkIndex, Offset: r.chunkOff + int64(p), RecordID: id, Skipped: true, Err: err})
}

// resync moves to the next record signature at or after from.
func (r *Reader) resync(from int) {
	r.resyncing = true
	if from >= r.end {
		r.pos = r.end
		return
	}
	i := bytes.Index(r.chunk[from:r.end], recordMagic)
	if i < 0 {
		r.pos = r.end
		return
	}
	r.pos = from + i
}

// filetimeToTime converts a FILETIME (100 ns ticks since 1601-01-01 UTC).
func filetimeToTime(ft uint64) time.Time {
	const ticksPerSec = 10_000_000
	const epochDiff = 11644473600 // seconds from 1601 to 1970
	sec := int64(ft/ticksPerSec) - epochDiff
	nsec := int64(ft%ticksPerSec) * 100
	return time.Unix(sec, nsec).UTC()
}
