package query

import (
	"strconv"
	"strings"
)

// String returns the canonical text of q: canonical field names, explicit and, as few
// parentheses as the precedence needs, and values quoted only when they must be. Parse of the
// result gives an equal Query.
func (q *Query) String() string {
	if q == nil {
		return ""
	}
	var b strings.Builder
	if q.expr != nil {
		writeNode(&b, q.expr, levelOr)
	}
	for i := range q.stages {
		if b.Len() > 0 {
			b.WriteString(" | ")
		} else {
			b.WriteString("| ")
		}
		writeStage(&b, &q.stages[i])
	}
	return b.String()
}

// writeNode writes n, in parentheses when its precedence is below min.
func writeNode(b *strings.Builder, n node, min int) {
	if n.level() < min {
		b.WriteByte('(')
		defer b.WriteByte(')')
	}
	switch n := n.(type) {
	case *orNode:
		for i, x := range n.xs {
			if i > 0 {
				b.WriteString(" or ")
			}
			writeNode(b, x, levelAnd)
		}
	case *andNode:
		for i, x := range n.xs {
			if i > 0 {
				b.WriteString(" and ")
			}
			writeNode(b, x, levelAnd)
		}
	case *notNode:
		b.WriteString("not ")
		writeNode(b, n.x, levelUnary)
	case *cmpNode:
		b.WriteString(n.f.name)
		if n.op == "in" {
			b.WriteString(" in (")
			for i, v := range n.vals {
				if i > 0 {
					b.WriteString(", ")
				}
				quote(b, v.raw)
			}
			b.WriteByte(')')
			return
		}
		b.WriteByte(' ')
		b.WriteString(n.op)
		b.WriteByte(' ')
		quote(b, n.vals[0].raw)
	case *textNode:
		quote(b, n.raw)
	}
}

func writeFields(b *strings.Builder, fs []*field) {
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.name)
	}
}

func writeStage(b *strings.Builder, st *stage) {
	b.WriteString(st.kind.String())
	switch st.kind {
	case stSince:
		b.WriteString(" " + st.dur.String())
	case stBetween:
		b.WriteByte(' ')
		quote(b, st.from.raw)
		b.WriteString(" and ")
		quote(b, st.to.raw)
	case stWhere:
		b.WriteByte(' ')
		writeNode(b, st.expr, levelOr)
	case stFirstSeen:
		b.WriteString(" " + st.f.name + " by " + st.by.name)
		if st.within {
			b.WriteString(" within " + st.dur.String())
		}
	case stCount:
		if len(st.fields) > 0 {
			b.WriteString(" by ")
			writeFields(b, st.fields)
		}
	case stSort:
		b.WriteString(" " + st.f.name)
		if st.desc {
			b.WriteString(" desc")
		}
	case stLimit:
		b.WriteString(" " + strconv.Itoa(st.n))
	case stFields:
		b.WriteByte(' ')
		writeFields(b, st.fields)
	}
}
