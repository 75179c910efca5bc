package syslog

import (
	"bytes"
	"io"
)

// DefaultMaxFrameSize is the frame size limit NewReader uses when given zero or less: 64 KiB.
const DefaultMaxFrameSize = 64 << 10

// Framing says how a frame was delimited in the stream (RFC 6587 section 3.4).
type Framing uint8

// The two framings of RFC 6587.
const (
	// NonTransparent frames end at a trailer: LF, CR LF or NUL.
	NonTransparent Framing = iota
	// OctetCounting frames are "MSG-LEN SP SYSLOG-MSG".
	OctetCounting
)

// String returns "non-transparent" or "octet-counting".
func (f Framing) String() string {
	if f == OctetCounting {
		return "octet-counting"
	}
	return "non-transparent"
}

// Frame is one syslog message cut from a stream.
type Frame struct {
	// Data is the message without its length prefix or trailer. It points into the Reader's buffer
	// and is valid only until the next call to Next.
	Data []byte
	// Offset is the stream offset of the frame's first byte (the first digit of the octet count,
	// or the first byte of the line).
	Offset int64
	// Framing says how the frame was delimited.
	Framing Framing
}

// Reader splits a syslog TCP stream into frames, following RFC 6587. Each frame is examined on its
// own: one that starts with a run of digits (the first not zero, at most ten) and a space is octet
// counted, any other ends at the next LF or NUL (or the end of the stream), and a CR right before
// an LF is dropped. Empty frames are skipped.
//
// Frames longer than the limit are skipped with a *FrameError wrapping ErrFrameTooLarge, after which
// reading continues with the next frame. A non-transparent frame is skipped up to its trailer; an
// octet-counted one by exactly its declared length, so that framing stays in step even when the
// message holds LFs.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	rd  io.Reader
	max int
	cap int // the most the buffer grows to: a maximal frame and its framing

	buf  []byte
	r, w int   // buf[r:w] holds the bytes read but not consumed
	off  int64 // stream offset of buf[r]
	err  error // the first error rd returned; sticky
}

// NewReader returns a Reader of frames from rd, each at most maxFrameSize bytes. Zero or less means
// DefaultMaxFrameSize.
func NewReader(rd io.Reader, maxFrameSize int) *Reader {
	if maxFrameSize <= 0 {
		maxFrameSize = DefaultMaxFrameSize
	}
	c := maxFrameSize + 16
	return &Reader{rd: rd, max: maxFrameSize, cap: c, buf: make([]byte, min(c, 4096))}
}

// Next returns the next frame. At the end of the stream it returns io.EOF. An error wrapping
// ErrFrameTooLarge concerns one frame only: call Next again for the following one. An error
// wrapping io.ErrUnexpectedEOF means the stream ended inside an octet-counted frame. Any other
// error comes from the underlying reader and ends the stream.
func (r *Reader) Next() (Frame, error) {
	for {
		if r.r == r.w {
			if r.err != nil {
				return Frame{}, r.err
			}
			r.fill()
			continue
		}
		if c := r.buf[r.r]; c == '\n' || c == 0 {
			r.advance(1)
			continue
		}
		start := r.off
		if n, hlen, ok := r.octetCount(); ok {
			return r.octetFrame(start, n, hlen)
		}
		f, err := r.lineFrame(start)
		if err == nil && len(f.Data) == 0 {
			continue
		}
		return f, err
	}
}

// octetCount reports whether the frame at buf[r] starts with an octet count, and returns the count
// and the length of the prefix including the space.
func (r *Reader) octetCount() (n int64, hlen int, ok bool) {
	if c := r.buf[r.r]; c < '1' || c > '9' {
		return 0, 0, false
	}
	for {
		i := r.r
		for i < r.w && i-r.r < 10 && isDigit(r.buf[i]) {
			i++
		}
		if i < r.w {
			if r.buf[i] != ' ' {
				return 0, 0, false
			}
			for _, c := range r.buf[r.r:i] {
				n = n*10 + int64(c-'0')
			}
			return n, i - r.r + 1, true
		}
		if r.err != nil {
			return 0, 0, false
		}
		r.fill()
	}
}

