package cef_test

import (
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/cef"
	"github.com/vigil-soc/vigil/internal/syslog"
)

// CEF behind a syslog header: the header goes to package syslog, the record stays here.
func ExampleParse() {
	line := `<134>Mar  5 10:15:22 dsm01 CEF:0|Trend Micro|Deep Security Agent|20.0.0.8438|4000000|Eicar_test_file|6|cn1=1 cn1Label=Host ID dvchost=ws-0042 filePath=C:\\Temp\\Eicar.exe act=Delete rt=1709633722000`
	ev, err := cef.Parse([]byte(line))
	if err != nil {
		fmt.Println(err)
		return
	}
	p := syslog.Parser{Reference: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)}
	hdr, err := p.ParseString(ev.Prefix)
	if err != nil {
		fmt.Println(err)
		return
	}
	rt, _ := ev.Time("rt", nil)
	fmt.Println(hdr.Hostname, hdr.Priority)
	fmt.Println(ev.DeviceProduct, ev.SignatureID, ev.Name, ev.Severity, ev.Level())
	fmt.Println(ev.Ext["filePath"], ev.Labeled()["Host ID"], rt.Format(time.RFC3339))
	// Output:
	// dsm01 local0.info
	// Deep Security Agent 4000000 Eicar_test_file 6 Medium
	// C:\Temp\Eicar.exe 1 2024-03-05T10:15:22Z
}

func ExampleParseLEEF() {
	ev, err := cef.ParseLEEF([]byte("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=192.0.2.1^dst=172.50.123.1^sev=5"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Vendor, ev.EventID, ev.Attr["src"], ev.Attr["sev"])
	// Output: Lancope 41 192.0.2.1 5
}
