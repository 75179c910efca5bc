package cef

import "testing"

func BenchmarkParse(b *testing.B) {
	line := []byte(`<189>Mar  5 10:15:22 FGT60E CEF:0|Fortinet|Fortigate|v7.2.5|00013|traffic:forward close|3|deviceExternalId=FGT60E4Q16000000 FTNTFGTeventtime=1709633722123456789 FTNTFGTtz=+0100 cat=traffic:forward FTNTFGTlevel=notice src=10.0.0.5 spt=51234 deviceInboundInterface=internal dst=203.0.113.10 dpt=443 deviceOutboundInterface=wan1 act=close proto=6 app=HTTPS out=1520 in=6120 cs1Label=Policy cs1=allow web out msg=session closed by peer\=client`)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseLEEF(b *testing.B) {
	line := []byte("<13>Mar  5 10:15:22 qradar01 LEEF:2.0|IBM|QRadar|7.5|Login|x09|devTime=Mar 05 2024 10:15:22\tusrName=alice\tsrc=10.0.0.9\tdst=10.0.0.1\tsrcPort=51234\tdstPort=22\tproto=tcp\tsev=5\tcat=authentication")
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := ParseLEEF(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTime(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTime("Mar 05 2024 10:15:22.123", nil); err != nil {
			b.Fatal(err)
		}
	}
}
