package intel

import (
	"errors"
	"strings"
	"testing"
)

// specPatterns are the examples of the STIX 2.1 patterning specification (as collected by the
// OASIS pattern validator) and the validator's own passing cases.
var specPatterns = []string{
	`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`,
	`[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`,
	`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:mime_type = 'application/x-pdf']`,
	`[file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`,
	`([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS`,
	`[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1009' AND user-account:account_login = 'Mary']`,
	`[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00']`,
	`[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\Windows\\System32']`,
	`[file:extensions.windows-pebinary-ext.sections[*].entropy > 7.0]`,
	`[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8']`,
	`[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']`,
	`[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS`,
	`[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']`,
	`[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']`,
	`[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28']`,
	`[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' OR windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\Microsoft\\CurrentVersion\\Run\\CryptoLocker_0388']`,
	`[(file:name = 'pdf.exe' OR file:size = '371712') AND file:created = t'2014-01-13T07:03:17Z']`,
	`[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']`,
	`[x-usb-device:usbdrive.serial_number = '575833314133343231313937']`,
	`[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES'^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS`,
	`[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']`,
	`([file:name = 'foo.dll'] AND [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:name = 'fooproc' OR process:name = 'procfoo']`,
	`[file:size = 1280]`,
	`[file:size != 1280]`,
	`[file:size < 1024]`,
	`[file:size <= 1024]`,
	`[file:size > 1024]`,
	`[file:size >= 1024]`,
	`[file:file_name = 'my_file_name']`,
	`[file:extended_properties.'ntfs-ext'.sid = '234']`,
	`[ipv4addr:value NOT ISSUBSET '192.168.0.1/24']`,
	`[user-account:value = 'Peter'] AND [user-account:value != 'Paul'] AND [user-account:value = 'Mary'] WITHIN 5 SECONDS`,
	`[file:file_system_properties.file_name LIKE 'name%']`,
	`[file:file_name IN ('test.txt', 'test2.exe', 'README')]`,
	`[file:size IN (1024, 2048, 4096)]`,
	`[network-connection:extended_properties[0].source_payload MATCHES 'dGVzdHRlc3R0ZXN0']`,
	`[x_whatever:detected == t'2018-03-22T12:11:14.1Z']`,
	`[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']`,
	`[foo:bar=1] REPEATS 9 TIMES`,
	`( [(network-traffic:dst_port IN(443,6443,8443) AND network-traffic:src_packets != 0) ])`,
	`([win-registry-key:key = 'hkey_local_machine\\\\foo\\\\bar']) WITHIN 5 SECONDS WITHIN 6 SECONDS`,
	`[network-traffic:src_port = 37020 AND user-account:user_id = 'root'] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z' OR [ipv4-addr:value = '192.168.122.83'] START t'2016-06-01T03:55:00.123Z' STOP t'2016-06-01T04:30:24.743Z'`,
	`[ipv4-addr:value = '198.51.100.1'] START '2016-06-01T00:00:00Z' STOP '2016-07-01T00:00:00Z'`,
	`[EXISTS windows-registry-key:values]`,
	`/* comment */ [domain-name:value = 'example.com'] // trailing`,
	"[domain-name:value\u00a0=\u2003'example.com']",
}

func TestParsePatternSpecExamples(t *testing.T) {
	for _, s := range specPatterns {
		t.Run(s, func(t *testing.T) {
			p, err := ParsePattern(s)
			if err != nil {
				t.Fatalf("ParsePattern: %v", err)
			}
			canon := p.String()
			q, err := ParsePattern(canon)
			if err != nil {
				t.Fatalf("canonical form %q does not parse: %v", canon, err)
			}
			if q.String() != canon {
				t.Errorf("canonical form is not stable:\n%s\n%s", canon, q.String())
			}
			if len(p.Comparisons()) == 0 {
				t.Error("no comparisons")
			}
		})
	}
}

func TestParsePatternCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[ipv4-addr:value='1.2.3.4']`, `[ipv4-addr:value = '1.2.3.4']`},
		{`[a:b == 1]`, `[a:b = 1]`},
		{`[a:b <> 1]`, `[a:b != 1]`},
		{`[(a:b = 1 OR a:c = 2) AND a:d = 3]`, `[(a:b = 1 OR a:c = 2) AND a:d = 3]`},
		{`[a:b = 1 OR (a:c = 2 AND a:d = 3)]`, `[a:b = 1 OR a:c = 2 AND a:d = 3]`},
		{`[a:b = 1 OR (a:c = 2 OR a:d = 3)]`, `[a:b = 1 OR a:c = 2 OR a:d = 3]`},
		{`([a:b = 1] OR [a:c = 2]) AND [a:d = 3]`, `([a:b = 1] OR [a:c = 2]) AND [a:d = 3]`},
		{`([a:b = 1] AND [a:c = 2]) OR [a:d = 3]`, `[a:b = 1] AND [a:c = 2] OR [a:d = 3]`},
		{`([a:b = 1] OR [a:c = 2]) WITHIN 5 SECONDS OR [a:d = 3]`, `([a:b = 1] OR [a:c = 2]) WITHIN 5 SECONDS OR [a:d = 3]`},
		{`[a:'b'.'c d'.e[*][-1] = 'x']`, `[a:b.'c d'.e[*][-1] = 'x']`},
		{`[a:b = 'it\'s \\ here']`, `[a:b = 'it\'s \\ here']`},
		{`[a:b = '\d+']`, `[a:b = '\\d+']`},
		{`[a:b NOT IN ()]`, `[a:b NOT IN ()]`},
		{`[a:b = +5]`, `[a:b = 5]`},
		{`[a:b = -.5]`, `[a:b = -.5]`},
		{`[a:b = true]`, `[a:b = true]`},
	}
	for _, tt := range tests {
		p, err := ParsePattern(tt.in)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", tt.in, err)
			continue
		}
		if got := p.String(); got != tt.want {
			t.Errorf("ParsePattern(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParsePatternErrors(t *testing.T) {
	tests := []struct{ in, reason string }{
		{``, "expected '[' or '('"},
		{`file:size = 1280`, "expected '[' or '('"},
		{`[file:size = ]`, "expected a literal"},
		{`[file:hashes.MD5 = cead3f77f6cda6ec00f57d76c9a6879f]`, "expected a literal"},
		{`[file.size = 1280]`, "expected ':'"},
		{`[file:name MATCHES /.*\\.dll/]`, "unexpected character"},
		{`[win-registry-key:key = 'x'] WITHIN ]`, "positive number of seconds"},
		{`[win-registry-key:key = 'x'] WITHIN 5 HOURS`, "expected SECONDS"},
		{`[win-registry-key:key = 'x'] WITHIN -5 SECONDS`, "positive number of seconds"},
		{`[network-traffic:dst_ref.value ISSUBSET ]`, "expected a string after ISSUBSET"},
		{`[file:hashes.MD5 =? 'cead3f77f6cda6ec00f57d76c9a6879f']`, "unexpected character '?'"},
		{`[x_whatever:detected == t'2457-73-22T32:81:84.1Z']`, "invalid timestamp"},
		{`[artifact:payload_bin = b'====']`, "invalid binary literal"},
		{`[a:b = h'abc']`, "invalid hex literal"},
		{`[foo:bar=1] within 2 seconds`, "unexpected 'within'"},
		{`[file:hashes.'SHA-256' = 'f00']`, "not a valid sha256"},
		{`[ipv4-addr:value = '198.51.100.300']`, "not a valid ipv4-addr"},
		{`[ipv4-addr:value ISSUBSET 'example.com']`, "not an address range"},
		// The other family (found by FuzzPattern: '::' was indexed as a term the pattern
		// could not match).
		{`[ipv4-addr:value ISSUBSET '::']`, "not a valid ipv4-addr range"},
		{`[ipv6-addr:value ISSUBSET '10.0.0.0/8']`, "not a valid ipv6-addr range"},
		{`[ipv4-addr:value ISSUPERSET '2001:db8::1']`, "not a valid ipv4-addr range"},
		{`[url:value MATCHES '(?<=x)y']`, "regular expression not supported"},
		{`[a:b = 'unterminated]`, "unterminated string"},
		{`[a:b = 1] /* open comment`, "unterminated comment"},
		{`[a:b = 1`, "expected ']'"},
		{`[a:b = 1]]`, "unexpected ']'"},
		{`[a:b = 1] AND`, "expected '[' or '('"},
		{`[a:b > true]`, "boolean cannot be ordered"},
		{`[a:b IN ('x' 'y')]`, "expected ',' or ')'"},
		{`[a:b[x] = 1]`, "expected an index"},
		{`[a:b = 1] REPEATS 1.5 TIMES`, "positive integer after REPEATS"},
		{`[a:b = 1] START 5 STOP 6`, "timestamp after START"},
		{`[a:b = 1.]`, "invalid number"},
		{strings.Repeat("(", 200) + "[a:b = 1]" + strings.Repeat(")", 200), "nested more than"},
		{"[" + strings.Repeat("(", 200) + "a:b = 1" + strings.Repeat(")", 200) + "]", "nested more than"},
	}
	for _, tt := range tests {
		_, err := ParsePattern(tt.in)
		if err == nil {
			t.Errorf("ParsePattern(%q) succeeded, want an error with %q", tt.in, tt.reason)
			continue
		}
		var pe *PatternError
		if !errors.As(err, &pe) || !errors.Is(err, ErrPattern) {
			t.Errorf("ParsePattern(%q) error %v is not a *PatternError wrapping ErrPattern", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("ParsePattern(%q) error %q does not say %q", tt.in, err, tt.reason)
		}
	}
}

