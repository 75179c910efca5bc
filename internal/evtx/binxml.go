package evtx

import (
	"encoding/binary"
	"fmt"
)

// Safety limits. Real records stay far below them; crafted input hits them instead of
// exhausting memory or time.
const (
	maxDepth         = 16      // nested BinXML substitutions and template instances
	maxElemDepth     = 512     // element nesting inside one fragment
	maxNodes         = 1 << 17 // tree nodes per record
	maxWork          = 1 << 18 // tokens and instantiation steps per record
	maxChunkWork     = 1 << 22 // steps for all records of a chunk (real chunks use ~1e5)
	maxTemplateBytes = 1 << 19 // template definition bytes compiled per chunk
)

// BinXML tokens (the 0x40 bit marks "has attributes" / "more follows").
const (
	tokEOF          = 0x00
	tokOpenStart    = 0x01
	tokCloseStart   = 0x02
	tokCloseEmpty   = 0x03
	tokEndElement   = 0x04
	tokValue        = 0x05
	tokAttribute    = 0x06
	tokCData        = 0x07
	tokCharRef      = 0x08
	tokEntityRef    = 0x09
	tokPITarget     = 0x0a
	tokPIData       = 0x0b
	tokTemplate     = 0x0c
	tokSubst        = 0x0d
	tokOptSubst     = 0x0e
	tokFragmentHead = 0x0f
)

// subWin is the window of r.subs holding one template instance's substitution values.
type subWin struct {
	start, n int
	arrays   bool // some value is an array of more than one item
}

// buildRecord decodes the BinXML of one record, chunk bytes [start, end), into r.tree.
// Node 0 of the tree is a nameless holder whose first element child is the record's root.
func (r *Reader) buildRecord(start, end int) error {
	r.tree.reset()
	r.subs = r.subs[:0]
	r.ovr = r.ovr[:0]
	r.stack = r.stack[:0]
	r.work = 0
	r.workLimit = min(maxWork, maxChunkWork-r.chunkWork)
	r.fieldBuf = r.fieldBuf[:0]
	r.tree.buf = r.chunk
	root := r.tree.add(kElem, "")
	_, err := r.parseFragment(&r.tree, root, start, end, false, false, 0)
	r.chunkWork += r.work
	if err != nil {
		return err
	}
	if r.rootElem() == 0 {
		return corruptf("record has no root element")
	}
	return nil
}

// rootElem returns the record's root element (normally Event), or 0.
func (r *Reader) rootElem() int32 {
	for c := r.tree.n[0].first; c != 0; c = r.tree.n[c].next {
		if r.tree.n[c].kind == kElem {
			return c
		}
	}
	return 0
}

