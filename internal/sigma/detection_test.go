package sigma

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// compileOne builds an engine from one rule whose detection section is det (YAML).
func compileOne(t *testing.T, det string, opts EngineOptions) (*Engine, error) {
	t.Helper()
	doc := "title: test\nid: 11111111-2222-3333-4444-555555555555\nlogsource: {product: test}\ndetection:\n" + indent(det)
	rs, refusals := LoadBytes("test.yml", []byte(doc), LoadOptions{})
	if len(refusals) > 0 {
		return nil, refusals[0].Err
	}
	opts.IgnoreLogSource = true
	eng, refusals := NewEngine(rs, opts)
	if len(refusals) > 0 {
		return nil, refusals[0].Err
	}
	return eng, nil
}

func indent(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func record(kv ...string) *Record {
	var r Record
	for i := 0; i+1 < len(kv); i += 2 {
		r.Add(kv[i], kv[i+1])
	}
	return &r
}

type matchCase struct {
	name string
	det  string
	rec  []string // field, value, ...
	want bool
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, prefilter := range []bool{true, false} {
				eng, err := compileOne(t, tc.det, EngineOptions{DisablePrefilter: !prefilter})
				if err != nil {
					t.Fatalf("compile: %v", err)
				}
				got := len(eng.NewMatcher().Match(record(tc.rec...))) > 0
				if got != tc.want {
					t.Fatalf("prefilter=%v: match = %v, want %v", prefilter, got, tc.want)
				}
			}
		})
	}
}