func (r *Reader) octetFrame(start, n int64, hlen int) (Frame, error) {
	if n > int64(r.max) {
		r.advance(hlen)
		r.discard(n)
		return Frame{}, &FrameError{Offset: start, Size: n, Limit: r.max, Err: ErrFrameTooLarge}
	}
	need := hlen + int(n)
	for r.w-r.r < need {
		if r.err != nil {
			r.advance(r.w - r.r)
			if r.err != io.EOF {
				return Frame{}, r.err
			}
			return Frame{}, &FrameError{Offset: start, Size: n, Limit: r.max, Err: io.ErrUnexpectedEOF}
		}
		r.fill()
	}
	data := r.buf[r.r+hlen : r.r+need : r.r+need]
	r.advance(need)
	return Frame{Data: data, Offset: start, Framing: OctetCounting}, nil
}

func (r *Reader) lineFrame(start int64) (Frame, error) {
	scanned := 0
	for {
		if i := indexTrailer(r.buf[r.r+scanned : r.w]); i >= 0 {
			length := scanned + i
			data := r.buf[r.r : r.r+length : r.r+length]
			lf := r.buf[r.r+length] == '\n'
			r.advance(length + 1)
			return r.lineResult(start, data, lf)
		}
		scanned = r.w - r.r
		if scanned > r.max+1 {
			cr := r.buf[r.w-1] == '\r'
			r.advance(scanned)
			size := int64(scanned) + r.discardLine(cr)
			return Frame{}, &FrameError{Offset: start, Size: size, Limit: r.max, Err: ErrFrameTooLarge}
		}
		if r.err != nil {
			// The last frame of the stream may lack its trailer.
			data := r.buf[r.r:r.w:r.w]
			r.advance(r.w - r.r)
			return r.lineResult(start, data, false)
		}
		r.fill()
	}
}

// lineResult checks a non-transparent frame; lf says whether an LF ended it, so that a CR
// before the LF is dropped.
func (r *Reader) lineResult(start int64, data []byte, lf bool) (Frame, error) {
	if n := len(data); lf && n > 0 && data[n-1] == '\r' {
		data = data[:n-1]
	}
	if len(data) > r.max {
		return Frame{}, &FrameError{Offset: start, Size: int64(len(data)), Limit: r.max, Err: ErrFrameTooLarge}
	}
	return Frame{Data: data, Offset: start, Framing: NonTransparent}, nil
}

// discard consumes n bytes, or what is left of the stream if that is less.
func (r *Reader) discard(n int64) {
	for n > 0 {
		if r.r == r.w {
			if r.err != nil {
				return
			}
			r.fill()
			continue
		}
		k := int(min(n, int64(r.w-r.r)))
		r.advance(k)
		n -= int64(k)
	}
}

// discardLine consumes bytes up to and including the next trailer and returns how many came
// before it, not counting a CR before an LF. cr says whether the byte before the first one it
// reads, already consumed, was a CR.
func (r *Reader) discardLine(cr bool) int64 {
	var size int64
	for {
		if r.r == r.w {
			if r.err != nil {
				return size
			}
			r.fill()
			continue
		}
		if i := indexTrailer(r.buf[r.r:r.w]); i >= 0 {
			if r.buf[r.r+i] == '\n' && (i > 0 && r.buf[r.r+i-1] == '\r' || i == 0 && cr) {
				size--
			}
			r.advance(i + 1)
			return size + int64(i)
		}
		size += int64(r.w - r.r)
		cr = r.buf[r.w-1] == '\r'
		r.advance(r.w - r.r)
	}
}

func (r *Reader) advance(k int) {
	r.r += k
	r.off += int64(k)
}

// fill moves the unconsumed bytes to the front of the buffer, grows it if it is full and below its
// cap, and reads once from rd. It sets r.err when rd fails or keeps returning nothing.
func (r *Reader) fill() {
	if r.err != nil {
		return
	}
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.w == len(r.buf) {
		if len(r.buf) >= r.cap {
			return
		}
		nb := make([]byte, min(2*len(r.buf), r.cap))
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	for range 100 {
		n, err := r.rd.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			r.err = io.ErrShortBuffer
			return
		}
		r.w += n
		if err != nil {
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}

// indexTrailer returns the index of the first LF or NUL in b, or -1.
func indexTrailer(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	head := b
	if i >= 0 {
		head = b[:i]
	}
	if j := bytes.IndexByte(head, 0); j >= 0 {
		return j
	}
	return i
}