// parseFragment decodes the BinXML tokens in chunk bytes [pos, end) into arena a, below
// element parent. In template mode (tmpl) substitutions become placeholders; otherwise
// template instances are instantiated in place. noDep tells that element starts carry no
// dependency identifier, which is the case in BinXML passed as a substitution value.
// It returns the position after the end-of-fragment token.
func (r *Reader) parseFragment(a *arena, parent int32, pos, end int, tmpl, noDep bool, depth int) (int, error) {
	if depth > maxDepth {
		return pos, errTooComplex
	}
	buf := r.chunk[:r.chunkLen]
	if end > len(buf) {
		return pos, truncatedf("fragment at %#x ends past the chunk data", pos)
	}
	le := binary.LittleEndian
	base := len(r.stack)
	r.stack = append(r.stack, parent)
	defer func() { r.stack = r.stack[:base] }()
	open, attr := int32(0), int32(0) // element whose start is open; its current attribute

	// push adds a non-element node where the stream is: into the open element's current
	// attribute, or as a child of the innermost element.
	push := func(n int32) error {
		if open != 0 {
			if attr != 0 {
				a.appendChild(attr, n)
			}
			return nil
		}
		if len(r.stack) == base+1 {
			return corruptf("value outside of an element at %#x", pos)
		}
		a.appendChild(r.stack[len(r.stack)-1], n)
		return nil
	}

	for pos < end {
		r.work++
		if r.work > r.workLimit || len(a.n) > maxNodes {
			return pos, errTooComplex
		}
		tokPos := pos
		tok := buf[pos]
		pos++
		switch tok {
		case tokEOF:
			if open != 0 || len(r.stack) != base+1 {
				return pos, corruptf("fragment ends at %#x with unclosed elements", tokPos)
			}
			return pos, nil

		case tokOpenStart, tokOpenStart | 0x40:
			if open != 0 {
				return pos, corruptf("element start at %#x inside another element start", tokPos)
			}
			if len(r.stack)-base > maxElemDepth {
				return pos, errTooComplex
			}
			p := pos
			if !noDep {
				p += 2
			}
			if p+8 > end {
				return pos, truncatedf("element start at %#x", tokPos)
			}
			if !noDep && le.Uint32(buf[p:]) >= chunkSize {
				// The Rust crate's heuristic: an impossible data size means the dependency
				// identifier is absent after all.
				p -= 2
			}
			p += 4 // data size
			name, np, err := r.nameRef(p, end)
			if err != nil {
				return pos, fmt.Errorf("element start at %#x: %w", tokPos, err)
			}
			p = np
			if tok&0x40 != 0 {
				p += 4 // attribute list size
			}
			if p > end {
				return pos, truncatedf("element start at %#x", tokPos)
			}
			pos = p
			el := a.add(kElem, name)
			a.appendChild(r.stack[len(r.stack)-1], el)
			open, attr = el, 0

		case tokCloseStart:
			if open == 0 {
				return pos, corruptf("close of element start at %#x without element", tokPos)
			}
			r.stack = append(r.stack, open)
			open, attr = 0, 0

		case tokCloseEmpty:
			if open == 0 {
				return pos, corruptf("close of empty element at %#x without element", tokPos)
			}
			open, attr = 0, 0

		case tokEndElement:
			if open != 0 || len(r.stack) <= base+1 {
				return pos, corruptf("end of element at %#x without element", tokPos)
			}
			r.stack = r.stack[:len(r.stack)-1]

		case tokValue, tokValue | 0x40:
			if pos >= end {
				return pos, truncatedf("value at %#x", tokPos)
			}
			vt := buf[pos]
			pos++
			var n int32
			if vt == tString {
				if pos+2 > end {
					return pos, truncatedf("value at %#x", tokPos)
				}
				size := 2 * int(le.Uint16(buf[pos:]))
				pos += 2
				if pos+size > end {
					return pos, truncatedf("string value at %#x", tokPos)
				}
				data := trimUTF16(buf[pos : pos+size])
				pos += size
				if tmpl {
					n = a.add(kText, r.decodeLiteral(data))
				} else {
					n = a.addValue(tString, data)
				}
			} else {
				size := fixedSize(vt)
				if size == 0 && vt != tNull {
					return pos, corruptf("value at %#x: unsized value of type %#x", tokPos, vt)
				}
				if pos+size > end {
					return pos, truncatedf("value at %#x", tokPos)
				}
				n = a.addValue(vt, buf[pos:pos+size])
				pos += size
			}
			if err := push(n); err != nil {
				return pos, err
			}

		case tokAttribute, tokAttribute | 0x40:
			if open == 0 {
				return pos, corruptf("attribute at %#x outside an element start", tokPos)
			}
			name, np, err := r.nameRef(pos, end)
			if err != nil {
				return pos, fmt.Errorf("attribute at %#x: %w", tokPos, err)
			}
			pos = np
			attr = a.add(kAttr, name)
			a.appendAttr(open, attr)

		case tokCData, tokCData | 0x40, tokPIData:
			if pos+2 > end {
				return pos, truncatedf("text at %#x", tokPos)
			}
			size := 2 * int(le.Uint16(buf[pos:]))
			pos += 2
			if pos+size > end {
				return pos, truncatedf("text at %#x", tokPos)
			}
			kind := kCData
			if tok == tokPIData {
				kind = kPIData
			}
			n := a.add(kind, r.decodeLiteral(trimUTF16(buf[pos:pos+size])))
			pos += size
			if err := push(n); err != nil {
				return pos, err
			}

		case tokCharRef, tokCharRef | 0x40:
			if pos+2 > end {
				return pos, truncatedf("character reference at %#x", tokPos)
			}
			n := a.add(kCharRef, "")
			a.n[n].sub = le.Uint16(buf[pos:])
			pos += 2
			if err := push(n); err != nil {
				return pos, err
			}

		case tokEntityRef, tokEntityRef | 0x40, tokPITarget:
			name, np, err := r.nameRef(pos, end)
			if err != nil {
				return pos, fmt.Errorf("reference at %#x: %w", tokPos, err)
			}
			pos = np
			kind := kEntity
			if tok == tokPITarget {
				kind = kPITarget
			}
			if err := push(a.add(kind, name)); err != nil {
				return pos, err
			}

		case tokTemplate:
			if tmpl {
				return pos, corruptf("template instance at %#x inside a template definition", tokPos)
			}
			if open != 0 {
				return pos, corruptf("template instance at %#x inside an element start", tokPos)
			}
			np, err := r.templateInstance(a, r.stack[len(r.stack)-1], pos, end, depth)
			if err != nil {
				return pos, fmt.Errorf("template instance at %#x: %w", tokPos, err)
			}
			pos = np

		case tokSubst, tokOptSubst:
			if !tmpl {
				return pos, corruptf("substitution at %#x outside a template definition", tokPos)
			}
			if pos+3 > end {
				return pos, truncatedf("substitution at %#x", tokPos)
			}
			n := a.add(kSubst, "")
			a.n[n].sub = le.Uint16(buf[pos:])
			a.n[n].vt = buf[pos+2]
			a.n[n].opt = tok == tokOptSubst
			pos += 3
			if err := push(n); err != nil {
				return pos, err
			}

		case tokFragmentHead:
			pos += 3

		default:
			return pos, corruptf("unknown BinXML token %#02x at %#x", tok, tokPos)
		}
	}
	if open != 0 || len(r.stack) != base+1 {
		return pos, truncatedf("fragment ends at %#x with unclosed elements", end)
	}
	return pos, nil
}

