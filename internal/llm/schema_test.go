package llm

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidateArguments(t *testing.T) {
	const s = `{"type":"object","properties":{
		"q":{"type":"string","minLength":2,"maxLength":5},
		"n":{"type":"integer","minimum":1,"maximum":10},
		"f":{"type":"number"},
		"b":{"type":"boolean"},
		"tags":{"type":"array","minItems":1,"maxItems":2,"items":{"type":"string"}},
		"mode":{"enum":["fast","slow",3]},
		"opt":{"type":["string","null"]},
		"nested":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false}},
		"required":["q"]}`
	tests := []struct {
		args string
		err  string // "" for valid
	}{
		{`{"q":"ab"}`, ""},
		{`{"q":"ab","n":10,"f":1.5,"b":false,"tags":["a"],"mode":"slow","opt":null,"nested":{"x":1},"extra":1}`, ""},
		{`{"q":"ab","n":3.0}`, ""},
		{`{"q":"ab","n":1e1}`, ""},
		{`{"q":"ab","mode":3.0}`, ""},
		{` {"q":"ab"} `, ""},
		{`{"q":"ä€"}`, ""},
		{`{}`, `missing required property "q"`},
		{`{"q":1}`, "$.q: want string, got integer"},
		{`{"q":"a"}`, "at least 2 characters"},
		{`{"q":"abcdef"}`, "at most 5 characters"},
		{`{"q":"ab","n":0}`, "$.n: want at least 1"},
		{`{"q":"ab","n":11}`, "$.n: want at most 10"},
		{`{"q":"ab","n":2.5}`, "want integer, got number"},
		{`{"q":"ab","n":"2"}`, "want integer, got string"},
		{`{"q":"ab","f":true}`, "want number, got boolean"},
		{`{"q":"ab","b":"true"}`, "want boolean, got string"},
		{`{"q":"ab","tags":[]}`, "at least 1 items"},
		{`{"q":"ab","tags":["a","b","c"]}`, "at most 2 items"},
		{`{"q":"ab","tags":["a",1]}`, "$.tags[1]: want string, got integer"},
		{`{"q":"ab","tags":"a"}`, "want array, got string"},
		{`{"q":"ab","mode":"medium"}`, "$.mode: value is not one of the 3 allowed"},
		{`{"q":"ab","opt":5}`, "want string or null"},
		{`{"q":"ab","nested":{}}`, `$.nested: missing required property "x"`},
		{`{"q":"ab","nested":{"x":1,"y":2}}`, `$.nested: unknown property "y"`},
		{`{"q":"ab","nested":{"x":1,"` + strings.Repeat("z", 100) + `":2}}`, "…"},
		{`null`, "want a JSON object, got null"},
		{`"q"`, "want a JSON object, got string"},
		{`{"q":"ab"`, "not valid JSON"},
		{`{"q":"ab"} {}`, "more than one JSON value"},
		{``, "not valid JSON"},
		{`{"q":"ab","n":1e400}`, "want integer, got number"},
		{`{"q":"ab","f":1e400}`, "$.f: number out of range"},
	}
	for _, tt := range tests {
		err := ValidateArguments(json.RawMessage(s), json.RawMessage(tt.args))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.args, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: got %v, want error containing %q", tt.args, err, tt.err)
		}
	}
}

func TestSchemaSubsetRefusesWhatItCannotEnforce(t *testing.T) {
	for _, s := range []string{
		`{"type":"object","properties":{"a":{"type":"string","pattern":"^a"}}}`,
		`{"type":"object","anyOf":[{"required":["a"]}]}`,
		`{"type":"object","properties":{"a":{"$ref":"#/defs/x"}}}`,
		`{"type":"object","additionalProperties":{"type":"string"}}`,
		`{"type":"objekt"}`,
		`{"type":"object","required":"a"}`,
		`{"type":"object","properties":{"a":{"type":"integer","minimum":"1"}}}`,
		`{"type":"object","properties":{"a":{"type":"string","maxLength":-1}}}`,
		`{"type":"object","properties":{"a":{"enum":[]}}}`,
		`[]`,
		`{"type":"object","properties":` + strings.Repeat(`{"a":{"type":"object","properties":`, 40) + `{}` + strings.Repeat(`}}`, 40) + `}`,
	} {
		if err := ValidateArguments(json.RawMessage(s), json.RawMessage(`{}`)); err == nil || !strings.HasPrefix(err.Error(), "schema:") {
			t.Errorf("%.60s: got %v, want a schema error", s, err)
		}
	}
	// Annotations are accepted and ignored; a missing schema means no arguments needed.
	ok := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","title":"t","description":"d",
		"properties":{"a":{"type":"string","format":"date-time","default":"x","examples":["y"]}}}`
	if err := ValidateArguments(json.RawMessage(ok), json.RawMessage(`{"a":"not a date"}`)); err != nil {
		t.Errorf("annotations: %v", err)
	}
	if err := ValidateArguments(nil, json.RawMessage(`{"anything":1}`)); err != nil {
		t.Errorf("nil schema: %v", err)
	}
}
