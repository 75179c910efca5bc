package syslog

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ref is the reference time of the test parser: BSD timestamps without a year land near it.
var ref = time.Date(2024, time.March, 10, 12, 0, 0, 0, time.UTC)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func pri(f Facility, s Severity) Priority { return Priority{Facility: f, Severity: s} }

// parseTests are real-world lines with their expected decoding. They also seed FuzzParse.
var parseTests = []struct {
	name string
	line string
	want Message
}{
	// Linux auth.log, as written to disk (no PRI) and as forwarded.
	{
		name: "auth.log sshd accepted, no PRI",
		line: "Mar  5 10:15:22 web01 sshd[2211]: Accepted publickey for deploy from 10.0.0.5 port 51234 ssh2: ED25519 SHA256:Xk3mJ1qcBzRrC0pVqN8xW2dV3o1nq0rYtqf9rGkq1aE\n",
		want: Message{Format: FormatRFC3164, Priority: DefaultPriority, Timestamp: at("2024-03-05T10:15:22Z"),
			Hostname: "web01", AppName: "sshd", ProcID: "2211",
			Message: "Accepted publickey for deploy from 10.0.0.5 port 51234 ssh2: ED25519 SHA256:Xk3mJ1qcBzRrC0pVqN8xW2dV3o1nq0rYtqf9rGkq1aE"},
	},
	{
		name: "sshd failed password",
		line: "<38>Mar  5 10:15:23 web01 sshd[2213]: Failed password for invalid user admin from 203.0.113.7 port 40022 ssh2",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityAuth, SeverityInfo), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:23Z"), Hostname: "web01", AppName: "sshd", ProcID: "2213",
			Message: "Failed password for invalid user admin from 203.0.113.7 port 40022 ssh2"},
	},
	{
		name: "sudo command",
		line: "<85>Mar  5 10:16:01 web01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityAuthPriv, SeverityNotice), HasPriority: true,
			Timestamp: at("2024-03-05T10:16:01Z"), Hostname: "web01", AppName: "sudo",
			Message: "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"},
	},
	{
		name: "cron job",
		line: "<78>Mar  5 10:17:01 web01 CRON[3312]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityCron, SeverityInfo), HasPriority: true,
			Timestamp: at("2024-03-05T10:17:01Z"), Hostname: "web01", AppName: "CRON", ProcID: "3312",
			Message: "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)"},
	},
	{
		name: "cron pam session",
		line: "<86>Mar  5 10:17:01 web01 CRON[3311]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityAuthPriv, SeverityInfo), HasPriority: true,
			Timestamp: at("2024-03-05T10:17:01Z"), Hostname: "web01", AppName: "CRON", ProcID: "3311",
			Message: "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"},
	},
	{
		name: "Debian 12 auth.log with ISO timestamp, no PRI",
		line: "2024-03-05T10:15:22.123456+01:00 web01 sshd[2211]: Disconnected from user deploy 10.0.0.5 port 51234",
		want: Message{Format: FormatRFC3164, Priority: DefaultPriority, Timestamp: at("2024-03-05T10:15:22.123456+01:00"),
			Hostname: "web01", AppName: "sshd", ProcID: "2211",
			Message: "Disconnected from user deploy 10.0.0.5 port 51234"},
	},
	{
		name: "rsyslog forward format with ISO timestamp",
		line: "<34>2024-03-05T10:15:22.123456+00:00 web01 su[881]: FAILED SU (to root) alice on pts/1",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityAuth, SeverityCrit), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22.123456Z"), Hostname: "web01", AppName: "su", ProcID: "881",
			Message: "FAILED SU (to root) alice on pts/1"},
	},
	{
		name: "day not padded",
		line: "<13>Mar 5 10:15:22 host app: x",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "host", AppName: "app", Message: "x"},
	},
	{
		name: "ISO timestamp with a space and no zone",
		line: "<13>2024-03-05 10:15:22 myapp: hello",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), AppName: "myapp", Message: "hello"},
	},
	{
		name: "systemd journal forwarded to /dev/log: no hostname",
		line: "<30>Mar  5 10:15:22 systemd[1]: Started Session 42 of User alice.",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityDaemon, SeverityInfo), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), AppName: "systemd", ProcID: "1",
			Message: "Started Session 42 of User alice."},
	},
	{
		name: "systemd-logind forwarded",
		line: "<38>Mar  5 10:15:22 systemd-logind[612]: New session 42 of user alice.",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityAuth, SeverityInfo), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), AppName: "systemd-logind", ProcID: "612",
			Message: "New session 42 of user alice."},
	},
	{
		name: "kernel UFW block",
		line: "<4>Mar  5 10:15:22 web01 kernel: [12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=203.0.113.9 DST=10.0.0.5 LEN=60 PROTO=TCP SPT=4444 DPT=22",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityKern, SeverityWarning), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "web01", AppName: "kernel",
			Message: "[12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=203.0.113.9 DST=10.0.0.5 LEN=60 PROTO=TCP SPT=4444 DPT=22"},
	},
	{
		name: "postfix tag with a slash",
		line: "<22>Mar  5 10:15:22 mail01 postfix/smtpd[1234]: connect from unknown[203.0.113.50]",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityMail, SeverityInfo), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "mail01", AppName: "postfix/smtpd", ProcID: "1234",
			Message: "connect from unknown[203.0.113.50]"},
	},
	{
		name: "IPv4 hostname, tag without pid",
		line: "<13>Mar 10 11:59:59 10.0.0.7 myapp: started",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true,
			Timestamp: at("2024-03-10T11:59:59Z"), Hostname: "10.0.0.7", AppName: "myapp", Message: "started"},
	},
	{
		name: "PRI only, tag and content",
		line: "<14>logger[99]: hello from logger",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityUser, SeverityInfo), HasPriority: true,
			AppName: "logger", ProcID: "99", Message: "hello from logger"},
	},
	{
		name: "PRI and nothing else",
		line: "<13>",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true},
	},
	{
		name: "BOM stripped from BSD content",
		line: "<13>Mar  5 10:15:22 host app: \xef\xbb\xbfhéllo",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "host", AppName: "app", Message: "héllo"},
	},

	// Cisco.
	{
		name: "Cisco ASA, year in timestamp, no hostname",
		line: "<166>Mar 05 2024 10:15:22: %ASA-6-302013: Built outbound TCP connection 12345 for outside:203.0.113.10/443 (203.0.113.10/443) to inside:10.0.0.5/51234 (198.51.100.2/51234)",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityLocal4, SeverityInfo), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), AppName: "%ASA-6-302013",
			Message: "Built outbound TCP connection 12345 for outside:203.0.113.10/443 (203.0.113.10/443) to inside:10.0.0.5/51234 (198.51.100.2/51234)"},
	},
	{
		name: "Cisco ASA with device-id hostname",
		line: `<164>Mar 05 2024 10:15:22 fw01 : %ASA-4-106023: Deny tcp src outside:203.0.113.9/4444 dst inside:10.0.0.5/22 by access-group "outside_access_in" [0x0, 0x0]`,
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityLocal4, SeverityWarning), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "fw01", AppName: "%ASA-4-106023",
			Message: `Deny tcp src outside:203.0.113.9/4444 dst inside:10.0.0.5/22 by access-group "outside_access_in" [0x0, 0x0]`},
	},
	{
		name: "Cisco IOS sequence number and unsynchronized clock",
		line: "<189>1234: *Mar  1 18:46:11.213: %SYS-5-CONFIG_I: Configured from console by vty0 (10.0.0.1)",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityLocal7, SeverityNotice), HasPriority: true,
			Timestamp: at("2024-03-01T18:46:11.213Z"), AppName: "%SYS-5-CONFIG_I",
			Message: "Configured from console by vty0 (10.0.0.1)"},
	},
	{
		name: "Cisco IOS origin hostname and UTC zone",
		line: "<187>45: router1: *Mar  1 18:46:11.213 UTC: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityLocal7, SeverityErr), HasPriority: true,
			Timestamp: at("2024-03-01T18:46:11.213Z"), Hostname: "router1", AppName: "%LINK-3-UPDOWN",
			Message: "Interface GigabitEthernet0/1, changed state to down"},
	},
	{
		name: "Cisco IOS lost sync, CET zone",
		line: "<189>000123: .Mar  9 09:15:02.004 CET: %SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: admin] [Source: 10.0.0.9] [localport: 22] at 09:15:02 CET Sat Mar 9 2024",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityLocal7, SeverityNotice), HasPriority: true,
			Timestamp: at("2024-03-09T09:15:02.004Z"), AppName: "%SEC_LOGIN-5-LOGIN_SUCCESS",
			Message: "Login Success [user: admin] [Source: 10.0.0.9] [localport: 22] at 09:15:02 CET Sat Mar 9 2024"},
	},
	{
		name: "Cisco IOS without timestamps",
		line: "<189>123: %SYS-5-CONFIG_I: Configured from console by console",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityLocal7, SeverityNotice), HasPriority: true,
			AppName: "%SYS-5-CONFIG_I", Message: "Configured from console by console"},
	},

	// F5, Palo Alto, Fortinet.
	{
		name: "F5 BIG-IP level word before tag",
		line: "<133>Mar  5 10:15:22 bigip1.example.com notice mcpd[6042]: 01070638:5: Pool /Common/web_pool member /Common/10.0.0.21:80 monitor status down.",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityLocal0, SeverityNotice), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "bigip1.example.com", AppName: "mcpd", ProcID: "6042",
			Message: "01070638:5: Pool /Common/web_pool member /Common/10.0.0.21:80 monitor status down."},
	},
	{
		name: "F5 BIG-IP tmm with rule output",
		line: "<134>Mar  5 10:15:23 bigip1 info tmm1[19152]: Rule /Common/log_http <HTTP_REQUEST>: client 203.0.113.8 GET /login",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityLocal0, SeverityInfo), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:23Z"), Hostname: "bigip1", AppName: "tmm1", ProcID: "19152",
			Message: "Rule /Common/log_http <HTTP_REQUEST>: client 203.0.113.8 GET /login"},
	},
	{
		name: "Palo Alto BSD header, CSV payload without tag",
		line: "<14>Mar  5 10:15:22 PA-VM 1,2024/03/05 10:15:22,007951000012345,TRAFFIC,end,2562,2024/03/05 10:15:22,10.0.0.5,203.0.113.10,0.0.0.0,0.0.0.0,allow-web,,,ssl,vsys1,trust,untrust",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityUser, SeverityInfo), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "PA-VM",
			Message: "1,2024/03/05 10:15:22,007951000012345,TRAFFIC,end,2562,2024/03/05 10:15:22,10.0.0.5,203.0.113.10,0.0.0.0,0.0.0.0,allow-web,,,ssl,vsys1,trust,untrust"},
	},
	{
		name: "Fortinet key=value straight after PRI",
		line: `<189>date=2024-03-05 time=10:15:22 devname="FGT60E" devid="FGT60E4Q16000000" eventtime=1709633722123456789 tz="+0100" logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" srcip=10.0.0.5 srcport=51234 dstip=203.0.113.10 dstport=443 action="close"`,
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityLocal7, SeverityNotice), HasPriority: true,
			Message: `date=2024-03-05 time=10:15:22 devname="FGT60E" devid="FGT60E4Q16000000" eventtime=1709633722123456789 tz="+0100" logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" srcip=10.0.0.5 srcport=51234 dstip=203.0.113.10 dstport=443 action="close"`},
	},
	{
		name: "Fortinet key=value behind a relay header",
		line: `<189>Mar  5 10:15:22 FGT60E date=2024-03-05 time=10:15:22 devname="FGT60E" logid="0100032001" type="event" subtype="system" level="information" user="admin" action="login" status="success"`,
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityLocal7, SeverityNotice), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "FGT60E",
			Message: `date=2024-03-05 time=10:15:22 devname="FGT60E" logid="0100032001" type="event" subtype="system" level="information" user="admin" action="login" status="success"`},
	},
	{
		name: "Fortinet behind a relay header with no hostname",
		line: `<189>Mar  5 10:15:22 date=2024-03-05 time=10:15:22 devname="FGT60E"`,
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityLocal7, SeverityNotice), HasPriority: true,
			Timestamp: at("2024-03-05T10:15:22Z"),
			Message:   `date=2024-03-05 time=10:15:22 devname="FGT60E"`},
	},

	// RFC 5424.
	{
		name: "RFC 5424 example 1: BOM, NIL structured data",
		line: "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8",
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityAuth, SeverityCrit), HasPriority: true, Version: 1,
			Timestamp: at("2003-10-11T22:14:15.003Z"), Hostname: "mymachine.example.com", AppName: "su", MsgID: "ID47",
			Message: "'su root' failed for lonvick on /dev/pts/8"},
	},
	{
		name: "RFC 5424 example 2: offset, no MSG",
		line: "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityLocal4, SeverityNotice), HasPriority: true, Version: 1,
			Timestamp: at("2003-08-24T05:14:15.000003-07:00"), Hostname: "192.0.2.1", AppName: "myproc", ProcID: "8710",
			Message: "%% It's time to make the do-nuts."},
	},
	{
		name: "RFC 5424 example 3: structured data and MSG",
		line: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ` + "\xef\xbb\xbf" + `An application event log entry...`,
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityLocal4, SeverityNotice), HasPriority: true, Version: 1,
			Timestamp: at("2003-10-11T22:14:15.003Z"), Hostname: "mymachine.example.com", AppName: "evntslog", MsgID: "ID47",
			StructuredData: []SDElement{{ID: "exampleSDID@32473", Params: []SDParam{
				{"iut", "3"}, {"eventSource", "Application"}, {"eventID", "1011"}}}},
			Message: "An application event log entry..."},
	},
	{
		name: "RFC 5424 example 4: two elements, no MSG",
		line: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityLocal4, SeverityNotice), HasPriority: true, Version: 1,
			Timestamp: at("2003-10-11T22:14:15.003Z"), Hostname: "mymachine.example.com", AppName: "evntslog", MsgID: "ID47",
			StructuredData: []SDElement{
				{ID: "exampleSDID@32473", Params: []SDParam{{"iut", "3"}, {"eventSource", "Application"}, {"eventID", "1011"}}},
				{ID: "examplePriority@32473", Params: []SDParam{{"class", "high"}}},
			}},
	},
	{
		name: "rsyslog start message",
		line: `<46>1 2024-03-05T10:15:22.123456+01:00 web01 rsyslogd - - [origin software="rsyslogd" swVersion="8.2312.0" x-pid="812" x-info="https://www.rsyslog.com"] start`,
		want: Message{Format: FormatRFC5424, Priority: pri(FacilitySyslog, SeverityInfo), HasPriority: true, Version: 1,
			Timestamp: at("2024-03-05T10:15:22.123456+01:00"), Hostname: "web01", AppName: "rsyslogd",
			StructuredData: []SDElement{{ID: "origin", Params: []SDParam{
				{"software", "rsyslogd"}, {"swVersion", "8.2312.0"}, {"x-pid", "812"}, {"x-info", "https://www.rsyslog.com"}}}},
			Message: "start"},
	},
	{
		name: "rsyslog forwarding sshd as RFC 5424",
		line: `<38>1 2024-03-05T10:15:22.5+00:00 web01 sshd 2211 - - Accepted password for alice from 10.0.0.9 port 50000 ssh2`,
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityAuth, SeverityInfo), HasPriority: true, Version: 1,
			Timestamp: at("2024-03-05T10:15:22.5Z"), Hostname: "web01", AppName: "sshd", ProcID: "2211",
			Message: "Accepted password for alice from 10.0.0.9 port 50000 ssh2"},
	},
	{
		name: "NILVALUE everywhere",
		line: "<13>1 - - - - - -",
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true, Version: 1},
	},
	{
		name: "header only, no structured data",
		line: "<13>1 2024-03-05T10:15:22Z host app - -",
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true, Version: 1,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "host", AppName: "app"},
	},
	{
		name: "nanosecond fraction and negative offset",
		line: "<13>1 2024-03-05T10:15:22.123456789-05:00 host app - - - x",
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true, Version: 1,
			Timestamp: at("2024-03-05T10:15:22.123456789-05:00"), Hostname: "host", AppName: "app", Message: "x"},
	},
	{
		name: "Juniper SRX RT_FLOW session create",
		line: `<14>1 2024-03-05T10:15:22.123+01:00 srx01 RT_FLOW - RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 source-address="10.0.0.5" source-port="51234" destination-address="203.0.113.10" destination-port="443" service-name="junos-https" nat-source-address="198.51.100.2" policy-name="trust-to-untrust" source-zone-name="trust" destination-zone-name="untrust" session-id-32="12345" username="N/A"] session created 10.0.0.5/51234->203.0.113.10/443 0x0 junos-https`,
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityUser, SeverityInfo), HasPriority: true, Version: 1,
			Timestamp: at("2024-03-05T10:15:22.123+01:00"), Hostname: "srx01", AppName: "RT_FLOW", MsgID: "RT_FLOW_SESSION_CREATE",
			StructuredData: []SDElement{{ID: "junos@2636.1.1.1.2.129", Params: []SDParam{
				{"source-address", "10.0.0.5"}, {"source-port", "51234"}, {"destination-address", "203.0.113.10"},
				{"destination-port", "443"}, {"service-name", "junos-https"}, {"nat-source-address", "198.51.100.2"},
				{"policy-name", "trust-to-untrust"}, {"source-zone-name", "trust"}, {"destination-zone-name", "untrust"},
				{"session-id-32", "12345"}, {"username", "N/A"}}}},
			Message: "session created 10.0.0.5/51234->203.0.113.10/443 0x0 junos-https"},
	},
	{
		name: "Juniper mgd commit",
		line: `<189>1 2024-03-05T10:15:22.456Z mx01 mgd 4242 UI_COMMIT [junos@2636.1.1.1.2.57 username="admin" command="commit" message="none"] User 'admin' requested 'commit' operation (comment: none)`,
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityLocal7, SeverityNotice), HasPriority: true, Version: 1,
			Timestamp: at("2024-03-05T10:15:22.456Z"), Hostname: "mx01", AppName: "mgd", ProcID: "4242", MsgID: "UI_COMMIT",
			StructuredData: []SDElement{{ID: "junos@2636.1.1.1.2.57", Params: []SDParam{
				{"username", "admin"}, {"command", "commit"}, {"message", "none"}}}},
			Message: "User 'admin' requested 'commit' operation (comment: none)"},
	},
	{
		name: "param value escapes",
		line: `<13>1 2024-03-05T10:15:22Z host app 1 ID [x@1 q="say \"hi\"" b="back\\slash" r="br\]acket" o="C:\Temp" e=""] msg`,
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true, Version: 1,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "host", AppName: "app", ProcID: "1", MsgID: "ID",
			StructuredData: []SDElement{{ID: "x@1", Params: []SDParam{
				{"q", `say "hi"`}, {"b", `back\slash`}, {"r", "br]acket"}, {"o", `C:\Temp`}, {"e", ""}}}},
			Message: "msg"},
	},
	{
		name: "element without params, unescaped bracket inside a value",
		line: `<13>1 2024-03-05T10:15:22Z host app - - [timeQuality][meta note="a]b"] x`,
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true, Version: 1,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "host", AppName: "app",
			StructuredData: []SDElement{{ID: "timeQuality"}, {ID: "meta", Params: []SDParam{{"note", "a]b"}}}},
			Message:        "x"},
	},
	{
		name: "systemd-netlogd",
		line: `<30>1 2024-03-05T10:15:22.123456+00:00 web01 systemd 1 - [meta sequenceId="17"] Started Daily apt upgrade and clean activities.`,
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityDaemon, SeverityInfo), HasPriority: true, Version: 1,
			Timestamp: at("2024-03-05T10:15:22.123456Z"), Hostname: "web01", AppName: "systemd", ProcID: "1",
			StructuredData: []SDElement{{ID: "meta", Params: []SDParam{{"sequenceId", "17"}}}},
			Message:        "Started Daily apt upgrade and clean activities."},
	},
	{
		name: "Palo Alto IETF format",
		line: `<14>1 2024-03-05T10:15:22+01:00 PA-VM - - - - 1,2024/03/05 10:15:22,007951000012345,THREAT,url,2562,2024/03/05 10:15:22,10.0.0.5,203.0.113.10`,
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityUser, SeverityInfo), HasPriority: true, Version: 1,
			Timestamp: at("2024-03-05T10:15:22+01:00"), Hostname: "PA-VM",
			Message: "1,2024/03/05 10:15:22,007951000012345,THREAT,url,2562,2024/03/05 10:15:22,10.0.0.5,203.0.113.10"},
	},
	{
		name: "CEF payload in RFC 5424, trailing CRLF",
		line: "<134>1 2024-03-05T10:15:22Z fw01 CEF - - - CEF:0|Fortinet|FortiGate|7.2|13|traffic forward|3|src=10.0.0.5\r\n",
		want: Message{Format: FormatRFC5424, Priority: pri(FacilityLocal0, SeverityInfo), HasPriority: true, Version: 1,
			Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "fw01", AppName: "CEF",
			Message: "CEF:0|Fortinet|FortiGate|7.2|13|traffic forward|3|src=10.0.0.5"},
	},
	{
		name: "BSD content that starts with 1 and a word is not RFC 5424",
		line: "<13>1 packet dropped",
		want: Message{Format: FormatRFC3164, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true,
			Message: "1 packet dropped"},
	},
}

func TestParse(t *testing.T) {
	p := Parser{Reference: ref}
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Parse([]byte(tt.line))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.line, err)
			}
			tt.want.Raw = strings.TrimRight(tt.line, "\r\n")
			checkMessage(t, got, tt.want)
		})
	}
}

func checkMessage(t *testing.T, got, want Message) {
	t.Helper()
	if !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("Timestamp = %v, want %v", got.Timestamp, want.Timestamp)
	}
	if _, off := got.Timestamp.Zone(); !got.Timestamp.IsZero() {
		if _, woff := want.Timestamp.Zone(); off != woff {
			t.Errorf("Timestamp offset = %d, want %d", off, woff)
		}
	}
	got.Timestamp, want.Timestamp = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseYearInference(t *testing.T) {
	tests := []struct {
		name string
		ref  time.Time
		line string
		want time.Time
	}{
		{"last year's December read in January", time.Date(2024, 1, 1, 0, 30, 0, 0, time.UTC),
			"Dec 31 23:59:59 host app: x", time.Date(2023, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"a little in the future is this year", time.Date(2024, 1, 1, 0, 30, 0, 0, time.UTC),
			"Jan  1 00:45:00 host app: x", time.Date(2024, 1, 1, 0, 45, 0, 0, time.UTC)},
		{"a day and more in the future is last year", time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC),
			"Mar 12 00:00:00 host app: x", time.Date(2023, 3, 12, 0, 0, 0, 0, time.UTC)},
		{"early January clock ahead of a December reference", time.Date(2023, 12, 31, 23, 30, 0, 0, time.UTC),
			"Jan  1 00:10:00 host app: x", time.Date(2024, 1, 1, 0, 10, 0, 0, time.UTC)},
		{"29 February goes to the last leap year", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
			"Feb 29 10:00:00 host app: x", time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parser{Reference: tt.ref}
			m, err := p.ParseString(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Timestamp.Equal(tt.want) {
				t.Errorf("Timestamp = %v, want %v", m.Timestamp, tt.want)
			}
		})
	}
}

func TestParseLocation(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	p := Parser{Reference: ref, Location: loc}
	m, err := p.ParseString("<13>Mar  5 10:15:22 host app: x")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 3, 5, 10, 15, 22, 0, loc); !m.Timestamp.Equal(want) {
		t.Errorf("Timestamp = %v, want %v", m.Timestamp, want)
	}
	// An explicit offset wins over Location.
	m, err = p.ParseString("<13>1 2024-03-05T10:15:22Z host app - - - x")
	if err != nil {
		t.Fatal(err)
	}
	if want := at("2024-03-05T10:15:22Z"); !m.Timestamp.Equal(want) {
		t.Errorf("Timestamp = %v, want %v", m.Timestamp, want)
	}
}

// parseErrorTests are broken lines with the error they must produce. They also seed FuzzParse.
var parseErrorTests = []struct {
	name   string
	line   string
	field  string
	offset int
	sent   error
	text   string // a part of the error message
}{
	{"priority out of range", "<192>Mar  5 10:15:22 host app: x", "priority", 1, ErrMalformed, "192 is out of range 0-191"},
	{"priority unterminated", "<13", "priority", 3, ErrMalformed, "expected '>'"},
	{"priority too long", "<0013>x", "priority", 4, ErrMalformed, "more than 3 digits"},
	{"not syslog", "hello world", "header", 0, ErrNotSyslog, "no priority and no timestamp"},
	{"empty line", "\n", "header", 0, ErrNotSyslog, "no priority"},
	{"bad month", "<13>1 2024-13-05T10:15:22Z host app - - - x", "timestamp", 11, ErrMalformed, "month out of range"},
	{"bad day", "<13>1 2024-02-30T10:15:22Z host app - - - x", "timestamp", 14, ErrMalformed, "day out of range"},
	{"junk after timestamp", "<13>1 2024-03-05T10:15:22Zx host app - - - x", "timestamp", 26, ErrMalformed, "unexpected 'x'"},
	{"date without time", "<13>1 2024-03-05 host app - - - x", "timestamp", 16, ErrMalformed, "expected 'T'"},
	{"missing app-name", "<13>1 2024-03-05T10:15:22Z host", "app-name", 31, ErrMalformed, "missing"},
	{"control character in hostname", "<13>1 - ho\x01st app - - - x", "hostname", 10, ErrMalformed, "control character"},
	{"structured data neither [ nor -", "<13>1 2024-03-05T10:15:22Z host app - - oops", "structured-data", 40, ErrMalformed, "expected '[' or '-'"},
	{"unterminated element", `<13>1 - host app - - [x@1 a="1"`, "structured-data", 21, ErrMalformed, "unterminated SD-ELEMENT"},
	{"unquoted value", `<13>1 - host app - - [x@1 a=1] x`, "structured-data", 28, ErrMalformed, "expected '\"' to open the value of \"a\""},
	{"unterminated value", `<13>1 - host app - - [x@1 a="1] x`, "structured-data", 28, ErrMalformed, "unterminated value of \"a\""},
	{"missing =", `<13>1 - host app - - [x@1 a] x`, "structured-data", 27, ErrMalformed, "expected '=' after PARAM-NAME \"a\""},
	{"no SD-ID", `<13>1 - host app - - [ a="1"] x`, "structured-data", 22, ErrMalformed, "missing SD-ID"},
	{"no space before MSG", `<13>1 - host app - - [x@1 a="1"]x`, "structured-data", 32, ErrMalformed, "expected a space before MSG"},
	{"NILVALUE structured data glued to MSG", `<13>1 - host app - - -x`, "structured-data", 22, ErrMalformed, "expected a space before MSG"},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.line))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error = %v, want a *ParseError", tt.line, err)
			}
			if pe.Field != tt.field || pe.Offset != tt.offset {
				t.Errorf("error at %s byte %d, want %s byte %d (%v)", pe.Field, pe.Offset, tt.field, tt.offset, err)
			}
			if !errors.Is(err, tt.sent) {
				t.Errorf("error %v does not wrap %v", err, tt.sent)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not say %q", err, tt.text)
			}
		})
	}
}

