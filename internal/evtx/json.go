package evtx

import "strconv"

// This file renders a record tree as the JSON of `evtx_dump -o json` (Rust crate evtx by
// omerbenamram, its streaming JSON renderer src/binxml/ir_json.rs and value_render.rs):
//
//   - an element with no element children, no text and no non-empty attribute is null;
//   - an element with only text is that text: a JSON number or boolean when its content is a
//     single integer or boolean value, otherwise a string (reals, hex integers, GUIDs, SIDs,
//     times are strings);
//   - otherwise an object: "#attributes" (non-empty attributes only), "#text", then child
//     elements; a repeated child name gets a suffix: Header, Header_1, Header_2, ...;
//   - inside EventData and UserData, Data elements are flattened: <Data Name="X">v</Data>
//     becomes "X": v (an empty Data is ""), as soon as one Data has a Name; otherwise all Data
//     elements become one "Data": {"#text": v} or {"#text": [v1, v2, ...]};
//   - entity and character references are kept as written ("&amp;", "&#38;"); processing
//     instructions are dropped; CDATA is text;
//   - string substitutions end at their first NUL and lose trailing white space; an array
//     substitution of several items repeats its element once per item (MS-EVEN6), a
//     one-item array renders as its item;
//   - values: integers in decimal, HexInt32/64 as 0x + lower-case hex, binary as upper-case
//     hex, GUIDs upper case without braces, SIDs as S-1-..., FILETIME and SYSTEMTIME as
//     2006-01-02T15:04:05.000000Z (microseconds, truncated).
//
// Where the crate gives up on a record this package renders what it can instead: unpaired
// UTF-16 surrogates become U+FFFD, an EvtHandle value renders empty, and an EvtXml value is
// decoded as BinXML. Reals use the shortest round-trip digits as the crate does, with its
// layout ("1.5", "100.0", "1e20"), as strings.

// AppendJSON appends the record rendered as evtx_dump JSON (compact, one object) to dst.
func (rec *Record) AppendJSON(dst []byte) []byte {
	t := &rec.r.tree
	root := rec.r.rootElem()
	if root == 0 {
		return append(dst, "null"...)
	}
	dst = append(dst, "{\""...)
	dst = appendEscapedString(dst, t.n[root].s)
	dst = append(dst, "\":"...)
	dst = rec.r.appendElemValue(dst, root, false)
	return append(dst, '}')
}

// hasText reports whether the nodes from first on hold non-empty text content.
func (a *arena) hasText(first int32) bool {
	for c := first; c != 0; c = a.n[c].next {
		n := &a.n[c]
		switch n.kind {
		case kText, kCData:
			if n.s != "" {
				return true
			}
		case kValue:
			if !isEmptyValue(n.vt, a.data(n)) {
				return true
			}
		case kCharRef, kEntity:
			return true
		}
	}
	return false
}

// hasAttrText reports whether the element has an attribute with non-empty content.
func (a *arena) hasAttrText(el int32) bool {
	for at := a.n[el].attrs; at != 0; at = a.n[at].next {
		if a.hasText(a.n[at].first) {
			return true
		}
	}
	return false
}

// single returns the only node of the list, or 0.
func (a *arena) single(first int32) int32 {
	if first != 0 && a.n[first].next == 0 {
		return first
	}
	return 0
}

// numberNode returns the node whose value renders as a JSON number when the content is
// exactly one numeric value node, or 0.
func (a *arena) numberNode(first int32) int32 {
	if s := a.single(first); s != 0 && a.n[s].kind == kValue && isNumeric(a.n[s].vt) {
		return s
	}
	return 0
}

// numberNodeSkipElements is numberNode ignoring child elements, empty text and empty values.
func (a *arena) numberNodeSkipElements(first int32) int32 {
	found := int32(0)
	for c := first; c != 0; c = a.n[c].next {
		n := &a.n[c]
		switch n.kind {
		case kText, kCData:
			if n.s != "" {
				return 0
			}
		case kValue:
			if isEmptyValue(n.vt, a.data(n)) {
				continue
			}
			if found != 0 {
				return 0
			}
			found = c
		case kCharRef, kEntity:
			return 0
		}
	}
	if found != 0 && isNumeric(a.n[found].vt) {
		return found
	}
	return 0
}

// appendText appends the text content of the nodes (elements and processing instructions
// left out).
func (a *arena) appendText(dst []byte, first int32, esc bool) []byte {
	for c := first; c != 0; c = a.n[c].next {
		n := &a.n[c]
		switch n.kind {
		case kText, kCData:
			if esc {
				dst = appendEscapedString(dst, n.s)
			} else {
				dst = append(dst, n.s...)
			}
		case kValue:
			dst = appendValue(dst, n.vt, a.data(n), esc)
		case kCharRef:
			dst = append(dst, "&#"...)
			dst = strconv.AppendUint(dst, uint64(n.sub), 10)
			dst = append(dst, ';')
		case kEntity:
			dst = append(dst, '&')
			if esc {
				dst = appendEscapedString(dst, n.s)
			} else {
				dst = append(dst, n.s...)
			}
			dst = append(dst, ';')
		}
	}
	return dst
}

