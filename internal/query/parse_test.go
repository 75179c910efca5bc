package query

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseCanonical(t *testing.T) {
	cases := []struct{ in, want string }{
		{``, ``},
		{`alice`, `alice`},
		{`"failed password"`, `"failed password"`},
		{`"and"`, `"and"`},
		{`user = alice`, `user.name = alice`},
		{`USER = Alice`, `user.name = Alice`},
		{`host=ws1 src_ip!=10.0.0.1`, `device.hostname = ws1 and src_endpoint.ip != 10.0.0.1`},
		{`class = authentication status = failure user = alice | since 7d`,
			`class = authentication and status = failure and user.name = alice | since 7d`},
		{`class = authentication user = alice | since 7d | first_seen country by user`,
			`class = authentication and user.name = alice | since 7d | first_seen src_endpoint.country by user.name`},
		{`process = powershell.exe cmd ~ "-enc(odedcommand)? " | count by host`,
			`process.name = powershell.exe and process.cmd_line ~ "-enc(odedcommand)? " | count by device.hostname`},
		{`dns.query = "*.biz" | since 24h | count by src_ip`, `dns.query = *.biz | since 24h | count by src_endpoint.ip`},
		{`a or b c`, `a or b and c`},
		{`(a or b) c`, `(a or b) and c`},
		{`not (a and b)`, `not (a and b)`},
		{`not not a`, `not not a`},
		{`((a))`, `a`},
		{`(a and b) and (c and d)`, `a and b and c and d`},
		{`a or (b or c)`, `a or b or c`},
		{`NOT a AND b OR c`, `not a and b or c`},
		{`host IN (ws1, "ws 2", "or")`, `device.hostname in (ws1, "ws 2", "or")`},
		{`message = "say \"hi\" \\o/"`, `message = "say \"hi\" \o/"`},
		{`user = "corp\\alice"`, `user.name = corp\alice`},
		{`user = corp\alice`, `user.name = corp\alice`},
		{`cmd ~ "\.exe$"`, `process.cmd_line ~ \.exe$`},
		{`cmd ~ "\\.exe$"`, `process.cmd_line ~ \.exe$`},
		{`cmd ~ "\.exe( |$)"`, `process.cmd_line ~ "\.exe( |$)"`},
		{`message = "a\n \\\\ \\\" \\"`, `message = "a\n \\\ \\\" \\"`},
		{`file.path = "C:\Program Files\\"`, `file.path = "C:\Program Files\\"`},
		{`ip = 10.0.0.0/8`, `ip = 10.0.0.0/8`},
		{`src_endpoint.port >= 1024 dst_endpoint.port<=22`, `src_endpoint.port >= 1024 and dst_endpoint.port <= 22`},
		{`time > -7d time <= 2026-03-01T12:00:00Z`, `time > -7d and time <= 2026-03-01T12:00:00Z`},
		{`unmapped.EventData.Foo = x`, `unmapped.EventData.Foo = x`},
		{`Unmapped.Foo = x`, `unmapped.Foo = x`},
		{`| since 30m`, `| since 30m`},
		{`| since 2W`, `| since 2w`},
		{`| between 2026-03-01 and 2026-03-02T00:00:00+02:00`, `| between 2026-03-01 and 2026-03-02T00:00:00+02:00`},
		{`| between -14d and -7d`, `| between -14d and -7d`},
		{`x | where a or b | where c`, `x | where a or b | where c`},
		{`| first_seen process by host within 7d`, `| first_seen process.name by device.hostname within 7d`},
		{`| count`, `| count`},
		{`| count by host, user`, `| count by device.hostname, user.name`},
		{`| sort time`, `| sort time`},
		{`| sort time asc`, `| sort time`},
		{`| sort TIME DESC`, `| sort time desc`},
		{`| limit 010`, `| limit 10`},
		{`| fields time, ip, cmd`, `| fields time, ip, process.cmd_line`},
		{`a | since 1d | sort time desc | limit 5 | fields host`, `a | since 1d | sort time desc | limit 5 | fields device.hostname`},
		{"a\tb\n", `a and b`},
		{`"" x`, `"" and x`},
		{`héllo wörld`, `héllo and wörld`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			q, err := Parse(c.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.in, err)
			}
			if got := q.String(); got != c.want {
				t.Fatalf("Parse(%q).String() = %q, want %q", c.in, got, c.want)
			}
			q2, err := Parse(c.want)
			if err != nil {
				t.Fatalf("Parse(canonical %q): %v", c.want, err)
			}
			if got := q2.String(); got != c.want {
				t.Fatalf("canonical text is not stable: %q gives %q", c.want, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		in   string
		col  int    // 1-based column
		want string // part of the message
	}{
		{`hots = x`, 1, `unknown field "hots"; did you mean host?`},
		{`a and hostname = x`, 7, `unknown field "hostname"; did you mean device.hostname?`},
		{`zzzzzz = 1`, 1, `unknown field "zzzzzz"`},
		{`user = `, 8, `expected a value after =, found the end of the query`},
		{`user = and`, 8, `and is a keyword; quote it`},
		{`(a or b`, 8, `expected ')' to close the '(' at column 1`},
		{`a or b)`, 7, `')' with no '(' to close`},
		{`a and`, 6, `expected a comparison, a search text or '(', found the end of the query`},
		{`or a`, 1, `found the keyword or`},
		{`"abc`, 1, `unterminated string`},
		{`file.path = "C:\dir\"`, 13, `unterminated string`},
		{`a # b`, 3, `unexpected character '#'`},
		{`a ! b`, 3, `unexpected '!'`},
		{"a \xff", 3, `invalid UTF-8`},
		{`= x`, 1, `expected a field name before =`},
		{`"host" = x`, 1, `a field name is a bare word`},
		{`cmd ~ "(abc"`, 7, "bad regular expression: missing closing ): `(abc`"},
		{`ip = 10.0.0.0/33`, 6, `bad CIDR prefix "10.0.0.0/33"`},
		{`cmd ~ "` + strings.Repeat(`a{1000}`, 11) + `"`, 7, `regular expression is too large`},
		{`cmd ~ "(abcdefghijklmnopqrstuvwxyz){1000}"`, 7, `regular expression is too large`},
		{`time = 2026-03-01`, 6, `time compares only with >, >=, < or <=`},
		{`time > yesterday`, 8, `bad time "yesterday"`},
		{`time > -7y`, 8, `bad duration "7y"`},
		{`host in ws1`, 9, `expected '(' after in`},
		{`host in (a b)`, 12, `expected ',' or ')'`},
		{`host in ()`, 10, `expected a value after =`},
		{`| since`, 8, `expected a duration`},
		{`| since 7`, 9, `bad duration "7"`},
		{`| since 0d`, 9, `longer than zero`},
		{`| since 99999999w`, 9, `longer than 100 years`},
		{`| since 99999999999999999999999d`, 9, `longer than 100 years`},
		{`| between 2026-03-02 and 2026-03-01`, 11, `the first time must be before the second`},
		{`| between 2026-03-01 2026-03-02`, 22, `expected and between the two times`},
		{`| first_seen country user`, 22, `expected by after first_seen FIELD`},
		{`| first_seen ip by user`, 14, `ip stands for two fields`},
		{`| count by ip`, 12, `ip stands for two fields`},
		{`| limit 0`, 9, `limit takes a whole number from 1 to 10000`},
		{`| limit 10001`, 9, `limit takes a whole number from 1 to 10000`},
		{`| limit ten`, 9, `limit takes a whole number`},
		{`| frobnicate`, 3, `unknown stage "frobnicate"`},
		{`| limit 5 | where x`, 13, `where must come before limit`},
		{`| fields host | sort time`, 17, `sort must come before fields`},
		{`| limit 5 | limit 6`, 13, `only one limit stage`},
		{`| count | sort time`, 11, `count and sort do not go together`},
		{`| count | fields host`, 11, `count and fields do not go together`},
		{`| where`, 8, `expected an expression after where`},
		{`a | `, 5, `expected a stage`},
		{`a user = `, 10, `expected a value after =`},
		{`| sort ip`, 8, `ip stands for two fields`},
		{`| sort time | limit 5 x`, 23, `expected | or the end of the query`},
		{strings.Repeat("(", 33) + "a" + strings.Repeat(")", 33), 33, `nests deeper than 32`},
		{strings.Repeat("not ", 33) + "a", 129, `nests deeper than 32`},
		{"host in (" + strings.Repeat("a, ", 64) + "b)", 9 + 64*3 + 1, `more than 64 values`},
		{strings.Repeat("a ", 2049), 4097, `at most 4096 are allowed`},
		{strings.Repeat("cmd=1 ", 300), 1, `written out in full`},
	}
	for _, c := range cases {
		t.Run(c.in[:min(len(c.in), 40)], func(t *testing.T) {
			q, err := Parse(c.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", c.in, q)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", c.in, err, err)
			}
			if se.Pos+1 != c.col || !strings.Contains(se.Msg, c.want) {
				t.Fatalf("Parse(%q) = %v; want column %d and a message holding %q", c.in, err, c.col, c.want)
			}
			if prefix := "query: at column "; !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("error text %q does not start with %q", err, prefix)
			}
		})
	}
}

