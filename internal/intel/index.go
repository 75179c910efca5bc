package intel

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// sourceIndex is one source's indicators and their indexes. It is immutable once built: a
// reload or a prune builds a new one, and lookups read it without locks.
type sourceIndex struct {
	meta sourceMeta
	inds []Indicator
	// pats[i] is inds[i]'s compiled pattern when inds[i].Type is TypePattern.
	pats []*Pattern

	addrs  map[netip.Addr][]int32
	strs   map[strKey][]int32
	subs   map[string][]int32 // domain → indicators that also cover its subdomains
	ranges rangeSet
	// scan[i] lists the pattern indicators to evaluate for every value of valueTypes[i].
	scan [len9][]int32
}

// len9 is len(valueTypes).
const len9 = 9

type strKey struct {
	t Type
	s string
}

// sourceMeta describes a loaded source.
type sourceMeta struct {
	Name     string        `json:"name"`
	Format   Format        `json:"format,omitempty"`
	Path     string        `json:"path,omitempty"`
	LoadedAt time.Time     `json:"loaded_at,omitzero"`
	TTL      time.Duration `json:"ttl,omitempty"`
}

// builder gathers a source's indicators while a feed is read.
type builder struct {
	inds []Indicator
	pats []*Pattern
}

func (b *builder) add(ind Indicator, p *Pattern) {
	b.inds = append(b.inds, ind)
	b.pats = append(b.pats, p)
}

func (b *builder) len() int { return len(b.inds) }

// build indexes the indicators.
func (b *builder) build(meta sourceMeta) *sourceIndex {
	ix := &sourceIndex{
		meta:  meta,
		inds:  slices.Clip(b.inds),
		pats:  slices.Clip(b.pats),
		addrs: map[netip.Addr][]int32{},
		strs:  map[strKey][]int32{},
		subs:  map[string][]int32{},
	}
	ranges := map[netip.Prefix][]int32{}
	addTerm := func(i int32, v value, subdomains bool) {
		switch {
		case v.isRange():
			ranges[v.prefix] = appendRef(ranges[v.prefix], i)
		case v.addr.IsValid():
			ix.addrs[v.addr] = appendRef(ix.addrs[v.addr], i)
		case v.typ == TypeDomain && subdomains:
			ix.subs[v.text] = appendRef(ix.subs[v.text], i)
		default:
			k := strKey{v.typ, v.text}
			ix.strs[k] = appendRef(ix.strs[k], i)
		}
	}
	for n := range ix.inds {
		i := int32(n)
		ind := &ix.inds[n]
		if ind.Type != TypePattern {
			v, err := parseValue(ind.Type, ind.Value)
			if err != nil {
				continue // builders only add values that parsed
			}
			addTerm(i, v, ind.Subdomains)
			continue
		}
		p := ix.pats[n]
		if p == nil {
			continue
		}
		terms, scan := p.termsOf()
		for _, v := range terms {
			addTerm(i, v, false)
		}
		for t, vt := range valueTypes {
			if scan.has(vt) {
				ix.scan[t] = append(ix.scan[t], i)
			}
		}
	}
	ix.ranges = buildRanges(ranges)
	return ix
}

// appendRef appends i unless it is already the last element (a pattern naming a value twice).
func appendRef(refs []int32, i int32) []int32 {
	if len(refs) > 0 && refs[len(refs)-1] == i {
		return refs
	}
	return append(refs, i)
}

// rangeSet holds CIDR ranges sorted by first address, wider first. CIDR ranges never partly
// overlap: two are disjoint or one holds the other. So every range holding an address is the
// last range starting at or before the address, or one of the ranges that hold that one; each
// range keeps the index of the nearest range holding it (parent), and a lookup is a binary
// search and a walk up at most 128 parents.
type rangeSet struct {
	prefixes []netip.Prefix
	names    []string // prefixes[i].String(), made once
	parent   []int32
	refs     [][]int32
}

func buildRanges(m map[netip.Prefix][]int32) rangeSet {
	var r rangeSet
	r.prefixes = make([]netip.Prefix, 0, len(m))
	for p := range m {
		r.prefixes = append(r.prefixes, p)
	}
	slices.SortFunc(r.prefixes, comparePrefix)
	r.parent = make([]int32, len(r.prefixes))
	r.refs = make([][]int32, len(r.prefixes))
	r.names = make([]string, len(r.prefixes))
	var stack []int32
	for i, p := range r.prefixes {
		r.refs[i] = m[p]
		r.names[i] = p.String()
		for len(stack) > 0 && !holds(r.prefixes[stack[len(stack)-1]], p) {
			stack = stack[:len(stack)-1]
		}
		r.parent[i] = -1
		if len(stack) > 0 {
			r.parent[i] = stack[len(stack)-1]
		}
		stack = append(stack, int32(i))
	}
	return r
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// holds reports whether range a holds range b.
func holds(a, b netip.Prefix) bool {
	return a.Bits() <= b.Bits() && a.Contains(b.Addr())
}

// each calls fn for every range holding a, narrowest first.
func (r *rangeSet) each(a netip.Addr, fn func(p netip.Prefix, name string, refs []int32)) {
	if len(r.prefixes) == 0 {
		return
	}
	// The last range starting at or before a.
	lo, hi := 0, len(r.prefixes)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.prefixes[m].Addr().Compare(a) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for i := int32(lo - 1); i >= 0; i = r.parent[i] {
		if p := r.prefixes[i]; p.Contains(a) {
			fn(p, r.names[i], r.refs[i])
		}
	}
}

// hit is one indicator matching a looked-up value.
type hit struct {
	src     *sourceIndex
	ind     int32
	typ     Type
	value   string
	how     How
	partial bool
}

// query is a looked-up value, parsed once for every source.
type query struct {
	v value
	// host is a URL's host, when it parsed.
	host    value
	hasHost bool
}

// parseLookup reads a looked-up value: its type told from its shape, a single-label host
// name ("ws01") taken as a domain.
func parseLookup(s string) (value, bool) {
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, '/') < 0 && mayBeAddr(s) {
		if a, ok := parseAddr(s); ok {
			t := TypeIPv4
			if a.Is6() {
				t = TypeIPv6
			}
			return value{typ: t, addr: a}, true // text filled in when a match needs it
		}
	}
	v, err := detectValue(s)
	if err == nil {
		return v, true
	}
	d, sub, ok := normDomain(s)
	if !ok || sub {
		return value{}, false
	}
	return value{typ: TypeDomain, text: d}, true
}

