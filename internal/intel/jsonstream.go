package intel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The JSON loaders walk a document token by token and decode one entry at a time, so memory
// holds one entry, never the whole file.

// maxSkipDepth bounds the nesting of values the walkers skip.
const maxSkipDepth = 10000

// jsonStream wraps a decoder with the file name for errors.
type jsonStream struct {
	dec  *json.Decoder
	file string
}

func newJSONStream(r io.Reader, file string) *jsonStream {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return &jsonStream{dec: dec, file: file}
}

// streamError is a structural error: the document cannot be read past it.
func (js *jsonStream) streamError(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &EntryError{File: js.file, Entry: "byte " + strconv.FormatInt(js.dec.InputOffset(), 10),
		Err: fmt.Errorf("%w: JSON: %v", ErrMalformed, err)}
}

// delim reads the next token and reports which delimiter it is (0 for a scalar).
func (js *jsonStream) delim() (json.Delim, json.Token, error) {
	tok, err := js.dec.Token()
	if err != nil {
		return 0, nil, js.streamError(err)
	}
	if d, ok := tok.(json.Delim); ok {
		return d, tok, nil
	}
	return 0, tok, nil
}

// object walks the members of an object whose '{' was read, calling member for each key;
// member must read the value (or call skip).
func (js *jsonStream) object(member func(key string) error) error {
	for js.dec.More() {
		tok, err := js.dec.Token()
		if err != nil {
			return js.streamError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return js.streamError(fmt.Errorf("object key is %T", tok))
		}
		if err := member(key); err != nil {
			return err
		}
	}
	if _, err := js.dec.Token(); err != nil { // '}'
		return js.streamError(err)
	}
	return nil
}

// array walks the elements of an array whose '[' was read; elem must read the element.
func (js *jsonStream) array(elem func(i int) error) error {
	for i := 0; js.dec.More(); i++ {
		if err := elem(i); err != nil {
			return err
		}
	}
	if _, err := js.dec.Token(); err != nil { // ']'
		return js.streamError(err)
	}
	return nil
}

// expectArray reads the '[' of an array; a null reads as an empty array. ok is false (and the
// value consumed) for anything else.
func (js *jsonStream) expectArray() (ok bool, err error) {
	d, tok, err := js.delim()
	if err != nil {
		return false, err
	}
	switch {
	case d == '[':
		return true, nil
	case d == '{':
		return false, js.skipRest(1)
	case tok == nil:
		return false, nil
	}
	return false, nil
}

// raw decodes the next value whole (one entry).
func (js *jsonStream) raw() (json.RawMessage, error) {
	var m json.RawMessage
	if err := js.dec.Decode(&m); err != nil {
		return nil, js.streamError(err)
	}
	return m, nil
}

// skip reads and discards the next value without holding it.
func (js *jsonStream) skip() error {
	d, _, err := js.delim()
	if err != nil {
		return err
	}
	if d == '{' || d == '[' {
		return js.skipRest(1)
	}
	return nil
}

// skipRest discards tokens until depth closing delimiters were read.
func (js *jsonStream) skipRest(depth int) error {
	for depth > 0 {
		d, _, err := js.delim()
		if err != nil {
			return err
		}
		switch d {
		case '{', '[':
			depth++
			if depth > maxSkipDepth {
				return js.streamError(errors.New("nested too deep"))
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// str reads a scalar as text: a string, a number's digits, a bool; null is "".
func (js *jsonStream) str() (string, error) {
	d, tok, err := js.delim()
	if err != nil {
		return "", err
	}
	if d == '{' || d == '[' {
		return "", js.skipRest(1)
	}
	return scalarText(tok), nil
}

func scalarText(tok json.Token) string {
	switch v := tok.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// flexString decodes a JSON string, number or bool as text (MISP writes ids and timestamps
// either way); null is "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return fmt.Errorf("expected a string, found %s", clip(string(b)))
	}
	*f = flexString(b)
	return nil
}

// flexBool decodes true/false, 1/0 and their string forms.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	switch strings.ToLower(string(s)) {
	case "true", "1", "yes":
		*f = true
	case "false", "0", "no", "":
		*f = false
	default:
		return fmt.Errorf("expected a boolean, found %s", clip(string(b)))
	}
	return nil
}