func TestParseLimitsAreInclusive(t *testing.T) {
	ok := []string{
		strings.Repeat("(", 32) + "a" + strings.Repeat(")", 32),
		strings.Repeat("not ", 32) + "a",
		"host in (" + strings.Repeat("a, ", 63) + "b)",
		strings.Repeat("x", 4096),
		strings.Repeat("a ", 683), // 4093 bytes written out with and
		`| limit 10000`,
		`| since 5214w`,
		`cmd ~ "` + strings.Repeat(`a{1000}`, 9) + `"`,
	}
	for _, s := range ok {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q...) = %v, want it accepted", s[:min(len(s), 30)], err)
		}
	}
}

func TestSyntaxErrorText(t *testing.T) {
	err := (&SyntaxError{Pos: 4, Msg: "oops"}).Error()
	if err != "query: at column 5: oops" {
		t.Fatalf("Error() = %q", err)
	}
}

func TestFieldsDocumented(t *testing.T) {
	docs := Fields()
	if len(docs) < 80 {
		t.Fatalf("Fields() lists %d fields; the language has more", len(docs))
	}
	seen := map[string]bool{}
	for _, d := range docs {
		if d.Doc == "" {
			t.Errorf("field %s has no description", d.Name)
		}
		if seen[d.Name] {
			t.Errorf("field %s listed twice", d.Name)
		}
		seen[d.Name] = true
		name := strings.Replace(d.Name, "<name>", "x", 1)
		q, err := Parse(name + ` = "1"`)
		if d.Name == "time" {
			q, err = Parse(name + ` > 2026-01-01`)
		}
		if err != nil {
			t.Errorf("field %s does not parse: %v", d.Name, err)
			continue
		}
		if d.Alias != "" {
			qa, err := Parse(d.Alias + ` = "1"`)
			if err != nil || qa.String() != q.String() {
				t.Errorf("alias %s of %s: %v, %q vs %q", d.Alias, d.Name, err, qa, q)
			}
		}
	}
	for alias := range aliases {
		found := false
		for _, d := range docs {
			found = found || d.Alias == alias
		}
		if !found {
			t.Errorf("alias %s is not documented", alias)
		}
	}
}

// TestDocExamplesParse keeps the tour in the package documentation true.
func TestDocExamplesParse(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, tour, _ := strings.Cut(string(src), "// # A tour")
	tour, _, _ = strings.Cut(tour, "// A query is")
	n := 0
	for _, line := range strings.Split(tour, "\n") {
		ex, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			continue
		}
		n++
		if _, err := Parse(ex); err != nil {
			t.Errorf("documented example %q: %v", ex, err)
		}
	}
	if n < 4 {
		t.Fatalf("found %d examples in the tour", n)
	}
}
