package sigma

import (
	"encoding/binary"
	"strings"
)

// fieldTable interns field names into dense ids. Names compare with ASCII case folding and
// ignoring spaces: the specification derives Sigma field names from log field names by
// stripping spaces ("Threat Name" is ThreatName), and SigmaHQ rules and event shapes disagree
// on case often enough. Lookups hash without allocating; the table is read-only once the
// engine is built.
type fieldTable struct {
	mask  uint32
	slots []ftSlot
	names []string // id -> folded name
}

type ftSlot struct {
	hash uint32
	id   int32 // -1: empty
	name string
	raw  string // the spelling first added, for a fast exact comparison
}

func (t *fieldTable) init() {
	t.slots = make([]ftSlot, 64)
	t.mask = 63
	for i := range t.slots {
		t.slots[i].id = -1
	}
}

// foldHash hashes a field name in constant time from its length and its first and last eight
// bytes, with every byte ORed with 0x20 (which folds ASCII letters; other bytes stay
// consistent), after removing spaces.
func foldHash(s string) uint32 {
	if strings.IndexByte(s, ' ') >= 0 {
		return foldHashSpaces(s)
	}
	n := len(s)
	var a, b uint64
	switch {
	case n >= 8:
		a = binary.LittleEndian.Uint64([]byte(s[:8]))
		b = binary.LittleEndian.Uint64([]byte(s[n-8:]))
	default:
		for i := 0; i < n; i++ {
			a |= uint64(s[i]) << (8 * i)
		}
	}
	return mixHash(a, b, n)
}

func mixHash(a, b uint64, n int) uint32 {
	a |= 0x2020202020202020
	b |= 0x2020202020202020
	h := a*0x9E3779B97F4A7C15 ^ (b+uint64(n))*0xC2B2AE3D27D4EB4F
	h ^= h >> 29
	h *= 0x165667B19E3779F9
	return uint32(h >> 32)
}

// foldHashSpaces is foldHash of s with its spaces removed.
func foldHashSpaces(s string) uint32 {
	n := 0
	var first, last [8]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			continue
		}
		if n < 8 {
			first[n] = c
		}
		copy(last[:], last[1:])
		last[7] = c
		n++
	}
	var a, b uint64
	if n >= 8 {
		a = binary.LittleEndian.Uint64(first[:])
		b = binary.LittleEndian.Uint64(last[:])
	} else {
		for i := 0; i < n; i++ {
			a |= uint64(first[i]) << (8 * i)
		}
	}
	return mixHash(a, b, n)
}

// equalFoldedASCII reports whether s equals the folded name f under ASCII case folding,
// ignoring the spaces of s (f has none).
func equalFoldedASCII(f, s string) bool {
	if len(s) < len(f) {
		return false
	}
	j := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if j >= len(f) || c != f[j] {
			return false
		}
		j++
	}
	return j == len(f)
}

// foldFieldName is the canonical form of a field name: ASCII lower case, spaces removed.
func foldFieldName(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

func (t *fieldTable) lookup(name string) int32 {
	h := foldHash(name)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.id < 0 {
			return -1
		}
		if s.hash == h && (s.raw == name || equalFoldedASCII(s.name, name)) {
			return s.id
		}
	}
}

func (t *fieldTable) add(name string) int32 {
	if id := t.lookup(name); id >= 0 {
		return id
	}
	if uint32(len(t.names)+1)*2 > t.mask {
		t.grow()
	}
	folded := foldFieldName(name)
	id := int32(len(t.names))
	t.names = append(t.names, folded)
	t.insert(ftSlot{hash: foldHash(name), id: id, name: folded, raw: name})
	return id
}

func (t *fieldTable) insert(s ftSlot) {
	for i := s.hash & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].id < 0 {
			t.slots[i] = s
			return
		}
	}
}

func (t *fieldTable) grow() {
	old := t.slots
	t.slots = make([]ftSlot, 2*len(old))
	t.mask = uint32(len(t.slots) - 1)
	for i := range t.slots {
		t.slots[i].id = -1
	}
	for _, s := range old {
		if s.id >= 0 {
			t.insert(s)
		}
	}
}
