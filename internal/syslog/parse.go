package syslog

import (
	"fmt"
	"strings"
	"time"
)

// Parser parses syslog lines. The zero value is ready to use: strict, with the current time as the
// reference and UTC for timestamps that carry no zone. A Parser is safe for concurrent use as long
// as its fields are not changed.
type Parser struct {
	// Lenient makes every line parse: a line that is not syslog, or is syslog too broken to read,
	// becomes a Message with Format FormatUnknown holding just the text. A lenient parser also
	// reads the rest of an RFC 5424 line as MSG when its STRUCTURED-DATA is missing.
	Lenient bool
	// Reference is the time BSD timestamps without a year are placed near: the year chosen is the
	// one nearest Reference that is not more than a day after it. The zero Time means time.Now()
	// at each Parse; a file importer sets it to the file's modification time.
	Reference time.Time
	// Location is the zone of timestamps that carry none. Nil means UTC.
	Location *time.Location
}

// Parse parses one syslog line with the zero Parser.
func Parse(line []byte) (Message, error) {
	var p Parser
	return p.ParseString(string(line))
}

// Parse parses one syslog line. It copies line once; the Message does not refer to it.
func (p *Parser) Parse(line []byte) (Message, error) {
	return p.ParseString(string(line))
}

// ParseString parses one syslog line held in a string, without copying it: the Message's strings
// share its memory.
func (p *Parser) ParseString(line string) (Message, error) {
	s := trimTrailers(line)
	m := Message{Raw: s, Priority: DefaultPriority}
	pos := 0
	if len(s) > 1 && s[0] == '<' && isDigit(s[1]) {
		pri, end, err := parsePRI(s)
		if err != nil {
			return p.fallback(m, 0, err)
		}
		m.Priority, m.HasPriority, pos = pri, true, end
		if isRFC5424(s, pos) {
			m.Format, m.Version = FormatRFC5424, 1
			if err := p.parse5424(s, pos+2, &m); err != nil {
				return p.fallback(Message{Raw: s, Priority: pri, HasPriority: true}, pos, err)
			}
			return m, nil
		}
	}
	if p.parse3164(s, pos, &m) {
		m.Format = FormatRFC3164
		return m, nil
	}
	return p.fallback(m, pos, &ParseError{Field: "header", Offset: pos, Reason: "no priority and no timestamp", Err: ErrNotSyslog})
}

// fallback returns err, or with Lenient set, a FormatUnknown message holding the text from start.
func (p *Parser) fallback(m Message, start int, err error) (Message, error) {
	if !p.Lenient {
		return Message{}, err
	}
	return Message{
		Format:      FormatUnknown,
		Priority:    m.Priority,
		HasPriority: m.HasPriority,
		Message:     stripBOM(m.Raw[start:]),
		Raw:         m.Raw,
	}, nil
}

func (p *Parser) loc() *time.Location {
	if p.Location != nil {
		return p.Location
	}
	return time.UTC
}

func trimTrailers(s string) string {
	n := len(s)
	for n > 0 && (s[n-1] == '\n' || s[n-1] == '\r' || s[n-1] == 0) {
		n--
	}
	return s[:n]
}

const bom = "\xef\xbb\xbf"

func stripBOM(s string) string { return strings.TrimPrefix(s, bom) }

// parsePRI reads "<N>" at the start of s; s[0] is '<' and s[1] a digit.
func parsePRI(s string) (Priority, int, *ParseError) {
	v, j := 0, 1
	for j < len(s) && j < 4 && isDigit(s[j]) {
		v = v*10 + int(s[j]-'0')
		j++
	}
	if j >= len(s) || s[j] != '>' {
		if j < len(s) && isDigit(s[j]) {
			return Priority{}, j, malformed("priority", j, "more than 3 digits")
		}
		return Priority{}, j, malformed("priority", j, "expected '>'")
	}
	if v > 191 {
		return Priority{}, 1, malformed("priority", 1, fmt.Sprintf("%d is out of range 0-191", v))
	}
	return Priority{Facility: Facility(v / 8), Severity: Severity(v % 8)}, j + 1, nil
}

// isRFC5424 reports whether s[i:] starts with VERSION 1, a space and what can start a TIMESTAMP
// (a digit or the NILVALUE). Requiring the timestamp start keeps BSD content such as
// "<13>1 packet dropped" out of the RFC 5424 parser.
func isRFC5424(s string, i int) bool {
	return len(s) >= i+3 && s[i] == '1' && s[i+1] == ' ' && (isDigit(s[i+2]) || s[i+2] == '-')
}

