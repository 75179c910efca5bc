package syslog_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/syslog"
)

func ExampleParser_Parse() {
	p := syslog.Parser{Reference: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)}
	m, err := p.Parse([]byte("<38>Mar  5 10:15:23 web01 sshd[2213]: Failed password for root from 203.0.113.7 port 40022 ssh2"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Format, m.Priority, m.Timestamp.Format(time.RFC3339), m.Hostname, m.AppName, m.ProcID)
	fmt.Println(m.Message)
	// Output:
	// rfc3164 auth.info 2024-03-05T10:15:23Z web01 sshd 2213
	// Failed password for root from 203.0.113.7 port 40022 ssh2
}

// A TCP listener's loop: frames from the connection, each parsed, bad frames reported and skipped.
func ExampleReader() {
	stream := "<13>Mar  5 10:15:22 host app: first\n" +
		"<13>" + strings.Repeat("x", 100) + "\n" +
		"29 <13>1 - host app - - - second"
	r := syslog.NewReader(strings.NewReader(stream), 64)
	var p syslog.Parser
	for n := 1; ; n++ {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, syslog.ErrFrameTooLarge) {
			fmt.Printf("record %d: %v\n", n, err)
			continue
		}
		if err != nil {
			fmt.Printf("record %d: %v\n", n, err)
			break
		}
		m, err := p.Parse(f.Data)
		if err != nil {
			fmt.Printf("record %d at byte %d: %v\n", n, f.Offset, err)
			continue
		}
		fmt.Printf("record %d at byte %d (%v): %s\n", n, f.Offset, f.Framing, m.Message)
	}
	// Output:
	// record 1 at byte 0 (non-transparent): first
	// record 2: syslog: frame at byte 36: 104 bytes exceeds the 64-byte limit
	// record 3 at byte 141 (octet-counting): second
}
