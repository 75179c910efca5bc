package ingest

import (
	"errors"
	"fmt"
	"io"
)

// valueStream splits a stream of JSON text into values without decoding them: the values one
// after the other (concatenated or pretty-printed objects) or the elements of one top-level
// array. It finds where a value ends by its brackets and strings alone, keeps at most max bytes
// of a value (a longer one is read to its end and reported too large), and leaves checking the
// value to jsontext.Valid: a value that is not valid JSON is one malformed record, and the
// values after it are still read. Only text whose structure is lost (a bracket never closed,
// the input ending inside a string) ends the stream.
type valueStream struct {
	r        io.Reader
	buf      []byte // buf[pos:end] is read and not consumed
	pos, end int
	off      int64 // stream offset of buf[pos]
	err      error // the read error met, io.EOF at the end
	val      []byte
}

func newValueStream(r io.Reader) *valueStream {
	return &valueStream{r: r, buf: make([]byte, 64<<10)}
}

// more reads more input into buf; it reports false when there is none (s.err says why).
func (s *valueStream) more() bool {
	if s.err != nil {
		return false
	}
	if s.pos > 0 {
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.pos = 0
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.err = err
		}
		if n > 0 || err != nil {
			return n > 0
		}
	}
}

// peek skips whitespace and returns the next byte; ok is false at the end of the input or on a
// read error.
func (s *valueStream) peek() (c byte, ok bool) {
	for {
		for s.pos < s.end {
			if c := s.buf[s.pos]; !isSpace(c) {
				return c, true
			}
			s.pos++
			s.off++
		}
		if !s.more() {
			return 0, false
		}
	}
}

func (s *valueStream) skip() { s.pos++; s.off++ }

// errStructure is the error of text whose values cannot be told apart any more.
var errStructure = errors.New("the rest of the file is skipped")

// value reads the value that starts at the next byte (after peek): its bytes (valid until the
// next call, at most max of them: tooLong when there were more) and its offset.
func (s *valueStream) value(max int) (val []byte, off int64, tooLong bool, err error) {
	off = s.off
	s.val = s.val[:0]
	keep := func(b []byte) {
		if len(s.val)+len(b) > max {
			tooLong = true
			return
		}
		s.val = append(s.val, b...)
	}
	if s.pos < s.end {
		switch s.buf[s.pos] {
		case ']', '}', ',', ':':
			return nil, off, false, fmt.Errorf("%w: unexpected %q; %w", ErrSyntax, s.buf[s.pos], errStructure)
		}
	}
	depth := 0
	inString, escaped := false, false
	scalar := false
	for first := true; ; first = false {
		if s.pos == s.end && !s.more() {
			break
		}
		b := s.buf[s.pos:s.end]
		i := 0
		if first {
			switch b[0] {
			case '"':
				inString, i = true, 1
			case '{', '[':
			default:
				scalar = true
			}
		}
		done := false
		for ; i < len(b) && !done; i++ {
			c := b[i]
			switch {
			case scalar:
				if isSpace(c) || c == ',' || c == ']' || c == '}' || c == '[' || c == '{' || c == '"' {
					done = true
					i--
				}
			case inString:
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
					done = depth == 0
				}
			case c == '"':
				inString = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				done = depth <= 0
			}
		}
		keep(b[:i])
		s.pos += i
		s.off += int64(i)
		if done {
			return s.val, off, tooLong, nil
		}
	}
	if scalar && len(s.val) > 0 && s.err == io.EOF {
		return s.val, off, tooLong, nil // a number or literal ending the input
	}
	if s.err != nil && s.err != io.EOF {
		return nil, off, false, s.err
	}
	return nil, off, false, fmt.Errorf("%w: the input ends inside a value; %w", ErrSyntax, errStructure)
}
