package sigma

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// evilAdminEngine compiles the one rule the shape tests match: evil.exe run as admin.
func evilAdminEngine(t *testing.T) *Engine {
	t.Helper()
	eng, err := compileOne(t, `
sel:
    Image|endswith: '\evil.exe'
    User: admin
condition: sel
`, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// TestMatcherShapes matches records of several shapes, interleaved and coming back, with
// stable names (the same strings every time, as a parser's interned names), stable names
// that are equal copies (shapes are found by where stable names are: a copy is another
// shape), and reused (unstable) name memory: the field links kept per shape must give the
// same matches and Field values as a fresh Matcher, whose links are all new.
func TestMatcherShapes(t *testing.T) {
	eng := evilAdminEngine(t)
	imageID, userID := eng.FieldID("Image"), eng.FieldID("User")
	type rec struct {
		kv   []string
		want bool
	}
	recs := []rec{
		{[]string{"Image", `c:\evil.exe`, "User", "admin"}, true},
		{[]string{"User", "admin", "Other", "x", "Image", `c:\evil.exe`}, true},
		{[]string{"Image", `c:\good.exe`, "User", "admin"}, false},
		{[]string{"Image", `c:\a.exe`, "Image", `c:\evil.exe`, "User", "ADMIN"}, true},
		{[]string{"User", "admin", "Other", "x", "Image", `c:\good.exe`}, false},
		{[]string{"Image", `c:\evil.exe`, "Usr", "admin"}, false},
		{[]string{"Image", `c:\evil.exe`, "User", "admin"}, true},
		// Same number, lengths and end bytes of names as the record before it.
		{[]string{"Image", `c:\evil.exe`, "Uxer", "admin"}, false},
	}
	for _, mode := range []string{"stable", "stable copies", "unstable"} {
		m := eng.NewMatcher()
		var r Record
		names := make([]byte, 0, 64) // reused name memory, like a parser's buffer
		for round := range 3 {
			for i, tc := range recs {
				r.Reset()
				names = names[:0]
				for j := 0; j+1 < len(tc.kv); j += 2 {
					switch mode {
					case "stable":
						r.AddStable(tc.kv[j], tc.kv[j+1])
						continue
					case "stable copies":
						r.AddStable(strings.Clone(tc.kv[j]), tc.kv[j+1])
						continue
					}
					start := len(names)
					names = append(names, tc.kv[j]...)
					r.Add(bytesString(names[start:len(names):len(names)]), tc.kv[j+1])
				}
				name := fmt.Sprintf("%s: round %d record %d", mode, round, i)
				if got := len(m.Match(&r)) > 0; got != tc.want {
					t.Errorf("%s: match %v, want %v", name, got, tc.want)
				}
				fresh := eng.NewMatcher()
				fresh.Match(&r)
				for _, id := range []int32{imageID, userID} {
					v, ok := m.Field(id)
					fv, fok := fresh.Field(id)
					if v != fv || ok != fok {
						t.Errorf("%s: Field(%d) = %q %v, fresh Matcher %q %v", name, id, v, ok, fv, fok)
					}
				}
				// Scribble over the reused name memory: the Matcher must have kept copies.
				for j := range names {
					names[j] = '#'
				}
			}
		}
	}
}

// padNames returns n distinct field names, each the name of its own record shape.
func padNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("Pad%d", i)
	}
	return names
}

// TestMatcherManyShapes cycles through more record shapes than a Matcher keeps, so that
// shapes collide, move to their second place and are evicted: every record must still match
// like on a fresh Matcher.
func TestMatcherManyShapes(t *testing.T) {
	eng := evilAdminEngine(t)
	imageID := eng.FieldID("Image")
	const shapes = 3 * shapeSlots
	names := padNames(shapes)
	m := eng.NewMatcher()
	var r Record
	for round := range 3 {
		for i := 0; i < shapes; i++ {
			s := (i * 7) % shapes // interleaved
			r.Reset()
			for j := 0; j < s%5; j++ {
				r.AddStable(names[(s+j)%shapes], "x")
			}
			image := `c:\good.exe`
			if (s+round)%3 == 0 {
				image = `c:\evil.exe`
			}
			r.AddStable("Image", image)
			r.AddStable(names[s], "y")
			r.AddStable("User", "admin")
			want := len(eng.NewMatcher().Match(&r)) > 0
			if got := len(m.Match(&r)) > 0; got != want || want != (image == `c:\evil.exe`) {
				t.Fatalf("round %d shape %d: match %v, fresh Matcher %v", round, s, got, want)
			}
			if v, ok := m.Field(imageID); !ok || v != image {
				t.Fatalf("round %d shape %d: Field(Image) = %q %v", round, s, v, ok)
			}
		}
	}
}

