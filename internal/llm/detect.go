package llm

import (
	"encoding/base64"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Finding is what Detect found in one text.
type Finding struct {
	// Suspicious is Score >= SuspiciousScore.
	Suspicious bool
	// Score is in [0, 1]: the patterns' weights combined as independent evidence, raised a little
	// when the text was obfuscated where a pattern matched.
	Score float64
	// Matches names the patterns that matched ("ignore-instructions", "role-tag", ...), then the
	// obfuscation seen where they matched ("obfuscation:homoglyph", "encoding:base64", ...),
	// sorted and without repeats. Nil when nothing matched.
	Matches []string
	// Truncated reports that only the first MaxDetectBytes of the text were examined.
	Truncated bool
}

// SuspiciousScore is the score from which Detect calls a text suspicious.
const SuspiciousScore = 0.6

// MaxDetectBytes bounds the text Detect examines, and so its time.
const MaxDetectBytes = 32 << 10

// Limits on decoding inside Detect.
const (
	maxDecodeDepth   = 2
	maxBase64Runs    = 32
	maxDecodedBytes  = 64 << 10
	minBase64Run     = 16
	obfuscationBoost = 0.25
)

// Detect scores text from a log, alert or e-mail field (command lines, user agents, mail
// subjects, application names, any value an attacker may write) for instructions aimed at an AI:
// "ignore previous instructions", "mark this as a false positive", "do not escalate", chat
// template tokens such as <|im_start|>, persona jailbreaks. It sees through case, extra spaces and
// punctuation, letters spaced out, zero-width and other invisible characters, Unicode tag
// characters, look-alike letters from other scripts and styles, accents, leetspeak digits,
// percent-, HTML- and backslash-escapes, and base64 (UTF-8 or UTF-16LE) that decodes to text.
//
// A finding is a signal for the analyst and for the prompt (RenderBlock marks the block), never a
// reason to trust or distrust the rest of the data. Detect is safe for concurrent use and runs in
// time linear in min(len(text), MaxDetectBytes).
func Detect(text string) Finding {
	var f Finding
	if len(text) > MaxDetectBytes {
		text = truncateUTF8(text, MaxDetectBytes)
		f.Truncated = true
	}
	d := detection{weights: map[string]float64{}, markers: map[string]bool{}}
	d.scan(text, "", 0)
	if len(d.weights) == 0 {
		return f
	}
	rest := 1.0
	for id, w := range d.weights {
		rest *= 1 - w
		f.Matches = append(f.Matches, id)
	}
	if len(d.markers) > 0 {
		rest *= 1 - obfuscationBoost
		for m := range d.markers {
			f.Matches = append(f.Matches, m)
		}
	}
	slices.Sort(f.Matches)
	f.Score = math.Round((1-rest)*1000) / 1000
	f.Suspicious = f.Score >= SuspiciousScore
	return f
}

type detection struct {
	weights       map[string]float64 // pattern id → highest weight matched
	markers       map[string]bool    // obfuscation seen where a pattern matched
	decodedBudget int
}

func (d *detection) hit(id string, w float64) {
	if w > d.weights[id] {
		d.weights[id] = w
	}
}

// scan examines text as it is, unescaped, and with its base64 runs decoded.
func (d *detection) scan(text, via string, depth int) {
	d.layer(text, via)
	if u := unescape(text); u != text {
		d.layer(u, join(via, "encoding:escape"))
		text = text + " " + u
	}
	if depth >= maxDecodeDepth {
		return
	}
	for _, dec := range d.base64Texts(text) {
		d.scan(dec.text, join(via, dec.via), depth+1)
	}
}

func join(via, more string) string {
	if via == "" {
		return more
	}
	return via + "," + more
}

// layer runs every pattern over the views of one text.
func (d *detection) layer(text, via string) {
	var st foldStats
	f := fold(text, &st)
	words, leeted := wordView(f)
	idx := newWordIndex(words)
	var sq *squashed
	var sqOffsets map[int][]int
	matched, squashOnly := false, false
	for i, p := range wordPatterns {
		hit, cancelled := idx.match(p)
		if hit {
			d.hit(p.id, p.weight)
			matched = true
			continue
		}
		if p.sq == nil || cancelled {
			continue
		}
		if sq == nil {
			sq = squash(words)
			sqOffsets = sq.anchorOffsets()
		}
		if sq.match(p, sqOffsets[i]) {
			d.hit(p.id, p.weight)
			matched, squashOnly = true, true
		}
	}
	sym := symbolView(f)
	for _, p := range symbolPatterns {
		if matchNear(p.re, sym, p.needs, p.span) {
			d.hit(p.id, p.weight)
			matched = true
		}
	}
	if !matched {
		return
	}
	for _, m := range strings.Split(via, ",") {
		if m != "" {
			d.markers[m] = true
		}
	}
	if st.invisible > 0 {
		d.markers["obfuscation:invisible"] = true
	}
	if st.homoglyph > 0 {
		d.markers["obfuscation:homoglyph"] = true
	}
	if st.tags > 0 {
		d.markers["obfuscation:tag-characters"] = true
	}
	if leeted {
		d.markers["obfuscation:leet"] = true
	}
	if squashOnly {
		d.markers["obfuscation:spacing"] = true
	}
}

// anchorWords holds every word pattern's anchors (filled in by the patterns' init).
var anchorWords = map[string]bool{}

// wordIndex is a word view with the offsets of its anchor words, so that each pattern runs only
// near the words it needs.
type wordIndex struct {
	words string
	pos   map[string][]int
}

func newWordIndex(words string) *wordIndex {
	x := &wordIndex{words: words, pos: map[string][]int{}}
	c := canon(words)
	for i := 0; i < len(c); {
		j := strings.IndexByte(c[i:], ' ')
		if j < 0 {
			j = len(c) - i
		}
		if w := c[i : i+j]; anchorWords[w] {
			x.pos[w] = append(x.pos[w], i)
		}
		i += j + 1
	}
	return x
}

// windows returns the stretches of text, at word boundaries, within span of the offsets.
// The last word after each stretch is included, for a notAfter check.
func windows(text string, offsets []int, span int) [][2]int {
	slices.Sort(offsets)
	var out [][2]int
	for _, o := range offsets {
		lo, hi := max(o-span, 0), min(o+span, len(text))
		if k := strings.LastIndexByte(text[:lo], ' '); k >= 0 {
			lo = k + 1
		} else {
			lo = 0
		}
		for n := 0; n < 2 && hi < len(text); n++ { // to the end of this word and the next
			if k := strings.IndexByte(text[hi+1:], ' '); k >= 0 {
				hi += 1 + k
			} else {
				hi = len(text)
			}
		}
		if len(out) > 0 && lo <= out[len(out)-1][1] {
			out[len(out)-1][1] = max(out[len(out)-1][1], hi)
			continue
		}
		out = append(out, [2]int{lo, hi})
	}
	return out
}

// match reports whether p matches near one of its anchors, skipping matches followed by a word
// in p.notAfter; cancelled reports that there were only such matches.
func (x *wordIndex) match(p *wordPattern) (hit, cancelled bool) {
	var offsets []int
	for _, a := range p.anchors {
		offsets = append(offsets, x.pos[a]...)
	}
	if len(offsets) == 0 {
		return false, false
	}
	for _, w := range windows(x.words, offsets, p.span) {
		text := x.words[w[0]:w[1]]
		if p.notAfter == nil {
			if p.re.MatchString(text) {
				return true, false
			}
			continue
		}
		for _, m := range p.re.FindAllStringSubmatchIndex(text, -1) {
			if m[2] < 0 || !slices.Contains(p.notAfter, text[m[2]:m[3]]) {
				return true, false
			}
			cancelled = true
		}
	}
	return false, cancelled
}

// matchNear reports whether re matches text within span bytes of an occurrence of one of needs.
func matchNear(re *regexp.Regexp, text string, needs []string, span int) bool {
	var offsets []int
	for _, n := range needs {
		for from := 0; ; {
			i := strings.Index(text[from:], n)
			if i < 0 {
				break
			}
			offsets = append(offsets, from+i)
			from += i + 1
		}
	}
	if len(offsets) == 0 {
		return false
	}
	slices.Sort(offsets)
	lo, hi := -1, -1
	for _, o := range offsets {
		a, b := max(o-span, 0), min(o+span, len(text))
		if a <= hi {
			hi = b
			continue
		}
		if lo >= 0 && re.MatchString(runeWindow(text, lo, hi)) {
			return true
		}
		lo, hi = a, b
	}
	return re.MatchString(runeWindow(text, lo, hi))
}

// runeWindow returns text[lo:hi] widened to whole runes.
func runeWindow(text string, lo, hi int) string {
	for lo > 0 && !utf8.RuneStart(text[lo]) {
		lo--
	}
	for hi < len(text) && !utf8.RuneStart(text[hi]) {
		hi++
	}
	return text[lo:hi]
}

// squashed is a word view without its spaces, remembering where words started and ended, for
// text spaced out letter by letter ("i g n o r e"), cut into pieces ("ign-ore") or glued
// ("IgnorePreviousInstructions").
type squashed struct {
	text  string
	canon string
	// start[i] and end[i] report whether a word starts or ends at byte i of text.
	start, end []bool
}

func squash(words string) *squashed {
	s := &squashed{text: squashView(words)}
	s.canon = canon(s.text)
	s.start = make([]bool, len(s.text)+1)
	s.end = make([]bool, len(s.text)+1)
	j := 0
	for _, w := range strings.Split(words, " ") {
		if w == "" {
			continue
		}
		s.start[j] = true
		j += len(w)
		s.end[j] = true
	}
	return s
}

// minGluedMatch is the shortest match accepted inside a single word: long enough that glued
// phrases ("classifyasbenign") count and ordinary words ("stoppage") do not.
const minGluedMatch = 12

// squashAnchor is one anchor of a squashed expression: pattern index and text.
type squashAnchor struct {
	pattern int
	text    string
}

// squashBuckets indexes the squashed anchors of every pattern by their first two bytes
// (filled in by the patterns' init).
var squashBuckets = make([][]squashAnchor, 1<<16)

// anchorOffsets finds, in one pass, where each pattern's squashed anchors occur.
func (s *squashed) anchorOffsets() map[int][]int {
	out := map[int][]int{}
	t := s.canon
	for i := 0; i+1 < len(t); i++ {
		for _, a := range squashBuckets[int(t[i])<<8|int(t[i+1])] {
			if strings.HasPrefix(t[i:], a.text) {
				out[a.pattern] = append(out[a.pattern], i)
			}
		}
	}
	return out
}

// match reports whether p's squashed expression matches a run of whole words near one of its
// anchors (offsets), spanning more than one word or at least minGluedMatch letters.
func (s *squashed) match(p *wordPattern, offsets []int) bool {
	if len(offsets) == 0 {
		return false
	}
	slices.Sort(offsets)
	lo, hi := -1, -1
	for _, o := range offsets {
		a, b := max(o-p.sqSpan, 0), min(o+p.sqSpan, len(s.text))
		if a <= hi {
			hi = b
			continue
		}
		if lo >= 0 && s.matchIn(p.sq, lo, hi) {
			return true
		}
		lo, hi = a, b
	}
	return s.matchIn(p.sq, lo, hi)
}

func (s *squashed) matchIn(re *regexp.Regexp, lo, hi int) bool {
	for _, m := range re.FindAllStringIndex(s.text[lo:hi], -1) {
		a, b := lo+m[0], lo+m[1]
		if !s.start[a] || !s.end[b] {
			continue
		}
		if b-a >= minGluedMatch || slices.Contains(s.end[a+1:b], true) {
			return true
		}
	}
	return false
}

// unescape undoes percent-encoding (also %uXXXX), HTML character references and backslash
// escapes (\xHH, \uXXXX, \u{X}), up to three layers deep.
func unescape(s string) string {
	for range 3 {
		if !strings.ContainsAny(s, `%&\`) {
			return s
		}
		u := unescapeOnce(s)
		if u == s {
			return s
		}
		s = u
	}
	return s
}

var namedEntities = map[string]string{
	"lt": "<", "gt": ">", "amp": "&", "quot": `"`, "apos": "'", "nbsp": " ", "sol": "/", "bsol": `\`,
	"colon": ":", "lpar": "(", "rpar": ")", "vert": "|", "num": "#", "lsqb": "[", "rsqb": "]",
}

func unescapeOnce(s string) string {
	percent := strings.Contains(s, "%")
	var b strings.Builder
	b.Grow(len(s))
	var pend []byte // percent-decoded bytes waiting to form UTF-8
	flush := func() {
		if len(pend) > 0 {
			b.WriteString(strings.ToValidUTF8(string(pend), " "))
			pend = pend[:0]
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && s[i+1] == 'u' && i+5 < len(s) && isHex(s[i+2:i+6]):
			flush()
			n, _ := strconv.ParseUint(s[i+2:i+6], 16, 32)
			b.WriteRune(rune(n))
			i += 6
			continue
		case c == '%' && i+2 < len(s) && isHex(s[i+1:i+3]):
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			pend = append(pend, byte(n))
			i += 3
			continue
		}
		flush()
		switch {
		case c == '+' && percent:
			b.WriteByte(' ')
			i++
		case c == '&':
			if r, n := htmlRef(s[i:]); n > 0 {
				b.WriteString(r)
				i += n
				continue
			}
			b.WriteByte(c)
			i++
		case c == '\\' && i+1 < len(s):
			if r, n := backslashEscape(s[i:]); n > 0 {
				b.WriteRune(r)
				i += n
				continue
			}
			b.WriteByte(c)
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	flush()
	return b.String()
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return len(s) > 0
}

// htmlRef decodes a character reference at the start of s: &#NNN; &#xHH; or a common named one.
func htmlRef(s string) (string, int) {
	end := strings.IndexByte(s[:min(len(s), 12)], ';')
	if end < 2 || end > 10 {
		return "", 0
	}
	body := s[1:end]
	if body[0] == '#' {
		var n uint64
		var err error
		if len(body) > 1 && (body[1] == 'x' || body[1] == 'X') {
			n, err = strconv.ParseUint(body[2:], 16, 32)
		} else {
			n, err = strconv.ParseUint(body[1:], 10, 32)
		}
		if err != nil || n > unicode.MaxRune {
			return "", 0
		}
		return string(rune(n)), end + 1
	}
	if r, ok := namedEntities[strings.ToLower(body)]; ok {
		return r, end + 1
	}
	return "", 0
}

// backslashEscape decodes \xHH, \uXXXX or \u{X...} at the start of s.
func backslashEscape(s string) (rune, int) {
	switch s[1] {
	case 'x':
		if len(s) >= 4 && isHex(s[2:4]) {
			n, _ := strconv.ParseUint(s[2:4], 16, 8)
			return rune(n), 4
		}
	case 'u':
		if len(s) >= 6 && isHex(s[2:6]) {
			n, _ := strconv.ParseUint(s[2:6], 16, 32)
			return rune(n), 6
		}
		if len(s) >= 4 && s[2] == '{' {
			if end := strings.IndexByte(s[:min(len(s), 12)], '}'); end > 3 && isHex(s[3:end]) {
				n, _ := strconv.ParseUint(s[3:end], 16, 32)
				if n <= unicode.MaxRune {
					return rune(n), end + 1
				}
			}
		}
	}
	return 0, 0
}

// base64Runs returns up to n runs of base64 characters (standard or URL alphabet) of at least
// minBase64Run characters, with their padding.
func base64Runs(s string, n int) []string {
	var out []string
	for i := 0; i < len(s) && len(out) < n; {
		if !isBase64Char(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isBase64Char(s[j]) {
			j++
		}
		k := j
		for k < len(s) && k-j < 2 && s[k] == '=' {
			k++
		}
		if j-i >= minBase64Run {
			out = append(out, s[i:k])
		}
		i = k
	}
	return out
}

func isBase64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '_' || c == '-'
}

type decoded struct{ text, via string }

// base64Texts decodes the base64 runs of s that turn out to be text.
func (d *detection) base64Texts(s string) []decoded {
	var out []decoded
	runs := base64Runs(s, maxBase64Runs)
	for _, run := range runs {
		if d.decodedBudget >= maxDecodedBytes {
			break
		}
		if !plausibleBase64(run) {
			continue
		}
		run = truncateUTF8(run, maxDecodedBytes-d.decodedBudget)
		for skip := 0; skip < 4 && skip+minBase64Run <= len(run); skip++ {
			if t, via, ok := decodeBase64Text(run[skip:]); ok {
				d.decodedBudget += len(t)
				out = append(out, decoded{t, via})
				break
			}
			if len(run) < 24 {
				break
			}
		}
	}
	return out
}

// plausibleBase64 skips runs that are plain words or paths: base64 of text mixes cases and
// has few long runs of lower-case letters.
func plausibleBase64(run string) bool {
	upper, lower := 0, 0
	for i := 0; i < len(run); i++ {
		switch c := run[i]; {
		case 'A' <= c && c <= 'Z':
			upper++
		case 'a' <= c && c <= 'z':
			lower++
		}
	}
	return upper > 0 && lower > 0
}

func decodeBase64Text(run string) (string, string, bool) {
	trimmed := strings.TrimRight(run, "=")
	encs := []*base64.Encoding{base64.RawStdEncoding}
	if strings.ContainsAny(trimmed, "-_") {
		encs = []*base64.Encoding{base64.RawURLEncoding}
	}
	for _, enc := range encs {
		n := len(trimmed)
		if n%4 == 1 {
			n-- // a dangling character cannot decode; drop it
		}
		raw, err := enc.DecodeString(trimmed[:n])
		if err != nil || len(raw) < 8 {
			continue
		}
		if t, ok := textOf(raw); ok {
			return t, "encoding:base64", true
		}
	}
	return "", "", false
}

// textOf returns raw as text when it is mostly printable UTF-8 or UTF-16LE with letters.
func textOf(raw []byte) (string, bool) {
	if utf8.Valid(raw) && printable(string(raw)) {
		return string(raw), true
	}
	if len(raw) >= 4 && raw[1] == 0 {
		u := make([]uint16, len(raw)/2)
		for i := range u {
			u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
		}
		t := string(utf16.Decode(u))
		if printable(t) {
			return t, true
		}
	}
	return "", false
}

func printable(s string) bool {
	total, good, letters := 0, 0, 0
	for _, r := range s {
		total++
		switch {
		case r == utf8.RuneError:
		case unicode.IsLetter(r):
			letters++
			good++
		case unicode.IsPrint(r) || r == '\n' || r == '\r' || r == '\t':
			good++
		}
	}
	return total > 0 && good*100 >= total*90 && letters*100 >= total*40
}