func (a *arena) appendContent(dst []byte, first int32, skipElems bool) []byte {
	var num int32
	if skipElems {
		num = a.numberNodeSkipElements(first)
	} else {
		num = a.numberNode(first)
	}
	if num != 0 {
		return appendValue(dst, a.n[num].vt, a.data(&a.n[num]), false)
	}
	dst = append(dst, '"')
	dst = a.appendText(dst, first, true)
	return append(dst, '"')
}

func isContainer(name string) bool { return name == "EventData" || name == "UserData" }

func (r *Reader) appendElemValue(dst []byte, el int32, container bool) []byte {
	a := &r.tree
	n := &a.n[el]
	hasText := a.hasText(n.first)
	attrText := a.hasAttrText(el)
	switch {
	case !n.hasElem && !hasText && !attrText:
		return append(dst, "null"...)
	case !n.hasElem && !attrText:
		return a.appendContent(dst, n.first, false)
	}
	return r.appendElemBody(dst, el, container)
}

// nameAttr returns the first value part of the element's Name attribute when that attribute
// has text, or 0.
func (a *arena) nameAttr(el int32) int32 {
	for at := a.n[el].attrs; at != 0; at = a.n[at].next {
		if a.n[at].s == "Name" {
			if a.hasText(a.n[at].first) {
				return a.n[at].first
			}
			return 0
		}
	}
	return 0
}

// flattensData reports whether a container's Data children are keyed by their Name.
func (a *arena) flattensData(el int32) bool {
	for c := a.n[el].first; c != 0; c = a.n[c].next {
		if n := &a.n[c]; n.kind == kElem && n.s == "Data" && a.nameAttr(c) != 0 {
			return true
		}
	}
	return false
}

func (r *Reader) appendDataValue(dst []byte, el int32) []byte {
	a := &r.tree
	n := &a.n[el]
	if n.hasElem {
		return r.appendElemBody(dst, el, false)
	}
	if !a.hasText(n.first) {
		return append(dst, `""`...)
	}
	return a.appendContent(dst, n.first, false)
}

// childKeys assigns evtx_dump's keys to repeated child names: the crate counts up to 64
// distinct names per element and suffixes repeats with _1, _2, ...
type childKeys struct {
	names  [64]string
	counts [64]uint16
	n      int
}

func (k *childKeys) suffix(name string) int {
	for i := 0; i < k.n; i++ {
		if k.names[i] == name {
			s := k.counts[i]
			k.counts[i]++
			return int(s)
		}
	}
	if k.n < len(k.names) {
		k.names[k.n] = name
		k.counts[k.n] = 1
		k.n++
	}
	return 0
}

func (r *Reader) appendElemBody(dst []byte, el int32, container bool) []byte {
	a := &r.tree
	flatten := container && a.flattensData(el)
	dst = append(dst, '{')
	wrote := false
	// Attributes.
	for at := a.n[el].attrs; at != 0; at = a.n[at].next {
		first := a.n[at].first
		if !a.hasText(first) {
			continue
		}
		if !wrote {
			dst = append(dst, `"#attributes":{`...)
			wrote = true
		} else {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = appendEscapedString(dst, a.n[at].s)
		dst = append(dst, `":`...)
		dst = a.appendContent(dst, first, false)
	}
	if wrote {
		dst = append(dst, '}')
	}
	if a.hasText(a.n[el].first) {
		if wrote {
			dst = append(dst, ',')
		}
		wrote = true
		dst = append(dst, `"#text":`...)
		dst = a.appendContent(dst, a.n[el].first, true)
	}
	var keys childKeys
	positionalDone := false
	for c := a.n[el].first; c != 0; c = a.n[c].next {
		child := &a.n[c]
		if child.kind != kElem {
			continue
		}
		if container && child.s == "Data" {
			if flatten {
				name := a.nameAttr(c)
				if name == 0 {
					continue
				}
				if wrote {
					dst = append(dst, ',')
				}
				wrote = true
				dst = append(dst, '"')
				dst = a.appendText(dst, name, true)
				dst = append(dst, `":`...)
				dst = r.appendDataValue(dst, c)
				continue
			}
			if positionalDone {
				continue
			}
			positionalDone = true
			if wrote {
				dst = append(dst, ',')
			}
			wrote = true
			dst = append(dst, `"Data":{"#text":`...)
			count := 0
			for d := c; d != 0; d = a.n[d].next {
				if a.n[d].kind == kElem && a.n[d].s == "Data" {
					count++
				}
			}
			if count == 1 {
				dst = r.appendDataValue(dst, c)
			} else {
				dst = append(dst, '[')
				for d, first := c, true; d != 0; d = a.n[d].next {
					if a.n[d].kind != kElem || a.n[d].s != "Data" {
						continue
					}
					if !first {
						dst = append(dst, ',')
					}
					first = false
					dst = r.appendDataValue(dst, d)
				}
				dst = append(dst, ']')
			}
			dst = append(dst, '}')
			continue
		}
		if wrote {
			dst = append(dst, ',')
		}
		wrote = true
		dst = append(dst, '"')
		dst = appendEscapedString(dst, child.s)
		if s := keys.suffix(child.s); s > 0 {
			dst = append(dst, '_')
			dst = strconv.AppendInt(dst, int64(s), 10)
		}
		dst = append(dst, `":`...)
		dst = r.appendElemValue(dst, c, isContainer(child.s))
	}
	return append(dst, '}')
}
