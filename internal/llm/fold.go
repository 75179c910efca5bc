package llm

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text folding for Detect: obfuscated text is brought back to plain lower-case ASCII where it
// can be, so that one set of patterns sees through case, invisible characters, look-alike letters
// from other scripts, full-width and mathematical letters, accents, and invisible "tag" characters
// that smuggle ASCII.

// foldStats counts what folding undid; Detect reports it when a pattern matched.
type foldStats struct {
	invisible int // zero-width and other format characters, variation selectors
	homoglyph int // letters from other scripts or styles mapped to Latin
	tags      int // Unicode tag characters (U+E0020–U+E007E) read as ASCII
}

// homoglyphs maps look-alike letters to the Latin letter they imitate.
var homoglyphs = map[rune]rune{}

func init() {
	add := func(latin string, others string) {
		for _, r := range others {
			homoglyphs[r] = rune(latin[0])
		}
	}
	// Cyrillic.
	add("a", "аАӐӑӒӓ")
	add("b", "ВвЬьƅ")
	add("c", "сСҫϲϹ")
	add("d", "ԁԀ")
	add("e", "еЕёЁҽӗ")
	add("g", "ɡԌ")
	add("h", "һҺНн")
	add("i", "іІїЇӀӏɪι")
	add("j", "јЈϳ")
	add("k", "кКκΚ")
	add("l", "ⅼℓǀ")
	add("m", "мМΜ")
	add("n", "ոΝη")
	add("o", "оОοΟօՕσ০୦")
	add("p", "рРρΡ")
	add("q", "ԛԚ")
	add("r", "гᴦ")
	add("s", "ѕЅꜱ")
	add("t", "тТτΤ")
	add("u", "υսμ")
	add("v", "νѵѴ")
	add("w", "ԝԜѡ")
	add("x", "хХχΧ")
	add("y", "уУүҮγΥ")
	add("z", "Ζᴢȥ")
	// Greek capitals that look Latin.
	add("a", "ΑαᴀΆά")
	add("b", "Ββʙ")
	add("e", "ΕεᴇΈέ")
	add("h", "Ηʜ")
	add("i", "ΙΊίϊ")
	add("z", "Ζ")
	// Small capitals and Latin look-alikes.
	add("c", "ᴄ")
	add("d", "ᴅ")
	add("f", "ꜰ")
	add("g", "ɢ")
	add("i", "ıǐ")
	add("j", "ᴊ")
	add("k", "ᴋ")
	add("l", "ʟ")
	add("m", "ᴍ")
	add("n", "ɴ")
	add("o", "ᴏ")
	add("p", "ᴘ")
	add("q", "ǫ")
	add("r", "ʀ")
	add("s", "ſ")
	add("t", "ᴛ")
	add("u", "ᴜ")
	add("v", "ᴠ")
	add("w", "ᴡ")
	add("y", "ʏ")
	// Letterlike symbols.
	add("b", "ℬ")
	add("c", "ℂℭ")
	add("e", "ℯℰ")
	add("f", "ℱ")
	add("g", "ℊ")
	add("h", "ℎℋℌℍ")
	add("i", "ℐℑℹ")
	add("k", "K")
	add("l", "ℒ")
	add("m", "ℳ")
	add("n", "ℕ")
	add("o", "ℴ")
	add("p", "ℙ")
	add("q", "ℚ")
	add("r", "ℛℜℝ")
	add("z", "ℤℨ")
	// Accented Latin letters: the base letter is what a pattern needs.
	add("a", "àáâãäåāăąǎȁȃȧÀÁÂÃÄÅĀĂĄǍ")
	add("c", "çćĉċčÇĆĈĊČ")
	add("d", "ďđĎĐ")
	add("e", "èéêëēĕėęěȅȇÈÉÊËĒĔĖĘĚ")
	add("g", "ĝğġģĜĞĠĢ")
	add("h", "ĥħĤĦ")
	add("i", "ìíîïĩīĭįİÌÍÎÏĨĪĬĮ")
	add("j", "ĵĴ")
	add("k", "ķĶ")
	add("l", "ĺļľŀłĹĻĽĿŁ")
	add("n", "ñńņňÑŃŅŇ")
	add("o", "òóôõöøōŏőǒȍȏÒÓÔÕÖØŌŎŐǑ")
	add("r", "ŕŗřŔŖŘ")
	add("s", "śŝşšșŚŜŞŠȘ")
	add("t", "ţťŧțŢŤŦȚ")
	add("u", "ùúûüũūŭůűųǔÙÚÛÜŨŪŬŮŰŲǓ")
	add("w", "ŵŴ")
	add("y", "ýÿŷÝŸŶ")
	add("z", "źżžŹŻŽ")
}

