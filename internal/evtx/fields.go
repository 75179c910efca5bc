package evtx

import (
	"strconv"
	"strings"
	"unsafe"
)

// keyPair caches composed field names: a + "_" + b, or a + "_" + n.
type keyPair struct {
	a, b string
	n    int
}

// Fields calls fn with the record's flat (name, value) pairs, the view the Sigma engine
// matches on. The rules follow the JSON of AppendJSON, so that the same flattening applied to
// evtx_dump JSON elsewhere in vigil gives the same pairs:
//
//  1. Children of Event/System: an element with only text gives Name = text (EventID,
//     Channel, ...); an element with attributes gives one <Element>_<Attribute> per attribute
//     (Provider_Name, TimeCreated_SystemTime, Execution_ProcessID, Security_UserID, ...);
//     with both (EventID with Qualifiers), EventID = text and EventID_Qualifiers = attribute.
//  2. Event/EventData: <Data Name="X">v</Data> gives X = v; unnamed Data elements each give
//     Data = v; <Binary> gives Binary = its hex string.
//  3. Event/UserData and every other section (RenderingInfo, ...): leaf elements give their
//     own name (no path prefix), and their attributes <Element>_<Attribute>. Elements with
//     children only descend. A section without child elements gives nothing.
//  4. Attributes named xmlns or xmlns:* are always left out. A repeated element name carries
//     evtx_dump's suffix (Header, Header_1, ...). Values are the text of the JSON value:
//     numbers in decimal, booleans true/false, strings as they are; null and empty give "".
//
// fn is called in document order. The values passed to fn stay valid until the next call to
// Reader.Next; use strings.Clone to keep one longer. The names are immutable strings that stay
// valid: the Reader interns them, so the records of one template pass the very same name
// strings.
func (rec *Record) Fields(fn func(name, value string)) {
	rec.FieldsTyped(func(name, value string, _ bool) { fn(name, value) })
}

// TypedAlphabet holds every byte of the text of a typed value (see FieldsTyped).
const TypedAlphabet = "0123456789ABCDEFabcdefSTZx-:."

// FieldsTyped is Fields, also telling for each value whether it is the text of one typed
// value: an integer, hex integer, GUID, SID, FILETIME, SYSTEMTIME or binary, never a string
// (nor a boolean or float, whose text has other letters). Such text is made only of the
// bytes of TypedAlphabet, which lets a matcher skip it for patterns that cannot occur in it.
func (rec *Record) FieldsTyped(fn func(name, value string, typed bool)) {
	r := rec.r
	root := r.rootElem()
	if root == 0 {
		return
	}
	a := &r.tree
	for c := a.n[root].first; c != 0; c = a.n[c].next {
		if sec := &a.n[c]; sec.kind == kElem && sec.hasElem {
			r.flattenChildren(c, isContainer(sec.s), fn)
		}
	}
}

// flatten emits the fields of element el, keyed key.
func (r *Reader) flatten(key string, el int32, fn func(name, value string, typed bool)) {
	a := &r.tree
	n := &a.n[el]
	if n.hasElem {
		r.flattenChildren(el, isContainer(n.s), fn)
		return
	}
	hasText := a.hasText(n.first)
	attrText := a.hasAttrText(el)
	if !attrText {
		if !hasText {
			fn(key, "", false)
			return
		}
		v, typed := r.content(n.first, false)
		fn(key, v, typed)
		return
	}
	for at := n.attrs; at != 0; at = a.n[at].next {
		an := &a.n[at]
		if !a.hasText(an.first) || isXMLNS(an.s) {
			continue
		}
		v, typed := r.content(an.first, false)
		fn(r.attrKey(key, an.s), v, typed)
	}
	if hasText {
		v, typed := r.content(n.first, true)
		fn(key, v, typed)
	}
}

func isXMLNS(name string) bool {
	return name == "xmlns" || strings.HasPrefix(name, "xmlns:")
}

