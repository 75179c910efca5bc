package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The JSON-schema subset ValidateArguments enforces. A schema using any validation keyword outside
// it is refused rather than half-enforced.
//
//	type                  "object", "array", "string", "integer", "number", "boolean", "null",
//	                      or an array of these
//	properties, required  for objects
//	additionalProperties  false only (true and absent allow unknown properties)
//	items                 one schema for every element of an array
//	enum                  a list of allowed JSON values
//	minimum, maximum      for numbers and integers
//	minLength, maxLength  for strings, counted in characters
//	minItems, maxItems    for arrays
//	description, title, default, examples, format, $schema   annotations, ignored
type schema struct {
	types      []string
	properties map[string]*schema
	required   []string
	closed     bool // additionalProperties: false
	items      *schema
	enum       []any
	minimum    *float64
	maximum    *float64
	minLength  *int
	maxLength  *int
	minItems   *int
	maxItems   *int
}

const maxSchemaDepth = 32

var annotationKeywords = map[string]bool{
	"description": true, "title": true, "default": true, "examples": true, "format": true, "$schema": true,
}

var knownTypes = map[string]bool{
	"object": true, "array": true, "string": true, "integer": true, "number": true, "boolean": true, "null": true,
}

var toolNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// checkTool reports whether t can be offered to a model: a valid name, ReadOnly set, and
// parameters that form an object schema in the supported subset.
func checkTool(t Tool) (*schema, error) {
	if !toolNameRE.MatchString(t.Name) {
		return nil, fmt.Errorf("tool name %q: want 1 to 64 letters, digits, _ or -", t.Name)
	}
	if !t.ReadOnly {
		return nil, fmt.Errorf("tool %q is not marked ReadOnly: only read-only tools may be offered to a model", t.Name)
	}
	params := t.Parameters
	if len(params) == 0 {
		params = emptyObjectSchema
	}
	s, err := parseSchema(params)
	if err != nil {
		return nil, fmt.Errorf("tool %q parameters: %w", t.Name, err)
	}
	if !slices.Equal(s.types, []string{"object"}) {
		return nil, fmt.Errorf("tool %q parameters: want a schema of type object", t.Name)
	}
	return s, nil
}

// ValidateArguments checks that args is one JSON object satisfying schema (see the supported
// subset above). The error says where the arguments fail, in words safe to log and to send back to
// the model; property names the model made up are quoted and shortened.
func ValidateArguments(schemaJSON, args json.RawMessage) error {
	if len(schemaJSON) == 0 {
		schemaJSON = emptyObjectSchema
	}
	s, err := parseSchema(schemaJSON)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	return s.validateJSON(args)
}

func (s *schema) validateJSON(args json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return errors.New("arguments are not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("arguments hold more than one JSON value")
	}
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("arguments: want a JSON object, got %s", jsonType(v))
	}
	return s.validate(v, "$", 0)
}

func parseSchema(raw json.RawMessage) (*schema, error) {
	return parseSchemaAt(raw, "$", 0)
}

func parseSchemaAt(raw json.RawMessage, path string, depth int) (*schema, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%s: nested deeper than %d", path, maxSchemaDepth)
	}
	var kw map[string]json.RawMessage
	if err := json.Unmarshal(raw, &kw); err != nil || kw == nil {
		return nil, fmt.Errorf("%s: a schema must be a JSON object", path)
	}
	s := &schema{}
	keys := make([]string, 0, len(kw))
	for k := range kw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := kw[k]
		var err error
		switch k {
		case "type":
			var one string
			if json.Unmarshal(v, &one) == nil {
				s.types = []string{one}
			} else if err = json.Unmarshal(v, &s.types); err != nil || len(s.types) == 0 {
				err = errors.New("want a type name or a list of them")
			}
			for _, t := range s.types {
				if !knownTypes[t] {
					err = fmt.Errorf("unknown type %q", t)
				}
			}
		case "properties":
			var props map[string]json.RawMessage
			if err = json.Unmarshal(v, &props); err == nil {
				s.properties = make(map[string]*schema, len(props))
				for name, p := range props {
					ps, perr := parseSchemaAt(p, path+"."+name, depth+1)
					if perr != nil {
						return nil, perr
					}
					s.properties[name] = ps
				}
			}
		case "required":
			err = json.Unmarshal(v, &s.required)
		case "additionalProperties":
			var b bool
			if err = json.Unmarshal(v, &b); err != nil {
				err = errors.New("only true or false is supported")
			}
			s.closed = !b
		case "items":
			s.items, err = parseSchemaAt(v, path+"[]", depth+1)
			if err != nil {
				return nil, err
			}
		case "enum":
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			if err = dec.Decode(&s.enum); err == nil && len(s.enum) == 0 {
				err = errors.New("empty enum")
			}
		case "minimum":
			s.minimum, err = parseFloat(v)
		case "maximum":
			s.maximum, err = parseFloat(v)
		case "minLength":
			s.minLength, err = parseCount(v)
		case "maxLength":
			s.maxLength, err = parseCount(v)
		case "minItems":
			s.minItems, err = parseCount(v)
		case "maxItems":
			s.maxItems, err = parseCount(v)
		default:
			if !annotationKeywords[k] {
				return nil, fmt.Errorf("%s: keyword %q is not supported", path, k)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, k, err)
		}
	}
	if len(s.types) == 0 && (s.properties != nil || s.required != nil) {
		s.types = []string{"object"}
	}
	return s, nil
}