// foldRune maps r to a lower-case ASCII letter or digit when it imitates one. ok is false for
// runes left alone.
func foldRune(r rune) (out rune, homoglyph bool) {
	switch {
	case r < utf8.RuneSelf:
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A', false
		}
		return r, false
	case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
		return foldASCII(r - 0xFF01 + '!'), true
	case r >= 0x1D400 && r <= 0x1D6A3: // mathematical alphanumeric letters, 13 styles of A–Z a–z
		i := (r - 0x1D400) % 52
		if i < 26 {
			return 'a' + i, true
		}
		return 'a' + i - 26, true
	case r >= 0x1D7CE && r <= 0x1D7FF: // mathematical digits, 5 styles of 0–9
		return '0' + (r-0x1D7CE)%10, true
	case r >= 0x24B6 && r <= 0x24CF: // circled capitals
		return 'a' + r - 0x24B6, true
	case r >= 0x24D0 && r <= 0x24E9: // circled small letters
		return 'a' + r - 0x24D0, true
	case r >= 0x249C && r <= 0x24B5: // parenthesized small letters
		return 'a' + r - 0x249C, true
	case r >= 0x1F130 && r <= 0x1F149: // squared capitals
		return 'a' + r - 0x1F130, true
	case r >= 0x1F150 && r <= 0x1F169: // negative circled capitals
		return 'a' + r - 0x1F150, true
	case r >= 0x1F170 && r <= 0x1F189: // negative squared capitals
		return 'a' + r - 0x1F170, true
	case r >= 0x1F1E6 && r <= 0x1F1FF: // regional indicators
		return 'a' + r - 0x1F1E6, true
	case r >= 0x2170 && r <= 0x217F, r >= 0x2160 && r <= 0x216F: // roman numerals ⅰ ⅼ ⅽ ⅾ ⅿ
		switch (r - 0x2160) % 16 {
		case 0:
			return 'i', true
		case 4:
			return 'v', true
		case 9:
			return 'x', true
		case 11:
			return 'l', true
		case 12:
			return 'c', true
		case 13:
			return 'd', true
		case 14:
			return 'm', true
		}
	}
	if h, ok := homoglyphs[r]; ok {
		return h, true
	}
	return unicode.ToLower(r), false
}

func foldASCII(r rune) rune {
	if 'A' <= r && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// fold returns s lower-cased with obfuscation undone: invisible characters dropped, tag
// characters read as ASCII, look-alikes mapped to Latin, every kind of white space a plain space.
func fold(s string, st *foldStats) string {
	var b strings.Builder
	b.Grow(len(s))
	inTags := false
	for _, r := range s {
		if r < utf8.RuneSelf && !inTags { // ASCII fast path
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			} else if r != ' ' && (r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f') {
				r = ' '
			}
			b.WriteByte(byte(r))
			continue
		}
		isTag := r >= 0xE0020 && r <= 0xE007E
		if isTag != inTags {
			b.WriteByte(' ') // hidden text is a passage of its own
			inTags = isTag
		}
		switch {
		case isTag: // tag characters smuggling ASCII
			st.tags++
			b.WriteRune(foldASCII(r - 0xE0000))
			continue
		case r == '\u00AD' || r == '\u034F' || r >= 0xFE00 && r <= 0xFE0F || r >= 0xE0100 && r <= 0xE01EF ||
			r >= 0xE0000 && r <= 0xE007F || unicode.Is(unicode.Cf, r):
			st.invisible++
			continue
		case unicode.In(r, unicode.Mn, unicode.Me):
			continue // combining marks: accents stacked on a letter
		case r == utf8.RuneError:
			b.WriteByte(' ')
			continue
		case r != ' ' && unicode.IsSpace(r):
			b.WriteByte(' ')
			continue
		}
		f, h := foldRune(r)
		if h {
			st.homoglyph++
		}
		b.WriteRune(f)
	}
	return b.String()
}

// leet maps digits and symbols standing in for letters, in words that mix them with letters.
var leet = [128]byte{
	'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '9': 'g',
	'@': 'a', '$': 's', '!': 'i', '|': 'i',
}

func isAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// wordView turns folded text into words of [a-z0-9] separated by single spaces. In a word that
// holds a letter, leet digits become letters ("1gn0r3" → "ignore"); @ $ ! | do too when a letter
// or digit follows them inside the word. Everything else separates words.
func wordView(f string) (view string, leeted bool) {
	var b strings.Builder
	b.Grow(len(f))
	i := 0
	for i < len(f) {
		// Find the next token: a run of ASCII letters, digits and leet symbols.
		j := i
		for j < len(f) && (isAlnum(f[j]) || isLeetSym(f, j)) {
			j++
		}
		if j == i {
			i++
			continue
		}
		tok := f[i:j]
		i = j
		letter := false
		for k := 0; k < len(tok); k++ {
			if 'a' <= tok[k] && tok[k] <= 'z' {
				letter = true
				break
			}
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		for k := 0; k < len(tok); k++ {
			c := tok[k]
			if letter && c < 128 && leet[c] != 0 && !('a' <= c && c <= 'z') {
				b.WriteByte(leet[c])
				leeted = true
				continue
			}
			if isAlnum(c) {
				b.WriteByte(c)
			}
		}
	}
	return b.String(), leeted
}

// isLeetSym reports whether f[j] is @ $ ! or | followed by a letter or digit.
func isLeetSym(f string, j int) bool {
	switch f[j] {
	case '@', '$', '!', '|':
		return j+1 < len(f) && isAlnum(f[j+1])
	}
	return false
}

// symbolView collapses white space of folded text to single spaces and keeps punctuation, for
// the patterns that look at chat-template tokens and role labels.
func symbolView(f string) string {
	return strings.Join(strings.Fields(f), " ")
}

// squashView removes the spaces of a word view, for text spaced out letter by letter
// ("i g n o r e") or cut into pieces ("ign ore prev ious").
func squashView(w string) string {
	return strings.ReplaceAll(w, " ", "")
}