// nameRef reads a name reference at pos: a chunk offset of the name, with the name itself
// stored inline when the offset points right after the reference.
func (r *Reader) nameRef(pos, end int) (string, int, error) {
	if pos+4 > end {
		return "", pos, truncatedf("name reference at %#x", pos)
	}
	off := binary.LittleEndian.Uint32(r.chunk[pos:])
	pos += 4
	name, size, err := r.nameAt(off)
	if err != nil {
		return "", pos, err
	}
	if int(off) == pos {
		pos += size
		if pos > end {
			return "", pos, truncatedf("inline name at %#x", off)
		}
	}
	return name, pos, nil
}

// nameAt returns the name stored at chunk offset off and the size of its entry.
func (r *Reader) nameAt(off uint32) (string, int, error) {
	if e, ok := r.names[off]; ok {
		return e.s, e.size, nil
	}
	o := int(off)
	if o < 0 || o+8 > r.chunkLen {
		return "", 0, corruptf("name offset %#x out of range", off)
	}
	n := int(binary.LittleEndian.Uint16(r.chunk[o+6:]))
	if o+8+2*n > r.chunkLen {
		return "", 0, truncatedf("name at %#x", off)
	}
	raw := r.chunk[o+8 : o+8+2*n]
	s, ok := r.intern[string(raw)]
	if !ok {
		s = string(appendUTF16(nil, raw, false))
		r.intern[string(raw)] = s
	}
	r.names[off] = nameEntry{s, 8 + 2*n + 2}
	return s, 8 + 2*n + 2, nil
}

// decodeLiteral decodes template literal text, interning short strings.
func (r *Reader) decodeLiteral(raw []byte) string {
	if len(raw) <= 64 {
		if s, ok := r.intern[string(raw)]; ok {
			return s
		}
		s := string(appendUTF16(nil, raw, false))
		r.intern[string(raw)] = s
		return s
	}
	return string(appendUTF16(nil, raw, false))
}

