package intel

import (
	"errors"
	"testing"
)

func TestDetectValue(t *testing.T) {
	tests := []struct {
		in   string
		typ  Type
		text string
	}{
		{"198.51.100.3", TypeIPv4, "198.51.100.3"},
		{" 198.51.100.3 ", TypeIPv4, "198.51.100.3"},
		{"198.51.100.3:443", TypeIPv4, "198.51.100.3"},
		{"::ffff:198.51.100.3", TypeIPv4, "198.51.100.3"},
		{"2001:0DB8:0000:0000:0000:0000:0000:0001", TypeIPv6, "2001:db8::1"},
		{"[2001:db8::1]:8443", TypeIPv6, "2001:db8::1"},
		{"[2001:db8::1]", TypeIPv6, "2001:db8::1"},
		{"fe80::1%eth0", TypeIPv6, "fe80::1"},
		{"198.51.100.77/24", TypeIPv4, "198.51.100.0/24"},
		{"198.51.100.7/32", TypeIPv4, "198.51.100.7"},
		{"2001:db8::/32", TypeIPv6, "2001:db8::/32"},
		{"Example.COM.", TypeDomain, "example.com"},
		{"*.Example.com", TypeDomain, "example.com"},
		{"xn--bcher-kva.example", TypeDomain, "xn--bcher-kva.example"},
		{"BÜCHER.example", TypeDomain, "bücher.example"},
		{"HTTP://Example.COM", TypeURL, "http://example.com/"},
		{"https://example.com:443/a/../b?q=%7e#frag", TypeURL, "https://example.com/a/../b?q=~"},
		{"http://example.com:8080/%7Euser/%2f", TypeURL, "http://example.com:8080/~user/%2F"},
		{"http://user@EXAMPLE.com/", TypeURL, "http://user@example.com/"},
		{"http://[2001:DB8::1]:80/x", TypeURL, "http://[2001:db8::1]/x"},
		{"example.com/path/file.exe", TypeURL, "http://example.com/path/file.exe"},
		{"John.Doe@Example.COM", TypeEmail, "john.doe@example.com"},
		{"CEAD3F77F6CDA6EC00F57D76C9A6879F", TypeMD5, "cead3f77f6cda6ec00f57d76c9a6879f"},
		{"2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", TypeSHA1, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
		{"aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", TypeSHA256, "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"},
	}
	for _, tt := range tests {
		v, err := detectValue(tt.in)
		if err != nil {
			t.Errorf("detectValue(%q): %v", tt.in, err)
			continue
		}
		if v.typ != tt.typ || v.text != tt.text {
			t.Errorf("detectValue(%q) = %s %q, want %s %q", tt.in, v.typ, v.text, tt.typ, tt.text)
		}
	}
	for _, bad := range []string{"", "localhost", "not a value", "a..b.example", "http://", "x@", "@x.example", "http://exa mple.com/", "1.2.3.4/33", "\xe3\xe3.example", "aaaa.."} {
		if v, err := detectValue(bad); err == nil {
			t.Errorf("detectValue(%q) = %s %q, want an error", bad, v.typ, v.text)
		}
	}
}

func TestParseValueTyped(t *testing.T) {
	if _, err := parseValue(TypeIPv4, "2001:db8::1"); err == nil {
		t.Error("an IPv6 address parsed as ipv4-addr")
	}
	if _, err := parseValue(TypeMD5, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"); err == nil {
		t.Error("a SHA-1 parsed as md5")
	}
	if v, err := parseValue(TypeDomain, "localhost"); err != nil || v.text != "localhost" {
		t.Errorf("a single-label domain of a typed feed: %v %q", err, v.text)
	}
	if _, err := parseValue("bogus", "x"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("unknown type: %v", err)
	}
}

func TestRefang(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hxxp://evil[.]example/a", "http://evil.example/a"},
		{"HXXPS://evil(.)example", "https://evil.example"},
		{"fxp://files[.]example", "ftp://files.example"},
		{"user[@]evil[dot]example", "user@evil.example"},
		{"198[.]51[.]100[.]3", "198.51.100.3"},
		{"http://plain.example/", "http://plain.example/"},
		{"hxx", "hxx"},
	}
	for _, tt := range tests {
		if got := refang(tt.in); got != tt.want {
			t.Errorf("refang(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2024-05-31T10:00:00Z", "2024-05-31T10:00:00Z"},
		{"2024-05-01T00:00:00.000000+02:00", "2024-04-30T22:00:00Z"},
		{"2024-05-31 10:00:00", "2024-05-31T10:00:00Z"},
		{"2024-05-31 10:00:00 UTC", "2024-05-31T10:00:00Z"},
		{"2024-05-31", "2024-05-31T00:00:00Z"},
		{"20240531", "2024-05-31T00:00:00Z"},
		{"1716200000", "2024-05-20T10:13:20Z"},
		{"1716200000000", "2024-05-20T10:13:20Z"},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in)
		if err != nil {
			t.Errorf("parseTime(%q): %v", tt.in, err)
			continue
		}
		if s := got.UTC().Format("2006-01-02T15:04:05Z07:00"); s != tt.want {
			t.Errorf("parseTime(%q) = %s, want %s", tt.in, s, tt.want)
		}
	}
	if _, err := parseTime("last tuesday"); !errors.Is(err, ErrMalformed) {
		t.Errorf("parseTime(garbage) = %v, want ErrMalformed", err)
	}
	if tm, err := parseTime(""); err != nil || !tm.IsZero() {
		t.Errorf("parseTime(\"\") = %v, %v", tm, err)
	}
}

func TestParseConfidence(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{{"85", 85, true}, {"0.85", 85, true}, {"100", 100, true}, {"75%", 75, true}, {"", 0, true}, {"250", 0, false}, {"-1", 0, false}, {"high", 0, false}}
	for _, tt := range tests {
		got, err := parseConfidence(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseConfidence(%q) = %d, %v", tt.in, got, err)
		}
	}
}