func TestModifiers(t *testing.T) {
	runMatchCases(t, []matchCase{
		// Plain values: case-insensitive equality.
		{"equal", "s: {Image: 'C:\\Windows\\cmd.exe'}\ncondition: s", []string{"Image", `c:\windows\CMD.EXE`}, true},
		{"equal no substring", "s: {Image: 'cmd.exe'}\ncondition: s", []string{"Image", `C:\cmd.exe`}, false},
		{"number as string", "s: {EventID: 4688}\ncondition: s", []string{"EventID", "4688"}, true},
		{"number mismatch", "s: {EventID: 4688}\ncondition: s", []string{"EventID", "46880"}, false},
		{"bool as string", "s: {Enabled: true}\ncondition: s", []string{"Enabled", "True"}, true},
		{"empty string", "s: {Field: ''}\ncondition: s", []string{"Field", ""}, true},
		{"empty string absent", "s: {Field: ''}\ncondition: s", []string{"Other", ""}, false},
		{"null absent", "s: {Field: null}\ncondition: s", []string{"Other", "x"}, true},
		{"null empty", "s: {Field: null}\ncondition: s", []string{"Field", ""}, true},
		{"null present", "s: {Field: null}\ncondition: s", []string{"Field", "x"}, false},
		{"not null", "s: {Field: null}\ncondition: not s", []string{"Field", "x"}, true},
		{"list is or", "s: {Image: [a.exe, b.exe]}\ncondition: s", []string{"Image", "b.exe"}, true},
		{"map is and", "s: {A: x, B: y}\ncondition: s", []string{"A", "x", "B", "z"}, false},
		{"map and both", "s: {A: x, B: y}\ncondition: s", []string{"A", "x", "B", "y"}, true},
		{"list of maps is or", "s:\n  - {A: x}\n  - {B: y}\ncondition: s", []string{"B", "y"}, true},
		{"multi-valued field any", "s: {Tag: b}\ncondition: s", []string{"Tag", "a", "Tag", "b"}, true},
		{"field name case and spaces", "s: {ThreatName: eicar}\ncondition: s", []string{"Threat Name", "EICAR"}, true},
		// Wildcards and escaping.
		{"star", "s: {Image: '*\\cmd.exe'}\ncondition: s", []string{"Image", `C:\Windows\cmd.exe`}, true},
		{"question", "s: {Image: 'prog?.exe'}\ncondition: s", []string{"Image", "progA.exe"}, true},
		{"question needs one", "s: {Image: 'prog?.exe'}\ncondition: s", []string{"Image", "prog.exe"}, false},
		{"question one rune", "s: {Name: 'caf?'}\ncondition: s", []string{"Name", "café"}, true},
		{"inner wildcards", "s: {C: 'a*b?c*d'}\ncondition: s", []string{"C", "aXXbYcZZd"}, true},
		{"inner wildcards miss", "s: {C: 'a*b?c*d'}\ncondition: s", []string{"C", "aXXbcZZd"}, false},
		{"escaped star", `s: {C: 'a\*b'}` + "\ncondition: s", []string{"C", "a*b"}, true},
		{"escaped star literal", `s: {C: 'a\*b'}` + "\ncondition: s", []string{"C", "aXb"}, false},
		{"escaped question", `s: {C: 'a\?'}` + "\ncondition: s", []string{"C", "a?"}, true},
		{"escaped question literal", `s: {C: 'a\?'}` + "\ncondition: s", []string{"C", "ab"}, false},
		{"double backslash", `s: {C: 'a\\b'}` + "\ncondition: s", []string{"C", `a\b`}, true},
		{"single backslash", `s: {C: 'a\b'}` + "\ncondition: s", []string{"C", `a\b`}, true},
		{"backslash then wildcard", `s: {C: 'a\\*'}` + "\ncondition: s", []string{"C", `a\anything`}, true},
		{"three backslashes star", `s: {C: 'a\\\*'}` + "\ncondition: s", []string{"C", `a\*`}, true},
		{"three backslashes star literal", `s: {C: 'a\\\*'}` + "\ncondition: s", []string{"C", `a\x`}, false},
		{"four backslashes", `s: {C: 'a\\\\b'}` + "\ncondition: s", []string{"C", `a\\b`}, true},
		{"trailing backslash", `s: {C: 'dir\'}` + "\ncondition: s", []string{"C", `dir\`}, true},
		// contains / startswith / endswith.
		{"contains", "s: {C|contains: mimikatz}\ncondition: s", []string{"C", "run MimiKatz.exe"}, true},
		{"contains miss", "s: {C|contains: mimikatz}\ncondition: s", []string{"C", "mimi katz"}, false},
		{"startswith", "s: {C|startswith: 'C:\\Users\\'}\ncondition: s", []string{"C", `c:\users\bob`}, true},
		{"startswith miss", "s: {C|startswith: 'Users'}\ncondition: s", []string{"C", `c:\users\bob`}, false},
		{"endswith", "s: {C|endswith: '.ps1'}\ncondition: s", []string{"C", `x.PS1`}, true},
		{"endswith miss", "s: {C|endswith: '.ps1'}\ncondition: s", []string{"C", `x.ps1.txt`}, false},
		{"contains with wildcard", "s: {C|contains: 'a*c'}\ncondition: s", []string{"C", "xxabbcxx"}, true},
		{"contains all", "s: {C|contains|all: [' -enc ', 'hidden']}\ncondition: s", []string{"C", "ps -w hidden -enc AAA"}, true},
		{"contains all miss", "s: {C|contains|all: [' -enc ', 'hidden']}\ncondition: s", []string{"C", "ps -enc AAA"}, false},
		{"all over values", "s: {Tag|all: [a, b]}\ncondition: s", []string{"Tag", "a", "Tag", "b"}, true},
		// cased.
		{"cased", "s: {C|cased: Admin}\ncondition: s", []string{"C", "Admin"}, true},
		{"cased miss", "s: {C|cased: Admin}\ncondition: s", []string{"C", "admin"}, false},
		{"cased contains", "s: {C|contains|cased: Run}\ncondition: s", []string{"C", "xRunx"}, true},
		{"cased contains miss", "s: {C|contains|cased: Run}\ncondition: s", []string{"C", "xrunx"}, false},
		// re.
		{"re", "s: {C|re: 'net\\s+user'}\ncondition: s", []string{"C", "net   user bob"}, true},
		{"re case sensitive", "s: {C|re: 'net\\s+user'}\ncondition: s", []string{"C", "NET USER"}, false},
		{"re i", "s: {C|re|i: 'net\\s+user'}\ncondition: s", []string{"C", "NET USER"}, true},
		{"re m", "s: {C|re|m: '^b$'}\ncondition: s", []string{"C", "a\nb\nc"}, true},
		{"re without m", "s: {C|re: '^b$'}\ncondition: s", []string{"C", "a\nb\nc"}, false},
		{"re s", "s: {C|re|s: 'a.c'}\ncondition: s", []string{"C", "a\nc"}, true},
		{"re without s", "s: {C|re: 'a.c'}\ncondition: s", []string{"C", "a\nc"}, false},
		{"re run guard", "s: {C|re: '\\s[a-f0-9]{8}\\s'}\ncondition: s", []string{"C", "x deadbeef y"}, true},
		{"re long line", "s: {C|re: '.{20,}'}\ncondition: s", []string{"C", strings.Repeat("é", 20)}, true},
		{"re long line short", "s: {C|re: '.{20,}'}\ncondition: s", []string{"C", strings.Repeat("é", 19)}, false},
		{"re long line newline", "s: {C|re: '.{20,}'}\ncondition: s", []string{"C", strings.Repeat("a", 10) + "\n" + strings.Repeat("a", 10)}, false},
		{"re long line dotall", "s: {C|re|s: '.{20,}'}\ncondition: s", []string{"C", strings.Repeat("a", 10) + "\n" + strings.Repeat("a", 10)}, true},
		{"re long line anchored", "s: {C|re: '^.{5,}$'}\ncondition: s", []string{"C", "abcdef"}, true},
		{"re run guard miss", "s: {C|re: '\\s[a-f0-9]{8}\\s'}\ncondition: s", []string{"C", "x deadbee y"}, false},
		// Encodings.
		{"base64", "s: {C|base64: 'evil'}\ncondition: s", []string{"C", "ZXZpbA=="}, true},
		{"base64 contains", "s: {C|base64|contains: 'evil'}\ncondition: s", []string{"C", "xxZXZpbA==yy"}, true},
		{"base64offset 0", "s: {C|base64offset|contains: 'http://'}\ncondition: s", []string{"C", "aHR0cDovL2V2aWwuY29t"}, true},
		{"base64offset 1", "s: {C|base64offset|contains: 'http://'}\ncondition: s", []string{"C", "IGh0dHA6Ly9ldmlsLmNvbQ=="}, true},
		{"base64offset 2", "s: {C|base64offset|contains: 'http://'}\ncondition: s", []string{"C", "ICBodHRwOi8vZXZpbC5jb20="}, true},
		{"base64offset miss", "s: {C|base64offset|contains: 'http://'}\ncondition: s", []string{"C", "aHR0cHM6Ly9ldmlsLmNvbQ=="}, false},
		{"wide base64offset", "s: {C|wide|base64offset|contains: 'ping'}\ncondition: s", []string{"C", "cABpAG4AZwA="}, true},
		{"utf16le", "s: {C|utf16le|contains: 'ab'}\ncondition: s", []string{"C", "xa\x00b\x00y"}, true},
		{"utf16be", "s: {C|utf16be|contains: 'ab'}\ncondition: s", []string{"C", "x\x00a\x00by"}, true},
		{"utf16 bom", "s: {C|utf16|startswith: 'ab'}\ncondition: s", []string{"C", "\xff\xfea\x00b\x00"}, true},
		{"windash slash", "s: {C|windash|contains: ' -enc '}\ncondition: s", []string{"C", "ps /enc x"}, true},
		{"windash en dash", "s: {C|windash|contains: ' -enc '}\ncondition: s", []string{"C", "ps \u2013enc x"}, true},
		{"windash hyphen", "s: {C|windash|contains: ' /enc '}\ncondition: s", []string{"C", "ps -enc x"}, true},
		{"windash miss", "s: {C|windash|contains: ' -enc '}\ncondition: s", []string{"C", "ps +enc x"}, false},
		// cidr.
		{"cidr v4", "s: {Ip|cidr: 10.0.0.0/8}\ncondition: s", []string{"Ip", "10.1.2.3"}, true},
		{"cidr v4 miss", "s: {Ip|cidr: 10.0.0.0/8}\ncondition: s", []string{"Ip", "11.1.2.3"}, false},
		{"cidr v6", "s: {Ip|cidr: 'fe80::/10'}\ncondition: s", []string{"Ip", "fe80::1"}, true},
		{"cidr mapped", "s: {Ip|cidr: 192.168.0.0/16}\ncondition: s", []string{"Ip", "::ffff:192.168.1.1"}, true},
		{"cidr list", "s: {Ip|cidr: [10.0.0.0/8, 172.16.0.0/12]}\ncondition: s", []string{"Ip", "172.20.0.1"}, true},
		{"cidr not ip", "s: {Ip|cidr: 10.0.0.0/8}\ncondition: s", []string{"Ip", "ten"}, false},
		// Numeric comparisons.
		{"lt", "s: {N|lt: 10}\ncondition: s", []string{"N", "9"}, true},
		{"lt equal", "s: {N|lt: 10}\ncondition: s", []string{"N", "10"}, false},
		{"lte", "s: {N|lte: 10}\ncondition: s", []string{"N", "10"}, true},
		{"gt", "s: {N|gt: 10}\ncondition: s", []string{"N", "10.5"}, true},
		{"gte", "s: {N|gte: 10}\ncondition: s", []string{"N", "9.99"}, false},
		{"gt hex value", "s: {N|gt: 10}\ncondition: s", []string{"N", "0x20"}, true},
		{"gt not a number", "s: {N|gt: 10}\ncondition: s", []string{"N", "abc"}, false},
		// neq.
		{"neq", "s: {User|neq: SYSTEM}\ncondition: s", []string{"User", "bob"}, true},
		{"neq equal", "s: {User|neq: SYSTEM}\ncondition: s", []string{"User", "system"}, false},
		{"neq list", "s: {User|neq: [a, b]}\ncondition: s", []string{"User", "b"}, false},
		{"neq number", "s: {Port|neq: 443}\ncondition: s", []string{"Port", "80"}, true},
		// exists.
		{"exists true", "s: {F|exists: true}\ncondition: s", []string{"F", ""}, true},
		{"exists true miss", "s: {F|exists: true}\ncondition: s", []string{"G", "x"}, false},
		{"exists false", "s: {F|exists: false}\ncondition: s", []string{"G", "x"}, true},
		// fieldref.
		{"fieldref", "s: {Image|fieldref: ParentImage}\ncondition: s", []string{"Image", `C:\a.exe`, "ParentImage", `c:\A.EXE`}, true},
		{"fieldref miss", "s: {Image|fieldref: ParentImage}\ncondition: s", []string{"Image", `C:\a.exe`, "ParentImage", `C:\b.exe`}, false},
		{"fieldref absent", "s: {Image|fieldref: ParentImage}\ncondition: s", []string{"Image", `C:\a.exe`}, false},
		{"fieldref startswith", "s: {Path|fieldref|startswith: Dir}\ncondition: s", []string{"Path", `C:\dir\x`, "Dir", `C:\dir`}, true},
		{"fieldref endswith", "s: {Path|fieldref|endswith: Name}\ncondition: s", []string{"Path", `C:\dir\x.exe`, "Name", `x.exe`}, true},
		{"fieldref contains", "s: {Cmd|fieldref|contains: User}\ncondition: s", []string{"Cmd", `runas bob x`, "User", `BOB`}, true},
		// Lengths: ASCII values of other lengths are ruled out unlowered; lower-casing Ⱥ (two
		// bytes) gives ⱥ (three), so other values are compared lowered whatever their lengths.
		{"fieldref longer", "s: {Image|fieldref: ParentImage}\ncondition: s", []string{"Image", `C:\a.exe`, "ParentImage", `C:\ab.exe`}, false},
		{"fieldref shorter", "s: {Image|fieldref: ParentImage}\ncondition: s", []string{"Image", `C:\ab.exe`, "ParentImage", `C:\a.exe`}, false},
		{"fieldref startswith longer", "s: {Path|fieldref|startswith: Dir}\ncondition: s", []string{"Path", `C:\d`, "Dir", `C:\dir`}, false},
		{"fieldref second value", "s: {Image|fieldref: ParentImage}\ncondition: s", []string{"Image", `C:\a.exe`, "ParentImage", `C:\ab.exe`, "ParentImage", `c:\A.EXE`}, true},
		{"fieldref case changes length", "s: {Image|fieldref: ParentImage}\ncondition: s", []string{"Image", "x\u2c65", "ParentImage", "X\u023a"}, true},
		{"fieldref startswith case changes length", "s: {Path|fieldref|startswith: Dir}\ncondition: s", []string{"Path", "\u023a", "Dir", "\u2c65"}, true},
		{"fieldref contains case changes length", "s: {Cmd|fieldref|contains: User}\ncondition: s", []string{"Cmd", "\u023a", "User", "\u2c65"}, true},
		{"fieldref neq", "s: {A|fieldref|neq: B}\ncondition: s", []string{"A", "x", "B", "y"}, true},
		{"fieldref neq equal", "s: {A|fieldref|neq: B}\ncondition: s", []string{"A", "x", "B", "x"}, false},
		// Time parts.
		{"hour", "s: {T|hour: 3}\ncondition: s", []string{"T", "2026-01-05T03:15:00Z"}, true},
		{"hour miss", "s: {T|hour: 3}\ncondition: s", []string{"T", "2026-01-05T04:15:00Z"}, false},
		{"minute", "s: {T|minute: 15}\ncondition: s", []string{"T", "2026-01-05 03:15:00.123"}, true},
		{"day month year", "s: {T|day: 5, T|month: 1, T|year: 2026}\ncondition: s", []string{"T", "2026-01-05T03:15:00Z"}, true},
		{"week", "s: {T|week: 2}\ncondition: s", []string{"T", "2026-01-05T03:15:00Z"}, true},
		{"hour gte", "s: {T|hour|gte: 22}\ncondition: s", []string{"T", "2026-01-05T23:00:00Z"}, true},
		// Keywords.
		{"keyword any field", "k: [mimikatz, 'sekurlsa::']\ncondition: k", []string{"A", "x", "B", "Invoke-Mimikatz"}, true},
		{"keyword miss", "k: [mimikatz]\ncondition: k", []string{"A", "mimi"}, false},
		{"keyword wildcard", "k: ['evil*payload']\ncondition: k", []string{"A", "the evil big payload here"}, true},
		{"keyword all", "k:\n  '|all': [OabVirtualDirectory, ' -ExternalUrl ']\ncondition: k", []string{"A", "Set-OabVirtualDirectory", "B", "x -ExternalUrl y"}, true},
		{"keyword all miss", "k:\n  '|all': [OabVirtualDirectory, ' -ExternalUrl ']\ncondition: k", []string{"A", "Set-OabVirtualDirectory"}, false},
		{"keyword number", "k: [4688]\ncondition: k", []string{"A", "id 4688"}, true},
	})
}

func TestExpandPlaceholders(t *testing.T) {
	det := "s: {User|expand: '%Administrators%'}\ncondition: s"
	_, err := compileOne(t, det, EngineOptions{})
	if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "%Administrators%") {
		t.Fatalf("undefined placeholder: err = %v, want an unsupported-rule refusal naming it", err)
	}
	eng, err := compileOne(t, det, EngineOptions{Placeholders: map[string][]string{"Administrators": {"adm_*", "root"}}})
	if err != nil {
		t.Fatal(err)
	}
	m := eng.NewMatcher()
	for v, want := range map[string]bool{"adm_bob": true, "root": true, "bob": false} {
		if got := len(m.Match(record("User", v))) > 0; got != want {
			t.Errorf("User=%s: %v, want %v", v, got, want)
		}
	}
	// Without expand, %...% is literal; \% escapes a percent sign inside an expanded value.
	runMatchCases(t, []matchCase{
		{"literal percent", "s: {P: '%name%'}\ncondition: s", []string{"P", "%name%"}, true},
	})
	eng, err = compileOne(t, `s: {P|expand: '\%plain%x%'}`+"\ncondition: s", EngineOptions{Placeholders: map[string][]string{"x": {"val"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(eng.NewMatcher().Match(record("P", "%plainval"))) != 1 {
		t.Fatal(`\% did not escape the percent sign`)
	}
}

func TestConditions(t *testing.T) {
	const sels = "sel_a: {A: x}\nsel_b: {B: y}\nfilter_c: {C: z}\n_hidden: {D: w}\n"
	rec := func(kv ...string) []string { return kv }
	runMatchCases(t, []matchCase{
		{"and", sels + "condition: sel_a and sel_b", rec("A", "x", "B", "y"), true},
		{"and miss", sels + "condition: sel_a and sel_b", rec("A", "x"), false},
		{"or", sels + "condition: sel_a or sel_b", rec("B", "y"), true},
		{"not", sels + "condition: sel_a and not filter_c", rec("A", "x", "C", "z"), false},
		{"not passes", sels + "condition: sel_a and not filter_c", rec("A", "x"), true},
		{"precedence and over or", sels + "condition: sel_a or sel_b and filter_c", rec("A", "x"), true},
		{"precedence and over or 2", sels + "condition: sel_a or sel_b and filter_c", rec("B", "y"), false},
		{"precedence not over and", sels + "condition: not sel_a and sel_b", rec("B", "y"), true},
		{"precedence not over and 2", sels + "condition: not sel_a and sel_b", rec("A", "x", "B", "y"), false},
		{"parentheses", sels + "condition: (sel_a or sel_b) and filter_c", rec("A", "x"), false},
		{"parentheses 2", sels + "condition: (sel_a or sel_b) and filter_c", rec("B", "y", "C", "z"), true},
		{"nested not", sels + "condition: not (sel_a or not sel_b)", rec("B", "y"), true},
		{"double not", sels + "condition: not not sel_a", rec("A", "x"), true},
		{"1 of pattern", sels + "condition: 1 of sel_*", rec("B", "y"), true},
		{"all of pattern", sels + "condition: all of sel_*", rec("B", "y"), false},
		{"all of pattern both", sels + "condition: all of sel_*", rec("A", "x", "B", "y"), true},
		{"1 of them", sels + "condition: 1 of them", rec("C", "z"), true},
		{"them excludes underscore", sels + "condition: 1 of them", rec("D", "w"), false},
		{"all of them", sels + "condition: all of them", rec("A", "x", "B", "y", "C", "z"), true},
		{"all of them underscore not needed", sels + "condition: all of them", rec("A", "x", "B", "y", "C", "z", "D", "other"), true},
		{"pattern in middle", sels + "condition: 1 of *_b", rec("B", "y"), true},
		{"not 1 of", sels + "condition: sel_a and not 1 of filter_*", rec("A", "x", "C", "z"), false},
		{"condition list is or", sels + "condition: [sel_a, sel_b]", rec("B", "y"), true},
		{"keywords uppercase", sels + "condition: sel_a AND NOT filter_c", rec("A", "x"), true},
	})
}

func TestInvalidDetections(t *testing.T) {
	for name, det := range map[string]string{
		"unknown modifier":        "s: {A|bogus: x}\ncondition: s",
		"unknown identifier":      "s: {A: x}\ncondition: t",
		"pattern matches nothing": "s: {A: x}\ncondition: 1 of filter_*",
		"unbalanced parenthesis":  "s: {A: x}\ncondition: (s",
		"aggregation":             "s: {A: x}\ncondition: s | count() > 5",
		"near":                    "s: {A: x}\ncondition: s and",
		"2 of":                    "s: {A: x}\ncondition: 2 of s",
		"no condition":            "s: {A: x}",
		"null in list":            "s: {A: [x, null]}\ncondition: s",
		"all single value":        "s: {A|all: x}\ncondition: s",
		"re lookahead":            "s: {A|re: 'a(?=b)'}\ncondition: s",
		"re after transform":      "s: {A|contains|re: x}\ncondition: s",
		"bad cidr":                "s: {A|cidr: 10.0.0.0/33}\ncondition: s",
		"exists not bool":         "s: {A|exists: yes please}\ncondition: s",
		"lt not number":           "s: {A|lt: ten}\ncondition: s",
		"base64 wildcard":         "s: {A|base64: 'a*'}\ncondition: s",
		"empty list":              "s: {A: []}\ncondition: s",
		"empty selection":         "s: {}\ncondition: s",
		"timeframe":               "s: {A: x}\ntimeframe: 5m\ncondition: s",
		"fieldref wildcard":       "s: {A|fieldref: 'B*'}\ncondition: s",
		"i without re":            "s: {A|i: x}\ncondition: s",
		"nested list":             "s: [[a]]\ncondition: s",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := compileOne(t, det, EngineOptions{}); err == nil {
				t.Fatal("accepted an invalid detection")
			}
		})
	}
}

func TestRuleValidationNamesFileAndReason(t *testing.T) {
	for name, doc := range map[string]string{
		"no title":      "logsource: {product: x}\ndetection: {s: {A: x}, condition: s}",
		"no logsource":  "title: t\ndetection: {s: {A: x}, condition: s}",
		"no detection":  "title: t\nlogsource: {product: x}",
		"bad level":     "title: t\nlevel: severe\nlogsource: {product: x}\ndetection: {s: {A: x}, condition: s}",
		"bad status":    "title: t\nstatus: done\nlogsource: {product: x}\ndetection: {s: {A: x}, condition: s}",
		"long title":    "title: " + strings.Repeat("x", 257) + "\nlogsource: {product: x}\ndetection: {s: {A: x}, condition: s}",
		"bad yaml":      "title: [unclosed\n",
		"tags not list": "title: t\ntags: {a: b}\nlogsource: {product: x}\ndetection: {s: {A: x}, condition: s}",
	} {
		t.Run(name, func(t *testing.T) {
			rs, refusals := LoadBytes("rules/"+strings.ReplaceAll(name, " ", "_")+".yml", []byte(doc), LoadOptions{})
			if len(rs.Rules) != 0 || len(refusals) != 1 {
				t.Fatalf("want one refusal, got %d rules, refusals %v", len(rs.Rules), refusals)
			}
			if !strings.HasPrefix(refusals[0].File, "rules/") || refusals[0].Error == "" || !errors.Is(refusals[0].Err, ErrInvalidRule) {
				t.Fatalf("refusal %+v must name the file and the reason", refusals[0])
			}
		})
	}
}

func TestRuleMetadataAndAttack(t *testing.T) {
	doc := `title: Encoded PowerShell
id: 545a5da6-f103-4919-a519-e9aec1026ee4
name: encoded_ps
status: test
description: desc
author: someone
date: 2017-05-09
modified: 2023-04-14
references: [https://example.com]
tags:
    - attack.execution
    - attack.t1059.001
    - attack.reconnaissance
    - attack.resource-development
    - attack.g0016
    - attack.s0002
    - attack.defense-impairment
    - cve.2021-44228
falsepositives: [admins]
fields: [CommandLine]
level: high
logsource: {category: process_creation, product: windows, service: sysmon, definition: needs sysmon}
detection: {s: {CommandLine|contains: ' -enc '}, condition: s}
`
	rs, refusals := LoadBytes("r.yml", []byte(doc), LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals)
	}
	r := rs.Rules[0]
	ls := r.LogSource
	got := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%s|%v|%v|%v|%s/%s/%s/%s", r.ID, r.Name, r.Title, r.Status, r.Level, r.Description, r.Author, r.Date, r.Modified, r.References, r.FalsePositives, r.Fields, ls.Category, ls.Product, ls.Service, ls.Definition)
	want := "545a5da6-f103-4919-a519-e9aec1026ee4|encoded_ps|Encoded PowerShell|test|high|desc|someone|2017-05-09|2023-04-14|[https://example.com]|[admins]|[CommandLine]|process_creation/windows/sysmon/needs sysmon"
	if got != want {
		t.Fatalf("metadata\n got %s\nwant %s", got, want)
	}
	a := r.Attack
	var tactics []string
	for _, tc := range a.Tactics {
		tactics = append(tactics, tc.ID+":"+tc.Name)
	}
	if strings.Join(tactics, ",") != "TA0002:Execution,TA0043:Reconnaissance,TA0042:Resource Development,TA0112:Defense Impairment" {
		t.Errorf("tactics %v", tactics)
	}
	if fmt.Sprint(a.Techniques, a.Groups, a.Software) != "[T1059.001] [G0016] [S0002]" {
		t.Errorf("techniques/groups/software %v %v %v", a.Techniques, a.Groups, a.Software)
	}
	if len(r.Tags) != 8 {
		t.Errorf("tags %v", r.Tags)
	}
}

func TestFilters(t *testing.T) {
	rules := `
title: Rar compression
id: 6f3e2987-db24-4c78-a860-b4f4095a7095
logsource: {category: process_creation, product: windows}
detection: {s: {Image|endswith: '\rar.exe'}, condition: s}
---
title: Jump host login
id: df0841c0-9846-4e9f-ad8a-7df91571771b
logsource: {category: process_creation, product: windows}
detection: {s: {CommandLine|contains: mstsc}, condition: s}
---
title: Untouched
id: 0a1b2c3d-0000-4000-8000-000000000000
logsource: {category: process_creation, product: windows}
detection: {s: {Image|endswith: '\rar.exe'}, condition: s}
`
	filter, err := readSpecFile("filter/filter_1.yml")
	if err != nil {
		t.Skip(err)
	}
	rs, refusals := LoadBytes("f.yml", append([]byte(rules+"---\n"), filter...), LoadOptions{})
	if len(refusals) > 0 {
		t.Fatal(refusals)
	}
	if len(rs.Filters) != 1 || len(rs.RuleByID("6f3e2987-db24-4c78-a860-b4f4095a7095").Filters()) != 1 {
		t.Fatal("filter not applied to the referenced rule")
	}
	sysmon := func(kv ...string) *Record {
		return record(append([]string{"Channel", "Microsoft-Windows-Sysmon/Operational", "EventID", "1"}, kv...)...)
	}
	for _, pysigma := range []bool{false, true} {
		eng, _ := NewEngine(rs, EngineOptions{PySigmaFilters: pysigma})
		m := eng.NewMatcher()
		titles := func(r *Record) string {
			var out []string
			for _, h := range m.Match(r) {
				out = append(out, h.Rule.Title)
			}
			return strings.Join(out, ",")
		}
		admin := titles(sysmon("Image", `C:\rar.exe`, "User", "adm_bob"))
		user := titles(sysmon("Image", `C:\rar.exe`, "User", "bob"))
		if !pysigma {
			// The specification: the filter suppresses the matches its condition selects.
			if admin != "Untouched" || user != "Rar compression,Untouched" {
				t.Errorf("spec filters: admin=%q user=%q", admin, user)
			}
		} else {
			// pySigma: the filter condition is ANDed to the rule.
			if admin != "Rar compression,Untouched" || user != "Untouched" {
				t.Errorf("pySigma filters: admin=%q user=%q", admin, user)
			}
		}
	}
	// Both spec filter examples load.
	for _, f := range []string{"filter/filter_1.yml", "filter/filter_ecs.yml"} {
		data, _ := readSpecFile(f)
		if rs, refusals := LoadBytes(f, data, LoadOptions{}); len(refusals) > 0 || len(rs.Filters) != 1 {
			t.Errorf("%s: refusals %v", f, refusals)
		}
	}
}

func readSpecFile(name string) ([]byte, error) {
	return readFile(sigmaData + "/specification/tests/schema/" + name)
}

func TestSpecRuleExamplesLoad(t *testing.T) {
	for _, f := range []string{"rules/rule_1.yml", "rules/rule_ecs.yml"} {
		data, err := readSpecFile(f)
		if err != nil {
			t.Skip(err)
		}
		rs, refusals := LoadBytes(f, data, LoadOptions{})
		if len(refusals) > 0 || len(rs.Rules) != 1 {
			t.Errorf("%s: refusals %v", f, refusals)
		}
	}
}

func TestEvidence(t *testing.T) {
	eng, err := compileOne(t, "sel: {Image|endswith: '\\cmd.exe', CommandLine|contains: whoami}\nfilter: {User: SYSTEM}\nk: [secret]\ncondition: sel and not filter or k", EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hits := eng.NewMatcher().Match(record("Image", `C:\cmd.exe`, "CommandLine", "whoami /all", "User", "bob", "Note", "no"))
	if len(hits) != 1 {
		t.Fatal("no match")
	}
	got := fmt.Sprint(hits[0].Evidence)
	if got != `[{sel Image C:\cmd.exe} {sel CommandLine whoami /all}]` {
		t.Fatalf("evidence %s", got)
	}
	hits = eng.NewMatcher().Match(record("Other", "a secret here"))
	if len(hits) != 1 || fmt.Sprint(hits[0].Evidence) != "[{k Other a secret here}]" {
		t.Fatalf("keyword evidence %v", hits)
	}
	// sel holds but the filter too: what sel collected is dropped, only k is evidence.
	hits = eng.NewMatcher().Match(record("Image", `C:\cmd.exe`, "CommandLine", "whoami", "User", "SYSTEM", "Other", "a secret here"))
	if len(hits) != 1 || fmt.Sprint(hits[0].Evidence) != "[{k Other a secret here}]" {
		t.Fatalf("evidence after a failed branch: %v", hits)
	}
}

// TestEvidenceAcrossRules matches rules one after the other with one Matcher: a rule that
// fails after collecting part of its evidence leaves nothing in the evidence of the next.
func TestEvidenceAcrossRules(t *testing.T) {
	rule := func(id, det string) string {
		return "title: " + id + "\nid: " + id + "\nlogsource: {product: test}\ndetection:\n" + indent(det)
	}
	doc := rule("11111111-0000-0000-0000-000000000001", "a: {Image|endswith: '\\cmd.exe'}\nb: {User: nobody}\ncondition: a and b") +
		"---\n" + rule("11111111-0000-0000-0000-000000000002", "c: {CommandLine|contains: whoami}\ncondition: c") +
		"---\n" + rule("11111111-0000-0000-0000-000000000003", "d: {Image|endswith: '\\cmd.exe'}\nf: {User: bob}\ncondition: d and not f")
	rs, refusals := LoadBytes("rules.yml", []byte(doc), LoadOptions{})
	if len(refusals) > 0 || len(rs.Rules) != 3 {
		t.Fatalf("load: %v", refusals)
	}
	for _, prefilter := range []bool{true, false} {
		eng, _ := NewEngine(rs, EngineOptions{IgnoreLogSource: true, DisablePrefilter: !prefilter})
		m := eng.NewMatcher()
		for range 2 { // the second round reuses the Matcher's evidence memory
			hits := m.Match(record("Image", `C:\cmd.exe`, "CommandLine", "whoami /all", "User", "bob"))
			if len(hits) != 1 || hits[0].Rule.ID != "11111111-0000-0000-0000-000000000002" {
				t.Fatalf("prefilter %v: hits %v", prefilter, hits)
			}
			if got := fmt.Sprint(hits[0].Evidence); got != "[{c CommandLine whoami /all}]" {
				t.Fatalf("prefilter %v: evidence %s", prefilter, got)
			}
		}
	}
}

// TestPatternIndexAgreesWithPatterns checks the index of long pattern lists against trying
// each pattern.
func TestPatternIndexAgreesWithPatterns(t *testing.T) {
	rnd := rand.New(rand.NewPCG(8, 9))
	word := func() string {
		const alpha = "ab\\\\.x"
		var b strings.Builder
		for n := rnd.IntN(5); n >= 0; n-- {
			b.WriteByte(alpha[rnd.IntN(len(alpha))])
		}
		return b.String()
	}
	for round := 0; round < 200; round++ {
		var pats []pattern
		for n := 16 + rnd.IntN(40); n > 0; n-- {
			w := word()
			var s string
			switch rnd.IntN(6) {
			case 0:
				s = w
			case 1:
				s = w + "*"
			case 2:
				s = "*" + w
			case 3:
				s = "*" + w + "*"
			case 4:
				s = w + "*" + word()
			default:
				s = w + "?" + word()
			}
			pats = append(pats, compilePattern(parseSigmaString(s), false))
		}
		idx := newPatternIndex(pats)
		if idx == nil {
			continue
		}
		for k := 0; k < 200; k++ {
			v := word() + word()
			if got, want := idx.match(v), matchAny(pats, nil, v); got != want {
				t.Fatalf("value %q: index %v, patterns %v", v, got, want)
			}
		}
	}
}