// templateInstance reads a template instance whose token was just before pos and
// instantiates it below parent. It returns the position after the substitution values.
func (r *Reader) templateInstance(a *arena, parent int32, pos, end, depth int) (int, error) {
	le := binary.LittleEndian
	buf := r.chunk
	if pos+9 > end {
		return pos, truncatedf("template instance header")
	}
	defOff := le.Uint32(buf[pos+5:])
	pos += 9
	if int(defOff) == pos {
		// The definition follows inline; skip it.
		if pos+24 > end {
			return pos, truncatedf("inline template definition")
		}
		size := int(le.Uint32(buf[pos+20:]))
		if size > end-pos-24 {
			return pos, truncatedf("inline template definition of %d bytes", size)
		}
		pos += 24 + size
	}
	t := r.template(defOff)
	if t.err != nil {
		return pos, t.err
	}
	if pos+4 > end {
		return pos, truncatedf("substitution count")
	}
	n := int(le.Uint32(buf[pos:]))
	pos += 4
	if n > (end-pos)/4 {
		return pos, corruptf("%d substitutions do not fit", n)
	}
	desc := pos
	pos += 4 * n
	start := len(r.subs)
	arrays := false
	for i := 0; i < n; i++ {
		size := int(le.Uint16(buf[desc:]))
		vt := buf[desc+2]
		desc += 4
		if size > end-pos {
			r.subs = r.subs[:start]
			return pos, truncatedf("substitution %d of %d bytes", i, size)
		}
		data := buf[pos : pos+size]
		if err := checkValue(vt, data); err != nil {
			r.subs = r.subs[:start]
			return pos, fmt.Errorf("substitution %d: %w", i, err)
		}
		switch vt {
		case tString:
			data = trimSubstString(data)
		case tAnsiString:
			data = trimTrailingNUL(data)
		}
		if vt&tArray != 0 && !arrays && arrayLen(vt, data) > 1 {
			arrays = true
		}
		r.subs = append(r.subs, subst{vt: vt, data: data, off: int32(pos)})
		pos += size
	}
	err := r.instantiate(a, t, parent, subWin{start, n, arrays}, depth)
	r.subs = r.subs[:start]
	return pos, err
}

// template returns the compiled template defined at chunk offset off, compiling it once per
// chunk. A template that fails to compile is cached with its error.
func (r *Reader) template(off uint32) *template {
	if t, ok := r.templates[off]; ok {
		return t
	}
	var t *template
	if n := len(r.freeTemplates); n > 0 {
		t = r.freeTemplates[n-1]
		r.freeTemplates = r.freeTemplates[:n-1]
		t.a.reset()
		t.err = nil
	} else {
		t = &template{}
	}
	r.templates[off] = t
	o := int(off)
	if o < chunkHeaderSize || o+24 > r.chunkLen {
		t.err = corruptf("template definition offset %#x out of range", off)
		return t
	}
	size := int(binary.LittleEndian.Uint32(r.chunk[o+20:]))
	if size > r.chunkLen-o-24 {
		t.err = truncatedf("template definition at %#x of %d bytes", off, size)
		return t
	}
	r.tmplWork += size
	if r.tmplWork > maxTemplateBytes {
		t.err = errTooComplex
		return t
	}
	t.a.buf = r.chunk
	// Compiling counts toward the record's work budget; its cost is bounded by
	// maxTemplateBytes per chunk anyway.
	root := t.a.add(kElem, "")
	if _, err := r.parseFragment(&t.a, root, o+24, o+24+size, true, false, 0); err != nil {
		t.err = fmt.Errorf("template definition at %#x: %w", off, err)
	}
	return t
}