func newQuery(s string) (query, bool) {
	v, ok := parseLookup(s)
	if !ok {
		return query{}, false
	}
	q := query{v: v}
	if v.typ == TypeURL {
		if h := urlHost(v.text); h != "" {
			if hv, err := detectValue(h); err == nil {
				q.host, q.hasHost = hv, true
			} else if d, _, ok := normDomain(h); ok {
				q.host, q.hasHost = value{typ: TypeDomain, text: d}, true
			}
		}
	}
	return q, true
}

// lookup appends to hits the source's active indicators matching q.
func (ix *sourceIndex) lookup(q *query, at time.Time, hits []hit) []hit {
	start := len(hits)
	hits = ix.lookupValue(&q.v, at, "", hits, start)
	if q.hasHost {
		hits = ix.lookupValue(&q.host, at, HowHost, hits, start)
	}
	return hits
}

// lookupValue finds v; a non-empty how overrides the kind of match (HowHost).
func (ix *sourceIndex) lookupValue(v *value, at time.Time, how How, hits []hit, start int) []hit {
	emit := func(refs []int32, typ Type, val string, h How) {
		if how != "" {
			h = how
		}
		for _, i := range refs {
			hits = ix.emit(hits, start, v, i, typ, val, h, at)
		}
	}
	switch {
	case v.isRange():
		ix.ranges.each(v.prefix.Addr(), func(p netip.Prefix, name string, refs []int32) {
			if p.Bits() <= v.prefix.Bits() {
				emit(refs, v.typ, name, HowRange)
			}
		})
		return hits
	case v.addr.IsValid():
		if refs := ix.addrs[v.addr]; len(refs) > 0 {
			v.ensureText()
			emit(refs, v.typ, v.text, HowExact)
		}
		ix.ranges.each(v.addr, func(_ netip.Prefix, name string, refs []int32) {
			emit(refs, v.typ, name, HowRange)
		})
	case v.typ == TypeDomain:
		emit(ix.strs[strKey{TypeDomain, v.text}], TypeDomain, v.text, HowExact)
		if len(ix.subs) > 0 {
			for d := v.text; d != ""; d = parentDomain(d) {
				h := HowSubdomain
				if d == v.text {
					h = HowExact
				}
				emit(ix.subs[d], TypeDomain, d, h)
			}
		}
	default:
		emit(ix.strs[strKey{v.typ, v.text}], v.typ, v.text, HowExact)
	}
	scan := ix.scan[typeIndex(v.typ)]
	if len(scan) > 0 {
		v.ensureText()
	}
	for _, i := range scan {
		if !seen(hits[start:], ix, i) {
			hits = ix.emit(hits, start, v, i, v.typ, ix.inds[i].Pattern, HowPattern, at)
		}
	}
	return hits
}

// emit appends the hit of indicator i unless it is inactive or, for a pattern, does not hold
// for v.
func (ix *sourceIndex) emit(hits []hit, start int, v *value, i int32, typ Type, val string, how How, at time.Time) []hit {
	ind := &ix.inds[i]
	if !ind.Active(at) {
		return hits
	}
	partial := false
	if p := ix.pats[i]; p != nil {
		if seen(hits[start:], ix, i) {
			return hits
		}
		ev := *v
		if ev.isRange() {
			return hits // a range is not an observation
		}
		ev.ensureText()
		r, support := evalObs(p.root, &ev)
		switch {
		case r == triTrue:
		case r == triUnknown && support:
			partial = true
		default:
			return hits
		}
	}
	return append(hits, hit{src: ix, ind: i, typ: typ, value: val, how: how, partial: partial})
}

func seen(hits []hit, ix *sourceIndex, i int32) bool {
	for _, h := range hits {
		if h.src == ix && h.ind == i {
			return true
		}
	}
	return false
}

func typeIndex(t Type) int {
	for i, vt := range valueTypes {
		if vt == t {
			return i
		}
	}
	return 0
}

func parentDomain(d string) string {
	if i := strings.IndexByte(d, '.'); i >= 0 {
		return d[i+1:]
	}
	return ""
}