func TestPatternQualifiers(t *testing.T) {
	p, err := ParsePattern(`[network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"REPEATS 5 TIMES", "WITHIN 1800 SECONDS", "START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'"}
	if got := p.Qualifiers(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Qualifiers() = %q, want %q", got, want)
	}
	// Qualifiers do not stop a single value from matching.
	if full, _ := p.Match("example.com"); !full {
		t.Error("qualified pattern does not match its value")
	}
}

func TestPatternMatch(t *testing.T) {
	const (
		none    = 0
		full    = 1
		partial = 2
	)
	tests := []struct {
		pattern string
		value   string
		want    int
	}{
		// Exact comparisons of every indexed object path.
		{`[ipv4-addr:value = '198.51.100.3']`, "198.51.100.3", full},
		{`[ipv4-addr:value = '198.51.100.3']`, "198.51.100.4", none},
		{`[ipv4-addr:value = '198.51.100.3']`, "::ffff:198.51.100.3", full},
		{`[ipv4-addr:value = '198.51.100.3/32']`, "198.51.100.3", full},
		{`[ipv4-addr:value = '198.51.100.0/24']`, "198.51.100.250", full},
		{`[ipv4-addr:value = '198.51.100.0/24']`, "198.51.101.1", none},
		{`[ipv6-addr:value = '2001:0DB8::1']`, "2001:db8:0:0::1", full},
		{`[ipv6-addr:value = '2001:db8::/32']`, "2001:db8:ffff::1", full},
		{`[domain-name:value = 'Example.COM.']`, "example.com", full},
		{`[domain-name:value = 'example.com']`, "www.example.com", none},
		{`[url:value = 'HTTP://Example.com:80/a%2db?x=1']`, "http://example.com/a-b?x=1", full},
		{`[url:value = 'http://example.com/a']`, "http://example.com/b", none},
		{`[email-addr:value = 'Jdoe@Example.com']`, "jdoe@example.com", full},
		{`[email-message:from_ref.value = 'jdoe@example.com']`, "JDOE@example.com", full},
		{`[email-message:to_refs[*].value = 'victim@example.com']`, "victim@example.com", full},
		{`[file:hashes.'SHA-256' = 'AEC070645FE53EE3B3763059376134F058CC337247C978ADD178B6CCDFB0019F']`, "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", full},
		{`[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']`, "CEAD3F77F6CDA6EC00F57D76C9A6879F", full},
		{`[file:hashes.'SHA-1' = '2fd4e1c67a2d28fced849ee1bb76e7391b93eb12']`, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", full},
		{`[file:hashes.SHA1 = '2fd4e1c67a2d28fced849ee1bb76e7391b93eb12']`, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", full},
		{`[artifact:hashes.'SHA-512' = '` + strings.Repeat("ab", 64) + `']`, strings.Repeat("AB", 64), full},
		{`[network-traffic:dst_ref.value = '203.0.113.33']`, "203.0.113.33", full},
		{`[network-traffic:src_ref.value = 'evil.example']`, "evil.example", full},
		{`[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']`, "203.0.113.33", full},
		{`[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = '203.0.113.33/32']`, "203.0.113.33", none},
		// OR and AND inside an observation.
		{`[ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '192.0.2.2']`, "192.0.2.2", full},
		{`[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f' AND file:mime_type = 'application/pdf']`, "cead3f77f6cda6ec00f57d76c9a6879f", partial},
		{`[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f' AND file:hashes.MD5 != 'cead3f77f6cda6ec00f57d76c9a6879f']`, "cead3f77f6cda6ec00f57d76c9a6879f", none},
		{`[domain-name:value = 'a.example' OR process:name = 'x.exe']`, "a.example", full},
		{`[domain-name:value = 'a.example' OR process:name = 'x.exe']`, "b.example", none},
		// Observation operators.
		{`[ipv4-addr:value = '198.51.100.77'] AND [domain-name:value = 'beacon.example']`, "198.51.100.77", partial},
		{`[ipv4-addr:value = '198.51.100.77'] AND [domain-name:value = 'beacon.example']`, "beacon.example", partial},
		{`[ipv4-addr:value = '198.51.100.77'] OR [domain-name:value = 'beacon.example']`, "beacon.example", full},
		{`[ipv4-addr:value = '198.51.100.77'] FOLLOWEDBY [domain-name:value = 'beacon.example']`, "beacon.example", partial},
		{`([ipv4-addr:value = '198.51.100.77'] AND [ipv4-addr:value = '198.51.100.78']) OR [process:name = 'a']`, "198.51.100.77", none},
		// IN.
		{`[domain-name:value IN ('c2-alpha.example', 'C2-Beta.example')]`, "c2-beta.example", full},
		{`[domain-name:value IN ('c2-alpha.example', 'c2-beta.example')]`, "c2-gamma.example", none},
		{`[domain-name:value NOT IN ('c2-alpha.example')]`, "c2-gamma.example", full},
		{`[ipv4-addr:value IN ('10.0.0.0/8', '192.0.2.1')]`, "10.1.2.3", full},
		// LIKE and MATCHES.
		{`[domain-name:value LIKE '%.dyn-dns.example']`, "host1.DYN-DNS.example", full},
		{`[domain-name:value LIKE '%.dyn-dns.example']`, "dyn-dns.example", none},
		{`[domain-name:value LIKE 'c2-_.example']`, "c2-7.example", full},
		{`[domain-name:value LIKE 'c2-_.example']`, "c2-77.example", none},
		{`[url:value LIKE 'http://%/gate.php']`, "http://x.example/gate.php", full},
		{`[url:value MATCHES '^https?://[^/]+/wp-content/uploads/[a-z0-9]{8}\\.php$']`, "https://blog.example/wp-content/uploads/ab12cd34.php", full},
		{`[url:value MATCHES '^https?://[^/]+/wp-content/uploads/[a-z0-9]{8}\\.php$']`, "https://blog.example/wp-content/uploads/ab12cd34.phpx", none},
		{`[email-addr:value MATCHES '@phish\\.example$']`, "a@phish.example", full},
		{`[domain-name:value NOT LIKE '%.example']`, "evil.test", full},
		// ISSUBSET, ISSUPERSET, CIDR.
		{`[ipv4-addr:value ISSUBSET '192.0.2.128/25']`, "192.0.2.200", full},
		{`[ipv4-addr:value ISSUBSET '192.0.2.128/25']`, "192.0.2.1", none},
		{`[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']`, "192.0.2.1", full},
		{`[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']`, "10.9.9.9", none},
		{`[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']`, "2001:db8:dead:beef::42", full},
		{`[ipv4-addr:value ISSUPERSET '192.0.2.1']`, "192.0.2.1", full},
		{`[ipv4-addr:value ISSUBSET '100.64.0.0/10' AND ipv4-addr:value != '100.64.0.1']`, "100.64.5.5", full},
		{`[ipv4-addr:value ISSUBSET '100.64.0.0/10' AND ipv4-addr:value != '100.64.0.1']`, "100.64.0.1", none},
		// Order operators, EXISTS.
		{`[domain-name:value > 'm']`, "zeta.example", full},
		{`[domain-name:value <= 'm']`, "zeta.example", none},
		{`[EXISTS domain-name:value]`, "anything.example", full},
		// Paths the store cannot see: never a match on their own.
		{`[process:name = 'mimikatz.exe']`, "mimikatz.exe", none},
		{`[file:name = 'evil.example']`, "evil.example", none},
		// Type mismatches.
		{`[ipv4-addr:value = '198.51.100.3']`, "198-51-100-3.example", none},
		{`[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']`, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", none},
		{`[domain-name:value = 'a.example']`, "not a value", none},
	}
	for _, tt := range tests {
		p, err := ParsePattern(tt.pattern)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", tt.pattern, err)
			continue
		}
		f, pa := p.Match(tt.value)
		got := none
		switch {
		case f && pa:
			t.Errorf("%s on %q: both full and partial", tt.pattern, tt.value)
		case f:
			got = full
		case pa:
			got = partial
		}
		if got != tt.want {
			t.Errorf("%s on %q: got %d, want %d (0 none, 1 full, 2 partial)", tt.pattern, tt.value, got, tt.want)
		}
	}
}

func TestLike(t *testing.T) {
	tests := []struct {
		s, p string
		want bool
	}{
		{"", "", true},
		{"", "%", true},
		{"a", "", false},
		{"abc", "a%c", true},
		{"abc", "a_c", true},
		{"abbc", "a_c", false},
		{"ab", "%%b", true},
		{"ab", "%a%b%", true},
		{"héllo", "h_llo", true},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "%a%a%a%a%a%c", false},
	}
	for _, tt := range tests {
		if got := like(tt.s, tt.p); got != tt.want {
			t.Errorf("like(%q, %q) = %v, want %v", tt.s, tt.p, got, tt.want)
		}
	}
}