// instantiate builds the template's tree with the substitution values of window sw below
// parent.
func (r *Reader) instantiate(a *arena, t *template, parent int32, sw subWin, depth int) error {
	for c := t.a.n[0].first; c != 0; c = t.a.n[c].next {
		if err := r.instNode(a, t, c, parent, false, sw, depth); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) instNode(a *arena, t *template, tn, parent int32, inAttr bool, sw subWin, depth int) error {
	r.work++
	if r.work > r.workLimit || len(a.n) > maxNodes {
		return errTooComplex
	}
	tnode := &t.a.n[tn]
	switch tnode.kind {
	case kElem:
		if inAttr {
			return corruptf("element inside an attribute value")
		}
		return r.instElem(a, t, tn, parent, sw, depth)
	case kSubst:
		return r.resolve(a, tnode, parent, inAttr, sw, depth)
	default:
		n := a.add(tnode.kind, tnode.s)
		nn := &a.n[n]
		nn.vt, nn.doff, nn.dlen, nn.sub = tnode.vt, tnode.doff, tnode.dlen, tnode.sub
		a.appendChild(parent, n)
		return nil
	}
}

func (r *Reader) instElem(a *arena, t *template, tn, parent int32, sw subWin, depth int) error {
	if sw.arrays {
		if expanded, err := r.expandArray(a, t, tn, parent, sw, depth); expanded || err != nil {
			return err
		}
	}
	tnode := &t.a.n[tn]
	el := a.add(kElem, tnode.s)
	a.appendChild(parent, el)
	for at := tnode.attrs; at != 0; at = t.a.n[at].next {
		an := a.add(kAttr, t.a.n[at].s)
		for p := t.a.n[at].first; p != 0; p = t.a.n[p].next {
			if err := r.instNode(a, t, p, an, true, sw, depth); err != nil {
				return err
			}
		}
		if a.n[an].first != 0 {
			a.appendAttr(el, an)
		}
	}
	for c := tnode.first; c != 0; c = t.a.n[c].next {
		if err := r.instNode(a, t, c, el, false, sw, depth); err != nil {
			return err
		}
	}
	return nil
}

// expandArray repeats element tn once per item when one of its substitutions holds an array
// of more than one item (MS-EVEN6 array substitution). It reports whether it did.
func (r *Reader) expandArray(a *arena, t *template, tn, parent int32, sw subWin, depth int) (bool, error) {
	sub, vt, data, count := r.findArray(t, tn, sw)
	if count <= 1 {
		return false, nil
	}
	for i := 0; i < count; i++ {
		ivt, idata := arrayItem(vt, data, i)
		o := override{win: sw.start, sub: sub, vt: ivt, data: idata}
		if (ivt == tString || ivt == tAnsiString) && len(idata) == 0 {
			o.omit = true
		}
		r.ovr = append(r.ovr, o)
		err := r.instElem(a, t, tn, parent, sw, depth)
		r.ovr = r.ovr[:len(r.ovr)-1]
		if err != nil {
			return true, err
		}
	}
	return true, nil
}

// value returns substitution sub of window sw, after array-expansion overrides.
func (r *Reader) value(sub uint16, sw subWin) (vt uint8, data []byte, off int32, omit, ok bool) {
	for i := len(r.ovr) - 1; i >= 0; i-- {
		if o := &r.ovr[i]; o.win == sw.start && o.sub == sub {
			return o.vt, o.data, -1, o.omit, true
		}
	}
	if int(sub) >= sw.n {
		return 0, nil, 0, false, false
	}
	s := &r.subs[sw.start+int(sub)]
	return s.vt, s.data, s.off, false, true
}

func (r *Reader) resolve(a *arena, ph *node, parent int32, inAttr bool, sw subWin, depth int) error {
	vt, data, off, omit, ok := r.value(ph.sub, sw)
	if !ok || omit {
		return nil
	}
	if ph.opt && isEmptyValue(vt, data) {
		return nil
	}
	switch vt {
	case tBinXML, tEvtXML:
		if len(data) == 0 {
			return nil
		}
		if inAttr {
			return corruptf("BinXML substitution %d inside an attribute value", ph.sub)
		}
		if off < 0 {
			return corruptf("BinXML inside an array")
		}
		_, err := r.parseFragment(a, parent, int(off), int(off)+len(data), false, true, depth+1)
		return err
	}
	a.appendChild(parent, a.addValue(vt, data))
	return nil
}

// findArray returns the first substitution of the element (children first, then attribute
// values) that holds an array of more than one item.
func (r *Reader) findArray(t *template, tn int32, sw subWin) (sub uint16, vt uint8, data []byte, count int) {
	check := func(p int32) bool {
		pn := &t.a.n[p]
		if pn.kind != kSubst {
			return false
		}
		v, d, _, omit, ok := r.value(pn.sub, sw)
		if !ok || omit || v&0x80 == 0 {
			return false
		}
		if c := arrayLen(v, d); c > 1 {
			sub, vt, data, count = pn.sub, v, d, c
			return true
		}
		return false
	}
	tnode := &t.a.n[tn]
	for c := tnode.first; c != 0; c = t.a.n[c].next {
		if check(c) {
			return
		}
	}
	for at := tnode.attrs; at != 0; at = t.a.n[at].next {
		for p := t.a.n[at].first; p != 0; p = t.a.n[p].next {
			if check(p) {
				return
			}
		}
	}
	return 0, 0, nil, 0
}
