package intel

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxLine bounds a line of a list or a CSV preamble.
const maxLine = 1 << 20

// readLine reads one line without its end; tooLong reports a line cut at maxLine.
func readLine(br *bufio.Reader) (line string, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) <= maxLine {
			buf = append(buf, chunk...)
		} else {
			tooLong = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && (!errors.Is(err, io.EOF) || len(buf) == 0) {
			return "", false, err
		}
		return strings.TrimRight(string(buf), "\r\n"), tooLong, nil
	}
}

// valueHeaders are the usual names of a CSV feed's value column, by preference.
var valueHeaders = []string{"value", "ioc", "ioc_value", "indicator", "observable", "url", "dst_ip", "ip",
	"ip_address", "ipaddress", "domain", "hostname", "host", "sha256_hash", "sha256", "sha1_hash", "sha1",
	"md5_hash", "md5", "email"}

// csvColumns are a feed's columns resolved to field indexes (-1: none).
type csvColumns struct {
	value, typ, first, last, expires, conf, name, desc, malware, tags int
	// MISP CSV exports.
	uuid, toIDS, date, eventInfo, threatLevel, eventTag int
}

func noColumns() csvColumns {
	return csvColumns{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}
}

// resolveColumn finds a column by 1-based number or header name (-1: not found).
func resolveColumn(spec string, header []string) (int, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return -1, nil
	}
	if n, err := strconv.Atoi(spec); err == nil {
		if n < 1 {
			return -1, fmt.Errorf("%w: CSV column %d: columns count from 1", ErrSource, n)
		}
		return n - 1, nil
	}
	for i, h := range header {
		if strings.EqualFold(cleanHeader(h), spec) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: CSV column %q is not in the header", ErrSource, spec)
}

func cleanHeader(h string) string {
	return strings.TrimSpace(strings.Trim(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), `"'#`))
}

func findHeader(header []string, names ...string) int {
	for _, n := range names {
		for i, h := range header {
			if strings.EqualFold(cleanHeader(h), n) {
				return i
			}
		}
	}
	return -1
}

func isColumnName(spec string) bool {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return false
	}
	_, err := strconv.Atoi(spec)
	return err != nil
}

// readCSV reads a CSV feed, or a MISP CSV export when misp is set.
func (fr *feedReader) readCSV(br *bufio.Reader, misp bool) error {
	opts := fr.src.CSV
	comment := opts.Comment
	if comment == "" {
		comment = "#"
	}
	comma := opts.Comma
	if comma == 0 {
		comma = ','
	}
	// The preamble: comment lines before the first record; the last may be the header.
	line := 0
	lastComment, first := "", ""
	for {
		s, tooLong, err := readLine(br)
		if errors.Is(err, io.EOF) {
			return nil // no records
		}
		if err != nil {
			return &EntryError{File: fr.file, Entry: fmt.Sprintf("line %d", line+1), Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
		}
		line++
		t := strings.TrimSpace(strings.TrimPrefix(s, "\ufeff"))
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, comment) {
			lastComment = strings.TrimSpace(strings.TrimPrefix(t, comment))
			continue
		}
		if tooLong {
			return &EntryError{File: fr.file, Entry: fmt.Sprintf("line %d", line), Err: malformedf("line longer than %d bytes", maxLine)}
		}
		first = strings.TrimPrefix(s, "\ufeff")
		break
	}
	firstLine := line
	fr.csvLineBase = firstLine - 1
	cr := csv.NewReader(io.MultiReader(strings.NewReader(first+"\n"), br))
	cr.Comma = comma
	if r, n := utf8.DecodeRuneInString(comment); n == len(comment) && r != comma {
		cr.Comment = r
	}
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true

	specs := []string{opts.Value, opts.Type, opts.FirstSeen, opts.LastSeen, opts.Expires, opts.Confidence,
		opts.Name, opts.Description, opts.Malware, opts.Tags}
	named := misp
	for _, s := range specs {
		named = named || isColumnName(s)
	}
	headerRequired := opts.Header || named

	// The header: the last comment line when it names the value column, else the first record
	// when a header is required or it names a usual value column.
	var header []string
	headerFromComment := false
	if lastComment != "" {
		if h, err := csvFields(lastComment, comma); err == nil {
			if fr.valueColumn(h, misp) >= 0 {
				header, headerFromComment = h, true
			}
		}
	}
	record := func() ([]string, int, error) {
		rec, err := cr.Read()
		l := 0
		if len(rec) > 0 {
			l, _ = cr.FieldPos(0)
		}
		return rec, l + firstLine - 1, err
	}
	var pending []string // a first record that is data
	pendingLine := 0
	if header == nil {
		rec, l, err := record()
		if err != nil {
			return fr.csvReadError(err, l)
		}
		if headerRequired || fr.valueColumn(rec, misp) >= 0 && opts.Value == "" {
			header = append([]string(nil), rec...)
		} else {
			pending, pendingLine = append([]string(nil), rec...), l
		}
	}
	cols, err := fr.columns(header, misp)
	if err != nil {
		return &EntryError{File: fr.file, Err: err}
	}
	maybeHeader := header == nil && !headerFromComment
	handle := func(rec []string, l int) {
		entry := fmt.Sprintf("line %d", l)
		if misp {
			fr.mispCSVRow(rec, cols, entry)
			return
		}
		errsBefore := len(fr.errs)
		fr.csvRow(rec, cols, entry)
		if maybeHeader {
			maybeHeader = false
			if len(fr.errs) > errsBefore {
				fr.errs = fr.errs[:errsBefore] // a header row nobody declared
				fr.entries--
			}
		}
	}
	if pending != nil {
		if err := fr.entry(); err != nil {
			return err
		}
		handle(pending, pendingLine)
	}
	for {
		rec, l, err := record()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrFieldCount) {
				return fr.csvReadError(err, l)
			}
		}
		if err := fr.entry(); err != nil {
			return err
		}
		if len(rec) > 0 && comment != "" && strings.HasPrefix(strings.TrimSpace(rec[0]), comment) {
			fr.entries--
			continue
		}
		handle(rec, l)
	}
}

