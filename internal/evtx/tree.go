package evtx

// Node kinds of the record tree and of compiled templates.
const (
	kElem     uint8 = iota + 1 // element: s = name, attrs, children
	kAttr                      // attribute: s = name, children = value parts
	kText                      // literal text: s
	kValue                     // typed value: vt, data (raw bytes inside the chunk)
	kCData                     // CDATA section: s
	kCharRef                   // character reference: sub = code unit
	kEntity                    // entity reference: s = name
	kPITarget                  // processing instruction target: s
	kPIData                    // processing instruction data: s
	kSubst                     // template placeholder: sub = index, vt = declared type, opt
)

// node is one node of a record tree or of a compiled template. Nodes live in an arena and
// link by index, so a record is built without allocating once the arena has grown.
type node struct {
	s        string
	doff     uint32 // typed value bytes: chunk[doff : doff+dlen]
	dlen     uint32
	first    int32 // first child (element) or first value part (attribute); 0 if none (node 0 is the holder, never linked)
	last     int32
	next     int32 // next sibling; 0 if none (node 0 is the holder, never linked)
	attrs    int32 // first attribute; 0 if none (node 0 is the holder, never linked)
	lastAttr int32
	sub      uint16
	kind     uint8
	vt       uint8
	opt      bool
	hasElem  bool // element has an element child
}

type arena struct {
	n   []node
	buf []byte // the chunk buffer that value nodes point into (capacity chunkSize)
}

// data returns the bytes of a value node.
func (a *arena) data(n *node) []byte {
	return a.buf[n.doff : n.doff+n.dlen]
}

func (a *arena) reset() {
	a.n = a.n[:0]
}

func (a *arena) add(kind uint8, s string) int32 {
	a.n = append(a.n, node{kind: kind, s: s})
	return int32(len(a.n) - 1)
}

func (a *arena) addValue(vt uint8, data []byte) int32 {
	// data is always a slice of the chunk buffer, so its offset follows from its capacity.
	a.n = append(a.n, node{kind: kValue, vt: vt, doff: uint32(chunkSize - cap(data)), dlen: uint32(len(data))})
	return int32(len(a.n) - 1)
}

// appendChild links child as the last child (or value part) of parent.
func (a *arena) appendChild(parent, child int32) {
	p := &a.n[parent]
	if p.last == 0 {
		p.first = child
	} else {
		a.n[p.last].next = child
	}
	p.last = child
	if a.n[child].kind == kElem {
		p.hasElem = true
	}
}

func (a *arena) appendAttr(elem, attr int32) {
	e := &a.n[elem]
	if e.lastAttr == 0 {
		e.attrs = attr
	} else {
		a.n[e.lastAttr].next = attr
	}
	e.lastAttr = attr
}

// override replaces substitution index sub by one item of an array value while an element is
// repeated for array expansion.
type override struct {
	win  int // start of the substitution window it applies to
	sub  uint16
	vt   uint8
	data []byte
	omit bool
}

// subst is one value of a template instance's substitution array.
type subst struct {
	vt   uint8
	data []byte
	off  int32 // chunk offset of data
}

// nameEntry is a decoded name and the size of its entry in the chunk.
type nameEntry struct {
	s    string
	size int
}

type template struct {
	a   arena
	err error
}
