// Package demo is vigil's built-in simulated organisation: a small company with users, hosts,
// an identity provider, Microsoft 365 and AWS, a normal working day of telemetry in the formats
// real sources emit, and attack scenarios (password spray, OAuth consent phishing, ransomware
// precursor with lateral movement) played over it. `vigil demo` replays it through the real
// pipeline; tests use it as a known-answer dataset.
package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// User is a member of the simulated organisation.
type User struct {
	Name     string // sAMAccountName
	Display  string
	UPN      string
	SID      string
	OktaID   string
	EntraID  string
	Dept     string
	Host     string // primary workstation
	Admin    bool
	Country  string
	OfficeIP string
}

// Host is a machine of the organisation.
type Host struct {
	Name        string
	IP          string
	OS          string
	Role        string // workstation, server, domain_controller
	Criticality string // low, medium, high, critical
	Owner       string
	AgentID     string // EDR device ID
}

// Org is the simulated organisation.
type Org struct {
	Domain string // NetBIOS domain
	DNS    string // e-mail / UPN suffix
	Tenant string // Entra tenant ID
	Users  []User
	Hosts  []Host
}

// NewOrg returns the built-in organisation, Example Corp.
func NewOrg() *Org {
	o := &Org{Domain: "EXAMPLE", DNS: "example.com", Tenant: "5f1c3a77-2b8e-4d3f-9c61-0a7be2d4c111"}
	people := []struct {
		name, display, dept, host string
		admin                     bool
	}{
		{"alice", "Alice Moreau", "finance", "ws01", false},
		{"bob", "Bob Lindqvist", "sales", "ws02", false},
		{"carol", "Carol Okafor", "hr", "ws03", false},
		{"dave", "Dave Kowalski", "it", "ws04", true},
		{"erin", "Erin Tanaka", "engineering", "ws05", false},
		{"frank", "Frank Osei", "executive", "ws06", false},
	}
	for i, p := range people {
		o.Users = append(o.Users, User{
			Name: p.name, Display: p.display, UPN: p.name + "@" + o.DNS,
			SID:    fmt.Sprintf("S-1-5-21-3623811015-3361044348-30300820-%d", 1104+i),
			OktaID: fmt.Sprintf("00u%02dexamplecorp%02d", i+1, i+1), EntraID: fmt.Sprintf("a0b1c2d3-0000-4000-8000-%012d", i+1),
			Dept: p.dept, Host: p.host, Admin: p.admin, Country: "US", OfficeIP: fmt.Sprintf("198.51.100.%d", 20+i),
		})
		o.Hosts = append(o.Hosts, Host{Name: p.host, IP: fmt.Sprintf("10.10.1.%d", 11+i), OS: "Windows 11", Role: "workstation",
			Criticality: "low", Owner: p.name, AgentID: fmt.Sprintf("mde-%s-%04d", p.host, 7001+i)})
	}
	o.Hosts = append(o.Hosts,
		Host{Name: "dc01", IP: "10.10.0.10", OS: "Windows Server 2022", Role: "domain_controller", Criticality: "critical", AgentID: "mde-dc01-0001"},
		Host{Name: "srv-file01", IP: "10.10.0.20", OS: "Windows Server 2022", Role: "server", Criticality: "high", AgentID: "mde-srv-file01-0002"},
		Host{Name: "srv-db01", IP: "10.10.0.30", OS: "Windows Server 2019", Role: "server", Criticality: "critical", AgentID: "mde-srv-db01-0003"},
		Host{Name: "srv-web01", IP: "10.10.0.40", OS: "Ubuntu 22.04", Role: "server", Criticality: "high", AgentID: "mde-srv-web01-0004"},
	)
	return o
}

// User returns the user with the given name.
func (o *Org) User(name string) User {
	for _, u := range o.Users {
		if u.Name == name {
			return u
		}
	}
	panic("demo: unknown user " + name) // programmer error: scenarios name fixed users
}

// Host returns the host with the given name.
func (o *Org) Host(name string) Host {
	for _, h := range o.Hosts {
		if h.Name == name {
			return h
		}
	}
	panic("demo: unknown host " + name)
}

// FQDN returns a host's fully qualified name.
func (o *Org) FQDN(host string) string { return host + ".corp." + o.DNS }

// Record is one raw record of the simulated telemetry, as a source would send it.
type Record struct {
	Time   time.Time
	Format string // json or syslog
	Hint   string
	Data   []byte
	// Scenario names the attack the record belongs to; empty for normal activity.
	Scenario string
	// Step describes the attack step, for the printed story.
	Step string
	// Malicious marks records caused by the attacker.
	Malicious bool
}

func jsonRecord(t time.Time, hint string, v any) Record {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // programmer error: demo values always encode
	}
	return Record{Time: t, Format: "json", Hint: hint, Data: b}
}

func syslogRecord(t time.Time, host, app string, pid int, msg string) Record {
	line := fmt.Sprintf("<38>%s %s %s[%d]: %s", t.UTC().Format(time.Stamp), host, app, pid, msg)
	return Record{Time: t, Format: "syslog", Hint: "linux", Data: []byte(line)}
}