// TestMatcherKeepsShapes cycles through half as many record shapes as a Matcher has places
// for: after the first round, the shapes must be found again rather than linked anew (a shape
// moved out of its place must still be in one of its own two places).
func TestMatcherKeepsShapes(t *testing.T) {
	eng := evilAdminEngine(t)
	const shapes = shapeSlots / 2
	names := padNames(shapes)
	m := eng.NewMatcher()
	var r Record
	for round := range 4 {
		before := m.links
		for s := range shapes {
			r.Reset()
			r.AddStable("Image", `c:\evil.exe`)
			r.AddStable(names[s], "y")
			r.AddStable("User", "admin")
			if len(m.Match(&r)) != 1 {
				t.Fatalf("round %d shape %d: no match", round, s)
			}
		}
		links := m.links - before
		switch {
		case round == 0 && links != shapes:
			t.Fatalf("round 0: %d shapes linked, want %d", links, shapes)
		case round > 0 && links > shapes/16:
			t.Errorf("round %d: %d of %d shapes linked again, want at most %d", round, links, shapes, shapes/16)
		}
	}
}

// TestStableFid checks the Matcher's memory of stable names against the engine's field
// table: equal names at other addresses, names sharing a slot, and the empty name.
func TestStableFid(t *testing.T) {
	eng := evilAdminEngine(t)
	m := eng.NewMatcher()
	names := []string{"Image", "User", "", "Other", "image", "USER"}
	for i := range 4 * (1 << nameSlotBits) {
		names = append(names, fmt.Sprintf("F%d", i))
	}
	for round := range 3 {
		for _, n := range names {
			for _, s := range []string{n, strings.Clone(n)} {
				if got, want := m.stableFid(s), eng.fields.lookup(s); got != want {
					t.Fatalf("round %d: stableFid(%q) = %d, want %d", round, s, got, want)
				}
			}
		}
	}
}

// TestMatcherRoutingChanges checks that records routed to other log sources than the record
// before them get their own active rules, and records routed alike keep them: the Matcher
// keeps the active group variants while the routing stays the same (see setActive). The two
// log sources have one group variant each, so their lists are alike but for what they hold.
func TestMatcherRoutingChanges(t *testing.T) {
	// A rule per log source: the tool's image in the field that source names it by.
	toolRule := func(service, field string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(fmt.Sprintf(`title: %s tool
logsource: {product: windows, service: %s}
detection:
    sel: {%s|endswith: '\zqtool.exe'}
    condition: sel
`, service, service, field))}
	}
	fs := fstest.MapFS{
		"sysmon.yml":   toolRule("sysmon", "Image"),
		"security.yml": toolRule("security", "NewProcessName"),
	}
	rs, refusals := LoadFS(fs, ".", LoadOptions{})
	if len(refusals) > 0 || len(rs.Rules) != 2 {
		t.Fatalf("loaded %d rules, refusals %v", len(rs.Rules), refusals)
	}
	for _, prefilter := range []bool{true, false} {
		e, err := NewEngine(rs, EngineOptions{DisablePrefilter: !prefilter})
		if err != nil {
			t.Fatal(err)
		}
		m := e.NewMatcher()
		// A process creation, logged to channel as event eventID, with the tool's image in both fields.
		process := func(channel, eventID string) *Record {
			return record("Channel", channel, "EventID", eventID,
				"Image", `C:\x\zqtool.exe`, "NewProcessName", `C:\x\zqtool.exe`)
		}
		sysmon := func() *Record { return process("Microsoft-Windows-Sysmon/Operational", "1") }
		security := func() *Record { return process("Security", "4688") }
		for i, c := range []struct {
			rec  *Record
			want string
		}{
			{sysmon(), "sysmon tool"}, {security(), "security tool"}, {security(), "security tool"},
			{sysmon(), "sysmon tool"}, {sysmon(), "sysmon tool"}, {security(), "security tool"},
		} {
			ms := m.Match(c.rec)
			if len(ms) != 1 || ms[0].Rule.Title != c.want {
				var got []string
				for _, x := range ms {
					got = append(got, x.Rule.Title)
				}
				t.Fatalf("prefilter %v, record %d: matched %q, want [%q]", prefilter, i, got, c.want)
			}
		}
	}
}
