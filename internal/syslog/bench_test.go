package syslog

import (
	"bytes"
	"io"
	"testing"
)

func BenchmarkParse5424(b *testing.B) {
	line := []byte(`<165>1 2003-10-11T22:14:15.003+02:00 mymachine.example.com evntslog 1234 ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...`)
	var p Parser
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := p.Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse3164(b *testing.B) {
	line := []byte("<38>Mar  5 10:15:23 web01 sshd[2213]: Failed password for invalid user admin from 203.0.113.7 port 40022 ssh2")
	var p Parser
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := p.Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReader(b *testing.B) {
	line := "<38>Mar  5 10:15:23 web01 sshd[2213]: Failed password for invalid user admin from 203.0.113.7 port 40022 ssh2\n"
	stream := bytes.Repeat([]byte(line), 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		r := NewReader(bytes.NewReader(stream), 0)
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