// Sort orders records by time, keeping the order of records with equal times.
func Sort(recs []Record) {
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
}

// Background returns a normal working day of telemetry for the organisation on the given day
// (its date is used; activity runs 07:45-18:30 UTC).
func (o *Org) Background(day time.Time) []Record {
	rng := rand.New(rand.NewPCG(42, uint64(day.YearDay())))
	d := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time {
		return d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(rng.IntN(50))*time.Second)
	}
	var recs []Record
	for _, u := range o.Users {
		h := o.Host(u.Host)
		start := at(7, 45+rng.IntN(60))
		recs = append(recs, o.oktaSignIn(start, u, u.OfficeIP, u.Country, "New York", true, ""))
		recs = append(recs, o.entraSignIn(start.Add(40*time.Second), u, u.OfficeIP, u.Country, "Office 365 Exchange Online", 0))
		logonID := fmt.Sprintf("0x%x", 0x3e7000+rng.IntN(0xffff))
		recs = append(recs, o.winLogon(start.Add(-2*time.Minute), h, u, 2, "127.0.0.1", logonID, "User32"))
		explorer := o.sysmonProc(start.Add(-time.Minute), h, u, `C:\Windows\explorer.exe`, "C:\\Windows\\Explorer.EXE", `C:\Windows\System32\userinit.exe`, "userinit.exe", logonID)
		recs = append(recs, explorer)
		for _, app := range []struct{ img, cmd string }{
			{`C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`, `"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE"`},
			{`C:\Program Files\Google\Chrome\Application\chrome.exe`, `"C:\Program Files\Google\Chrome\Application\chrome.exe"`},
			{`C:\Users\` + u.Name + `\AppData\Local\Microsoft\Teams\current\Teams.exe`, `"Teams.exe" --process-start-args "--system-initiated"`},
		} {
			recs = append(recs, o.sysmonProc(start.Add(time.Duration(1+rng.IntN(20))*time.Minute), h, u, app.img, app.cmd, `C:\Windows\explorer.exe`, "C:\\Windows\\Explorer.EXE", logonID))
		}
		// Mid-morning file share access.
		fs := o.Host("srv-file01")
		t := at(10, rng.IntN(50))
		recs = append(recs, o.winLogon(t, fs, u, 3, h.IP, fmt.Sprintf("0x%x", 0x5a0000+rng.IntN(0xffff)), "Kerberos"))
		recs = append(recs, o.winShare(t.Add(time.Second), fs, u, h.IP, `\\*\Shares`, `Shares\`+u.Dept))
		// Mail activity.
		for i := range 3 {
			recs = append(recs, o.m365MailAccess(at(9+3*i, rng.IntN(50)), u, u.OfficeIP, "Client=OWA;Action=ViaProxy"))
		}
		recs = append(recs, o.winLogoff(at(17, 20+rng.IntN(60)), h, u, logonID))
	}
	// IT admin work: SSH to the web server, a scheduled backup, AWS reads.
	dave := o.User("dave")
	for i := range 3 {
		t := at(9+2*i, rng.IntN(50))
		recs = append(recs, syslogRecord(t, "srv-web01", "sshd", 4100+i, fmt.Sprintf("Accepted publickey for dave from %s port %d ssh2: ED25519 SHA256:pN3xQv0bq1", o.Host("ws04").IP, 50000+rng.IntN(9999))))
		recs = append(recs, syslogRecord(t.Add(20*time.Second), "srv-web01", "sudo", 4200+i, "    dave : TTY=pts/0 ; PWD=/home/dave ; USER=root ; COMMAND=/usr/bin/systemctl status nginx"))
	}
	for hh := 8; hh <= 18; hh += 2 {
		recs = append(recs, syslogRecord(at(hh, 0), "srv-web01", "CRON", 5000+hh, "(root) CMD (/usr/local/bin/backup.sh > /dev/null 2>&1)"))
		recs = append(recs, o.cloudTrail(at(hh, 5), "svc-backup", "AssumedRole", "s3.amazonaws.com", "PutObject", "10.10.0.40", "aws-sdk-go-v2/1.24.0", map[string]any{"bucketName": "examplecorp-backups", "key": fmt.Sprintf("web01/%02d.tar.gz", hh)}, ""))
	}
	recs = append(recs, o.cloudTrail(at(11, 10), "dave", "IAMUser", "ec2.amazonaws.com", "DescribeInstances", dave.OfficeIP, "console.ec2.amazonaws.com", nil, ""))
	// A few ordinary failed logons (typos), as every real network has.
	for _, n := range []string{"erin", "frank"} {
		u := o.User(n)
		recs = append(recs, o.oktaSignInFailure(at(8, 30+rng.IntN(20)), u, u.OfficeIP, u.Country, "INVALID_CREDENTIALS"))
	}
	Sort(recs)
	return recs
}

func guid(rng *rand.Rand) string {
	return fmt.Sprintf("{%08X-%04X-%04X-%04X-%012X}", rng.Uint32(), rng.IntN(0xffff), rng.IntN(0xffff), rng.IntN(0xffff), rng.Uint64()&0xffffffffffff)
}

func lower(s string) string { return strings.ToLower(s) }
