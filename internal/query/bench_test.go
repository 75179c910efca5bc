package query

import "testing"

// BenchmarkMatch measures the predicate Run hands the store, on an event that passes it.
func BenchmarkMatch(b *testing.B) {
	for _, src := range []string{
		`class = authentication status = success user = alice`,
		`process = "power*" cmd ~ "-enc(odedcommand)? " not host in (ws9, ws10)`,
		`src_ip = 10.0.0.0/8 dst_endpoint.port >= 443`,
		`"enc x"`,
	} {
		b.Run(src, func(b *testing.B) {
			q, err := Parse(src)
			if err != nil {
				b.Fatal(err)
			}
			p := q.plan(now)
			ev := fullEvent()
			if !p.match(&ev) {
				b.Fatalf("%s does not match the benchmark event", src)
			}
			b.ReportAllocs()
			for b.Loop() {
				p.match(&ev)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	const src = `class = authentication user = alice not src_ip = 10.0.0.0/8 | since 7d | first_seen country by user | limit 20`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}