// flattenChildren emits the fields of el's child elements, as appendElemBody keys them.
func (r *Reader) flattenChildren(el int32, container bool, fn func(name, value string, typed bool)) {
	a := &r.tree
	flatten := container && a.flattensData(el)
	var keys childKeys
	for c := a.n[el].first; c != 0; c = a.n[c].next {
		child := &a.n[c]
		if child.kind != kElem {
			continue
		}
		if container && child.s == "Data" {
			key := "Data"
			if flatten {
				name := a.nameAttr(c)
				if name == 0 {
					continue
				}
				key = r.nameText(name)
			}
			if child.hasElem {
				r.flattenChildren(c, false, fn)
				continue
			}
			if !a.hasText(child.first) {
				fn(key, "", false)
				continue
			}
			v, typed := r.content(child.first, false)
			fn(key, v, typed)
			continue
		}
		r.flatten(r.suffixKey(child.s, keys.suffix(child.s)), c, fn)
	}
}

// content returns the string form of a node list's JSON value, and whether it is the text
// of one typed value (see FieldsTyped).
func (r *Reader) content(first int32, skipElems bool) (string, bool) {
	a := &r.tree
	var num int32
	if skipElems {
		num = a.numberNodeSkipElements(first)
	} else {
		num = a.numberNode(first)
	}
	if num == 0 {
		num = a.single(first)
	}
	if num != 0 {
		switch n := &a.n[num]; n.kind {
		case kText, kCData:
			return n.s, false
		case kValue:
			return r.bufString(appendValue(r.fieldBuf, n.vt, a.data(n), false)), isTypedText(n.vt)
		}
	}
	return r.bufString(a.appendText(r.fieldBuf, first, false)), false
}

// nameText returns the text content of a node list that names a field, interned: an
// immutable string (textOf may return a view of fieldBuf).
func (r *Reader) nameText(first int32) string {
	a := &r.tree
	if s := a.single(first); s != 0 && (a.n[s].kind == kText || a.n[s].kind == kCData) {
		return a.n[s].s // decodeLiteral's strings are immutable
	}
	start := len(r.fieldBuf)
	b := a.appendText(r.fieldBuf, first, false)
	r.fieldBuf = b[:start] // the bytes are not kept
	if s, ok := r.fieldNames[string(b[start:])]; ok {
		return s
	}
	s := string(b[start:])
	if len(r.fieldNames) < 1<<14 {
		r.fieldNames[s] = s
	}
	return s
}

// textOf returns the text content of a node list.
func (r *Reader) textOf(first int32) string {
	a := &r.tree
	if s := a.single(first); s != 0 && (a.n[s].kind == kText || a.n[s].kind == kCData) {
		return a.n[s].s
	}
	return r.bufString(a.appendText(r.fieldBuf, first, false))
}

// bufString turns the bytes appended to r.fieldBuf into a string without copying. The bytes
// are not written again until the buffer is reset for the next record.
func (r *Reader) bufString(b []byte) string {
	start := len(r.fieldBuf)
	r.fieldBuf = b
	if len(b) == start {
		return ""
	}
	// append may have moved b; earlier strings keep the old array alive and unchanged.
	return unsafe.String(&b[start], len(b)-start)
}

func (r *Reader) attrKey(elem, attr string) string {
	k := keyPair{a: elem, b: attr}
	if s, ok := r.keyCache[k]; ok {
		return s
	}
	s := elem + "_" + attr
	if len(r.keyCache) < 1<<14 {
		r.keyCache[k] = s
	}
	return s
}

func (r *Reader) suffixKey(name string, n int) string {
	if n == 0 {
		return name
	}
	k := keyPair{a: name, n: n}
	if s, ok := r.keyCache[k]; ok {
		return s
	}
	s := name + "_" + strconv.Itoa(n)
	if len(r.keyCache) < 1<<14 {
		r.keyCache[k] = s
	}
	return s
}