// parse5424 reads the RFC 5424 fields after "VERSION SP", starting at s[i].
func (p *Parser) parse5424(s string, i int, m *Message) error {
	if s[i] == '-' {
		i++
		if i < len(s) && s[i] != ' ' {
			return malformed("timestamp", i, "expected a space after the NILVALUE")
		}
	} else {
		t, end, reason := parseISO(s, i, p.loc(), false)
		if reason != "" {
			return malformed("timestamp", end, reason)
		}
		if end < len(s) && s[end] != ' ' {
			return malformed("timestamp", end, fmt.Sprintf("unexpected %q", s[end]))
		}
		m.Timestamp, i = t, end
	}
	var err error
	if m.Hostname, i, err = field5424(s, i, "hostname"); err != nil {
		return err
	}
	if m.AppName, i, err = field5424(s, i, "app-name"); err != nil {
		return err
	}
	if m.ProcID, i, err = field5424(s, i, "procid"); err != nil {
		return err
	}
	if m.MsgID, i, err = field5424(s, i, "msgid"); err != nil {
		return err
	}
	// Many senders stop after MSGID when there is neither structured data nor a message.
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i == len(s) {
		return nil
	}
	switch s[i] {
	case '-':
		i++
	case '[':
		sd, end, err := parseSD(s, i)
		if err != nil {
			return err
		}
		m.StructuredData, i = sd, end
	default:
		if p.Lenient {
			m.Message = stripBOM(s[i:])
			return nil
		}
		return malformed("structured-data", i, fmt.Sprintf("expected '[' or '-', found %q", s[i]))
	}
	if i == len(s) {
		return nil
	}
	if s[i] != ' ' {
		return malformed("structured-data", i, fmt.Sprintf("expected a space before MSG, found %q", s[i]))
	}
	m.Message = stripBOM(s[i+1:])
	return nil
}

// field5424 reads one space-separated header field starting at the space before it. The NILVALUE
// becomes "". Runs of spaces between fields are accepted.
func field5424(s string, i int, name string) (string, int, error) {
	if i >= len(s) {
		return "", i, malformed(name, i, "missing")
	}
	if s[i] != ' ' {
		return "", i, malformed(name, i, fmt.Sprintf("expected a space, found %q", s[i]))
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	j := i
	for j < len(s) && s[j] != ' ' {
		if s[j] < ' ' || s[j] == 0x7f {
			return "", j, malformed(name, j, fmt.Sprintf("control character %q", s[j]))
		}
		j++
	}
	if j == i {
		return "", i, malformed(name, i, "missing")
	}
	v := s[i:j]
	if v == "-" {
		v = ""
	}
	return v, j, nil
}

// parseSD reads one or more SD-ELEMENTs starting at s[i] == '['.
func parseSD(s string, i int) ([]SDElement, int, error) {
	// Sized from cheap estimates so that appends rarely grow the slices. The MSG may hold these
	// byte pairs too, hence the caps: a hostile line must not make a large allocation.
	var (
		els       = make([]SDElement, 0, min(strings.Count(s[i:], "][")+1, 8))
		params    = make([]SDParam, 0, min(strings.Count(s[i:], `="`), 64))
		boundsBuf [8]int
		bounds    = boundsBuf[:0] // per element: index into params where it starts
	)
	for i < len(s) && s[i] == '[' {
		open := i
		i++
		j := i
		for j < len(s) && isSDName(s[j]) {
			j++
		}
		if j == i {
			return nil, j, malformed("structured-data", j, "missing SD-ID")
		}
		els = append(els, SDElement{ID: s[i:j]})
		bounds = append(bounds, len(params))
		i = j
		for {
			if i >= len(s) {
				return nil, open, malformed("structured-data", open, "unterminated SD-ELEMENT")
			}
			if s[i] == ']' {
				i++
				break
			}
			if s[i] != ' ' {
				return nil, i, malformed("structured-data", i, fmt.Sprintf("unexpected %q in SD-ELEMENT", s[i]))
			}
			for i < len(s) && s[i] == ' ' {
				i++
			}
			if i < len(s) && s[i] == ']' {
				i++
				break
			}
			j = i
			for j < len(s) && isSDName(s[j]) {
				j++
			}
			if j == i {
				if j >= len(s) {
					return nil, open, malformed("structured-data", open, "unterminated SD-ELEMENT")
				}
				return nil, j, malformed("structured-data", j, fmt.Sprintf("unexpected %q where a PARAM-NAME belongs", s[j]))
			}
			name := s[i:j]
			if j >= len(s) || s[j] != '=' {
				return nil, j, malformed("structured-data", j, fmt.Sprintf("expected '=' after PARAM-NAME %q", name))
			}
			j++
			if j >= len(s) || s[j] != '"' {
				return nil, j, malformed("structured-data", j, fmt.Sprintf("expected '\"' to open the value of %q", name))
			}
			j++
			start, escaped := j, false
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					escaped = true
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, start - 1, malformed("structured-data", start-1, fmt.Sprintf("unterminated value of %q", name))
			}
			v := s[start:j]
			if escaped {
				v = unescapeSD(v)
			}
			params = append(params, SDParam{Name: name, Value: v})
			i = j + 1
		}
	}
	for k := range els {
		end := len(params)
		if k+1 < len(els) {
			end = bounds[k+1]
		}
		if bounds[k] < end {
			els[k].Params = params[bounds[k]:end:end]
		}
	}
	return els, i, nil
}

// unescapeSD resolves \" \\ and \] in a PARAM-VALUE. Any other backslash is kept, as RFC 5424
// section 6.3.3 requires.
func unescapeSD(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\' || v[i+1] == ']') {
			i++
			c = v[i]
		}
		b.WriteByte(c)
	}
	return b.String()
}

// isSDName reports whether c may appear in an SD-NAME: printable US-ASCII except '=', ' ', ']'
// and '"'.
func isSDName(c byte) bool {
	return c > ' ' && c < 0x7f && c != '=' && c != ']' && c != '"'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func skipSpaces(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}
