package query

import (
	"errors"
	"fmt"
)

// ErrNoSearcher is returned by Run when it is given no Searcher.
var ErrNoSearcher = errors.New("query: no searcher")

// SyntaxError is a query that does not parse, or that names an unknown field, a bad regular
// expression, a bad time or duration, or goes over a limit on its size.
type SyntaxError struct {
	Pos int    // 0-based byte offset of the problem in the query text
	Msg string // what is wrong, in lower case
}

// Error prints the position as a 1-based column.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query: at column %d: %s", e.Pos+1, e.Msg)
}

func errAt(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