func parseFloat(raw json.RawMessage) (*float64, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, errors.New("want a number")
	}
	return &f, nil
}

func parseCount(raw json.RawMessage) (*int, error) {
	var n int
	if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
		return nil, errors.New("want a non-negative integer")
	}
	return &n, nil
}

// validate checks v (decoded with UseNumber) against s.
func (s *schema) validate(v any, path string, depth int) error {
	if depth > maxSchemaDepth {
		return fmt.Errorf("%s: nested deeper than %d", path, maxSchemaDepth)
	}
	if len(s.types) > 0 && !slices.ContainsFunc(s.types, func(t string) bool { return hasType(v, t) }) {
		return fmt.Errorf("%s: want %s, got %s", path, strings.Join(s.types, " or "), jsonType(v))
	}
	if s.enum != nil && !slices.ContainsFunc(s.enum, func(e any) bool { return jsonEqual(e, v) }) {
		return fmt.Errorf("%s: value is not one of the %d allowed", path, len(s.enum))
	}
	switch x := v.(type) {
	case map[string]any:
		for _, name := range s.required {
			if _, ok := x[name]; !ok {
				return fmt.Errorf("%s: missing required property %q", path, name)
			}
		}
		names := make([]string, 0, len(x))
		for name := range x {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			ps, ok := s.properties[name]
			if !ok {
				if s.closed {
					return fmt.Errorf("%s: unknown property %q", path, shorten(name, 40))
				}
				continue
			}
			if err := ps.validate(x[name], path+"."+name, depth+1); err != nil {
				return err
			}
		}
	case []any:
		if s.minItems != nil && len(x) < *s.minItems {
			return fmt.Errorf("%s: want at least %d items, got %d", path, *s.minItems, len(x))
		}
		if s.maxItems != nil && len(x) > *s.maxItems {
			return fmt.Errorf("%s: want at most %d items, got %d", path, *s.maxItems, len(x))
		}
		if s.items != nil {
			for i, e := range x {
				if err := s.items.validate(e, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
					return err
				}
			}
		}
	case string:
		n := utf8.RuneCountInString(x)
		if s.minLength != nil && n < *s.minLength {
			return fmt.Errorf("%s: want at least %d characters, got %d", path, *s.minLength, n)
		}
		if s.maxLength != nil && n > *s.maxLength {
			return fmt.Errorf("%s: want at most %d characters, got %d", path, *s.maxLength, n)
		}
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return fmt.Errorf("%s: number out of range", path)
		}
		if s.minimum != nil && f < *s.minimum {
			return fmt.Errorf("%s: want at least %v", path, *s.minimum)
		}
		if s.maximum != nil && f > *s.maximum {
			return fmt.Errorf("%s: want at most %v", path, *s.maximum)
		}
	}
	return nil
}

func hasType(v any, t string) bool {
	switch x := v.(type) {
	case map[string]any:
		return t == "object"
	case []any:
		return t == "array"
	case string:
		return t == "string"
	case bool:
		return t == "boolean"
	case nil:
		return t == "null"
	case json.Number:
		if t == "number" {
			return true
		}
		if t == "integer" {
			f, err := x.Float64()
			return err == nil && !math.IsInf(f, 0) && f == math.Trunc(f)
		}
	}
	return false
}

func jsonType(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	case json.Number:
		if hasType(x, "integer") {
			return "integer"
		}
		return "number"
	}
	return "unknown"
}

// jsonEqual compares two values decoded with UseNumber; numbers compare by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, ex := x.Float64()
		fy, ey := y.Float64()
		return ex == nil && ey == nil && fx == fy
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, jsonEqual)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// shorten cuts s to n runes for quoting in messages.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