func (fr *feedReader) csvReadError(err error, l int) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		l = pe.Line + fr.csvLineBase
	}
	return &EntryError{File: fr.file, Entry: fmt.Sprintf("line %d", l), Err: fmt.Errorf("%w: CSV: %v", ErrMalformed, err)}
}

func csvFields(s string, comma rune) ([]string, error) {
	cr := csv.NewReader(strings.NewReader(s))
	cr.Comma = comma
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true
	return cr.Read()
}

// valueColumn finds the value column in a candidate header (-1: none).
func (fr *feedReader) valueColumn(header []string, misp bool) int {
	if misp {
		if findHeader(header, "value") >= 0 && findHeader(header, "type") >= 0 {
			return findHeader(header, "value")
		}
		return -1
	}
	if spec := fr.src.CSV.Value; spec != "" {
		if !isColumnName(spec) {
			return -1
		}
		i, _ := resolveColumn(spec, header)
		return i
	}
	return findHeader(header, valueHeaders...)
}

// columns resolves the configured columns against the header (nil when there is none).
func (fr *feedReader) columns(header []string, misp bool) (csvColumns, error) {
	c := noColumns()
	opts := fr.src.CSV
	if misp {
		c.uuid = findHeader(header, "uuid")
		c.typ = findHeader(header, "type")
		c.value = findHeader(header, "value")
		c.desc = findHeader(header, "comment")
		c.toIDS = findHeader(header, "to_ids")
		c.date = findHeader(header, "date", "timestamp")
		c.tags = findHeader(header, "attribute_tag", "tags", "tag")
		c.eventTag = findHeader(header, "event_tag")
		c.eventInfo = findHeader(header, "event_info", "info")
		c.threatLevel = findHeader(header, "event_threat_level_id", "threat_level_id")
		c.first = findHeader(header, "first_seen")
		c.last = findHeader(header, "last_seen")
		if c.value < 0 || c.typ < 0 {
			return c, fmt.Errorf("%w: a MISP CSV export needs value and type columns", ErrFormat)
		}
		return c, nil
	}
	var err error
	set := func(dst *int, spec string) {
		if err != nil {
			return
		}
		*dst, err = resolveColumn(spec, header)
	}
	set(&c.value, opts.Value)
	set(&c.typ, opts.Type)
	set(&c.first, opts.FirstSeen)
	set(&c.last, opts.LastSeen)
	set(&c.expires, opts.Expires)
	set(&c.conf, opts.Confidence)
	set(&c.name, opts.Name)
	set(&c.desc, opts.Description)
	set(&c.malware, opts.Malware)
	set(&c.tags, opts.Tags)
	if err != nil {
		return c, err
	}
	if c.value < 0 {
		c.value = 0
		if header != nil {
			if i := findHeader(header, valueHeaders...); i >= 0 {
				c.value = i
			}
		}
	}
	if header != nil && opts.Type == "" {
		c.typ = findHeader(header, "ioc_type", "type", "indicator_type")
	}
	return c, nil
}

