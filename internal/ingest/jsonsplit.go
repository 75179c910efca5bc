package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vigil-soc/vigil/internal/jsontext"
)

// RecordError reports a malformed record: which one (1-based) and why. File is set for file
// imports.
type RecordError struct {
	File   string
	Record int64
	Err    error
}

func (e *RecordError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s: record %d: %v", e.File, e.Record, e.Err)
	}
	return fmt.Sprintf("record %d: %v", e.Record, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Errors callers branch on.
var (
	ErrNotRecord = errors.New("want a JSON object or string")
	ErrSyntax    = errors.New("invalid JSON")
	ErrTooLarge  = errors.New("record too large")
	ErrEmpty     = errors.New("no records")
)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// valueEnd returns the index just past the JSON value starting at b[i] (b[i] is not space). It
// only finds the boundary; json.Valid checks the value itself.
func valueEnd(b []byte, i int) (int, error) {
	switch b[i] {
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				k, err := stringEnd(b, j)
				if err != nil {
					return 0, err
				}
				j = k - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("%w: unexpected end of input", ErrSyntax)
	case '"':
		return stringEnd(b, i)
	default:
		j := i
		for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != ']' && b[j] != '}' && b[j] != '[' && b[j] != '{' && b[j] != '"' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("%w: unexpected %q", ErrSyntax, b[i])
		}
		return j, nil
	}
}

// recordsArray returns the array of records of a log file that wraps them in an object of one
// member named Records (AWS CloudTrail's files) or records (Azure diagnostic logs):
// {"Records":[...]}. obj is one valid JSON value.
func recordsArray(obj []byte) ([]byte, bool) {
	i := skipSpace(obj, 0)
	if i == len(obj) || obj[i] != '{' {
		return nil, false
	}
	i = skipSpace(obj, i+1)
	rest := obj[i:]
	if !bytes.HasPrefix(rest, []byte(`"Records"`)) && !bytes.HasPrefix(rest, []byte(`"records"`)) {
		return nil, false
	}
	i = skipSpace(obj, i+len(`"Records"`))
	if i == len(obj) || obj[i] != ':' {
		return nil, false
	}
	i = skipSpace(obj, i+1)
	if i == len(obj) || obj[i] != '[' {
		return nil, false
	}
	end, err := valueEnd(obj, i)
	if err != nil {
		return nil, false
	}
	if j := skipSpace(obj, end); j == len(obj) || obj[j] != '}' || skipSpace(obj, j+1) != len(obj) {
		return nil, false // more members: an event of its own
	}
	return obj[i:end], true
}

// eachElement calls fn with each element of arr, a valid JSON array.
func eachElement(arr []byte, fn func(elem []byte) error) error {
	i := skipSpace(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		end, err := valueEnd(arr, i)
		if err != nil {
			return err
		}
		if err := fn(arr[i:end]); err != nil {
			return err
		}
		i = skipSpace(arr, end)
		if i >= len(arr) || arr[i] != ',' {
			break
		}
		i = skipSpace(arr, i+1)
	}
	return nil
}

func stringEnd(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: unterminated string", ErrSyntax)
}

// checkRecord validates one record: valid JSON, and an object or a string.
func checkRecord(rec []byte) error {
	if rec[0] != '{' && rec[0] != '"' {
		return ErrNotRecord
	}
	if !jsontext.Valid(rec) {
		var v any
		err := json.Unmarshal(rec, &v)
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return nil
}

// SplitJSON splits a request body into records: a JSON array of records, one JSON object, or
// NDJSON / concatenated JSON values. Each record must be a JSON object or a JSON string (a text
// line). fn gets each record's 1-based number and bytes (aliasing body). The first malformed
// record stops the split with a *RecordError; callers that must store all-or-nothing validate
// first (fn nil) and then split again.
func SplitJSON(body []byte, fn func(n int, rec []byte) error) (int, error) {
	return splitJSON(body, checkRecord, fn)
}

func splitJSON(body []byte, check func([]byte) error, fn func(n int, rec []byte) error) (int, error) {
	i := skipSpace(body, 0)
	if i == len(body) {
		return 0, &RecordError{Record: 1, Err: ErrEmpty}
	}
	n := 0
	emit := func(rec []byte) error {
		n++
		if err := check(rec); err != nil {
			return &RecordError{Record: int64(n), Err: err}
		}
		if fn != nil {
			return fn(n, rec)
		}
		return nil
	}
	if body[i] == '[' {
		i = skipSpace(body, i+1)
		if i < len(body) && body[i] == ']' {
			if j := skipSpace(body, i+1); j != len(body) {
				return 0, &RecordError{Record: 1, Err: fmt.Errorf("%w: data after the array", ErrSyntax)}
			}
			return 0, nil
		}
		for {
			if i >= len(body) {
				return n, &RecordError{Record: int64(n + 1), Err: fmt.Errorf("%w: unterminated array", ErrSyntax)}
			}
			end, err := valueEnd(body, i)
			if err != nil {
				return n, &RecordError{Record: int64(n + 1), Err: err}
			}
			if err := emit(body[i:end]); err != nil {
				return n, err
			}
			i = skipSpace(body, end)
			if i >= len(body) {
				return n, &RecordError{Record: int64(n + 1), Err: fmt.Errorf("%w: unterminated array", ErrSyntax)}
			}
			switch body[i] {
			case ',':
				i = skipSpace(body, i+1)
			case ']':
				if j := skipSpace(body, i+1); j != len(body) {
					return n, &RecordError{Record: int64(n + 1), Err: fmt.Errorf("%w: data after the array", ErrSyntax)}
				}
				return n, nil
			default:
				return n, &RecordError{Record: int64(n + 1), Err: fmt.Errorf("%w: want , or ] after record %d", ErrSyntax, n)}
			}
		}
	}
	for i < len(body) {
		end, err := valueEnd(body, i)
		if err != nil {
			return n, &RecordError{Record: int64(n + 1), Err: err}
		}
		if arr, ok := recordsArray(body[i:end]); ok && jsontext.Valid(body[i:end]) {
			err = eachElement(arr, emit)
		} else {
			err = emit(body[i:end])
		}
		if err != nil {
			return n, err
		}
		i = skipSpace(body, end)
	}
	return n, nil
}