func TestParseLenient(t *testing.T) {
	p := Parser{Lenient: true, Reference: ref}
	tests := []struct {
		name string
		line string
		want Message
	}{
		{"plain text", "hello world\n",
			Message{Format: FormatUnknown, Priority: DefaultPriority, Message: "hello world"}},
		{"bad priority keeps the whole line", "<999>hello",
			Message{Format: FormatUnknown, Priority: DefaultPriority, Message: "<999>hello"}},
		{"broken RFC 5424 keeps its priority", "<13>1 2024-13-05T10:15:22Z host app - - - x",
			Message{Format: FormatUnknown, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true,
				Message: "1 2024-13-05T10:15:22Z host app - - - x"}},
		{"RFC 5424 without structured data", "<13>1 2024-03-05T10:15:22Z host app - ID1 oops, no SD",
			Message{Format: FormatRFC5424, Priority: pri(FacilityUser, SeverityNotice), HasPriority: true, Version: 1,
				Timestamp: at("2024-03-05T10:15:22Z"), Hostname: "host", AppName: "app", MsgID: "ID1", Message: "oops, no SD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.ParseString(tt.line)
			if err != nil {
				t.Fatalf("ParseString(%q): %v", tt.line, err)
			}
			tt.want.Raw = strings.TrimRight(tt.line, "\n")
			checkMessage(t, got, tt.want)
		})
	}
}

func TestMessageParam(t *testing.T) {
	m, err := Parse([]byte(`<165>1 - host app - - [a x="1"][b y="2" x="3"] m`))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Param("b", "x"); !ok || v != "3" {
		t.Errorf(`Param("b","x") = %q, %v; want "3", true`, v, ok)
	}
	if _, ok := m.Param("a", "y"); ok {
		t.Error(`Param("a","y") found a value that is not there`)
	}
}

func TestPriorityString(t *testing.T) {
	if got := pri(FacilityAuthPriv, SeverityNotice).String(); got != "authpriv.notice" {
		t.Errorf("String() = %q", got)
	}
	if got := pri(FacilityLocal7, SeverityDebug).Value(); got != 191 {
		t.Errorf("Value() = %d, want 191", got)
	}
	if got := Facility(30).String(); got != "facility30" {
		t.Errorf("String() = %q", got)
	}
}