func field(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// csvRow adds the indicators of one CSV record.
func (fr *feedReader) csvRow(rec []string, c csvColumns, entry string) {
	raw := field(rec, c.value)
	if raw == "" {
		fr.skipped++
		return
	}
	typeName := field(rec, c.typ)
	if typeName != "" {
		if slots, known := typeSlots(typeName); known && len(slots) == 0 {
			fr.skipped++
			return
		}
	}
	vals, err := valuesOf(typeName, raw, fr.src.Type)
	if err != nil {
		fr.fail(entry, err)
		return
	}
	ind := Indicator{
		ID:          entry,
		Name:        field(rec, c.name),
		Description: field(rec, c.desc),
		Labels:      splitTags(field(rec, c.tags)),
	}
	if m := field(rec, c.malware); m != "" && !strings.EqualFold(m, "none") && !strings.EqualFold(m, "unknown") {
		ind.Malware = []string{m}
	}
	var errs []error
	if ind.ValidFrom, err = parseTime(field(rec, c.first)); err != nil {
		errs = append(errs, fmt.Errorf("first seen: %w", err))
	}
	if ind.LastSeen, err = parseTime(field(rec, c.last)); err != nil {
		errs = append(errs, fmt.Errorf("last seen: %w", err))
	}
	if ind.ValidUntil, err = parseTime(field(rec, c.expires)); err != nil {
		errs = append(errs, fmt.Errorf("expires: %w", err))
	}
	if ind.Confidence, err = parseConfidence(field(rec, c.conf)); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		fr.fail(entry, errs[0])
		return
	}
	for _, v := range vals {
		fr.addValue(ind, v)
	}
}

// mispCSVRow adds the indicators of one row of a MISP CSV export.
func (fr *feedReader) mispCSVRow(rec []string, c csvColumns, entry string) {
	a := mispAttribute{
		UUID:      flexString(field(rec, c.uuid)),
		Type:      field(rec, c.typ),
		Value:     flexString(field(rec, c.value)),
		Comment:   field(rec, c.desc),
		Timestamp: flexString(field(rec, c.date)),
		FirstSeen: flexString(field(rec, c.first)),
		LastSeen:  flexString(field(rec, c.last)),
		ToIDS:     true,
	}
	if c.toIDS >= 0 {
		var b flexBool
		if err := b.UnmarshalJSON([]byte(strconv.Quote(field(rec, c.toIDS)))); err != nil {
			fr.fail(entry, fmt.Errorf("%w: to_ids: %v", ErrMalformed, err))
			return
		}
		a.ToIDS = b
	}
	if a.UUID != "" {
		entry += " (" + clip(string(a.UUID)) + ")"
	}
	ev := &mispEventCtx{Info: field(rec, c.eventInfo), ThreatLevelID: flexString(field(rec, c.threatLevel))}
	tags := field(rec, c.tags)
	if et := field(rec, c.eventTag); et != "" {
		tags += "," + et
	}
	fr.mispAttr(ev, a, entry, tags)
}

// readList reads a list with one indicator a line. Blank lines and lines starting with #, ;
// or // are skipped; text after " #" or " ;" is the entry's description; a hosts-file line
// ("0.0.0.0 evil.example") gives its name.
func (fr *feedReader) readList(br *bufio.Reader) error {
	for line := 1; ; line++ {
		s, tooLong, err := readLine(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &EntryError{File: fr.file, Entry: fmt.Sprintf("line %d", line), Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
		}
		t := strings.TrimSpace(strings.TrimPrefix(s, "\ufeff"))
		if t == "" || t[0] == '#' || t[0] == ';' || strings.HasPrefix(t, "//") {
			continue
		}
		if err := fr.entry(); err != nil {
			return err
		}
		entry := fmt.Sprintf("line %d", line)
		if tooLong {
			fr.fail(entry, malformedf("line longer than %d bytes", maxLine))
			continue
		}
		desc := ""
		for _, sep := range []string{" #", "\t#", " ;", "\t;", " //"} {
			if i := strings.Index(t, sep); i >= 0 {
				desc = strings.TrimSpace(strings.TrimLeft(t[i+len(sep)-1:], "#;/ \t"))
				t = strings.TrimSpace(t[:i])
			}
		}
		fields := strings.Fields(t)
		if len(fields) == 0 {
			continue
		}
		v := fields[0]
		if len(fields) > 1 {
			switch v {
			case "0.0.0.0", "127.0.0.1", "::", "::1":
				v = fields[1]
			}
		}
		v = strings.TrimRight(v, ",;")
		val, err := parseValue(fr.src.Type, refang(v))
		if err != nil {
			fr.fail(entry, err)
			continue
		}
		fr.addValue(Indicator{ID: entry, Description: desc}, val)
	}
}
