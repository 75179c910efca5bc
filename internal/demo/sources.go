package demo

import (
	"fmt"
	"hash/fnv"
	"time"
)

// Builders for records in the shapes real sources emit: Windows events as the EVTX JSON
// rendering (what `vigil import` of an .evtx and Windows forwarders produce), Okta System Log,
// Entra ID sign-in and audit logs (Microsoft Graph shape), Microsoft 365 unified audit log, AWS
// CloudTrail and Linux syslog.

const (
	chanSecurity = "Security"
	chanSysmon   = "Microsoft-Windows-Sysmon/Operational"
	chanSystem   = "System"
	provSecurity = "Microsoft-Windows-Security-Auditing"
	guidSecurity = "{54849625-5478-4994-A5BA-3E3B0328C30D}"
	provSysmon   = "Microsoft-Windows-Sysmon"
	guidSysmon   = "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"
)

func recordID(host string, t time.Time) int64 {
	h := fnv.New32a()
	h.Write([]byte(host))
	return int64(h.Sum32()%100000)*1000000 + t.Unix()%1000000
}

func (o *Org) winEvent(t time.Time, h Host, channel, provider, provGUID string, id, task int, data map[string]any) Record {
	sys := map[string]any{
		"Provider":      map[string]any{"#attributes": map[string]any{"Name": provider, "Guid": provGUID}},
		"EventID":       id,
		"Version":       2,
		"Level":         0,
		"Task":          task,
		"Opcode":        0,
		"Keywords":      "0x8020000000000000",
		"TimeCreated":   map[string]any{"#attributes": map[string]any{"SystemTime": t.UTC().Format("2006-01-02T15:04:05.000000Z")}},
		"EventRecordID": recordID(h.Name+channel, t),
		"Correlation":   nil,
		"Execution":     map[string]any{"#attributes": map[string]any{"ProcessID": 636, "ThreadID": 4120}},
		"Channel":       channel,
		"Computer":      o.FQDN(h.Name),
		"Security":      nil,
	}
	if channel == chanSysmon {
		sys["Level"] = 4
		sys["Keywords"] = "0x8000000000000000"
		sys["Security"] = map[string]any{"#attributes": map[string]any{"UserID": "S-1-5-18"}}
	}
	return jsonRecord(t, "windows", map[string]any{"Event": map[string]any{
		"#attributes": map[string]any{"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
		"System":      sys,
		"EventData":   data,
	}})
}

func (o *Org) winLogon(t time.Time, h Host, u User, logonType int, srcIP, logonID, process string) Record {
	auth := "Negotiate"
	if process == "Kerberos" {
		auth = "Kerberos"
	}
	return o.winEvent(t, h, chanSecurity, provSecurity, guidSecurity, 4624, 12544, map[string]any{
		"SubjectUserSid": "S-1-5-18", "SubjectUserName": h.Name + "$", "SubjectDomainName": o.Domain, "SubjectLogonId": "0x3e7",
		"TargetUserSid": u.SID, "TargetUserName": u.Name, "TargetDomainName": o.Domain, "TargetLogonId": logonID,
		"LogonType": logonType, "LogonProcessName": process, "AuthenticationPackageName": auth,
		"WorkstationName": "-", "LogonGuid": "{00000000-0000-0000-0000-000000000000}", "TransmittedServices": "-",
		"LmPackageName": "-", "KeyLength": 0, "ProcessId": "0x2b0", "ProcessName": `C:\Windows\System32\lsass.exe`,
		"IpAddress": srcIP, "IpPort": "0", "ImpersonationLevel": "%%1833", "RestrictedAdminMode": "-",
		"TargetOutboundUserName": "-", "TargetOutboundDomainName": "-", "VirtualAccount": "%%1843",
		"TargetLinkedLogonId": "0x0", "ElevatedToken": "%%1843",
	})
}

func (o *Org) winLogonFailure(t time.Time, h Host, user, srcIP string) Record {
	return o.winEvent(t, h, chanSecurity, provSecurity, guidSecurity, 4625, 12544, map[string]any{
		"SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "SubjectDomainName": "-", "SubjectLogonId": "0x0",
		"TargetUserSid": "S-1-0-0", "TargetUserName": user, "TargetDomainName": o.Domain,
		"Status": "0xc000006d", "FailureReason": "%%2313", "SubStatus": "0xc000006a", "LogonType": 3,
		"LogonProcessName": "NtLmSsp ", "AuthenticationPackageName": "NTLM", "WorkstationName": "-",
		"TransmittedServices": "-", "LmPackageName": "-", "KeyLength": 0, "ProcessId": "0x0", "ProcessName": "-",
		"IpAddress": srcIP, "IpPort": "0",
	})
}

func (o *Org) winLogoff(t time.Time, h Host, u User, logonID string) Record {
	return o.winEvent(t, h, chanSecurity, provSecurity, guidSecurity, 4634, 12545, map[string]any{
		"TargetUserSid": u.SID, "TargetUserName": u.Name, "TargetDomainName": o.Domain, "TargetLogonId": logonID, "LogonType": 2,
	})
}

func (o *Org) winExplicitCreds(t time.Time, h Host, u User, as User, target Host, logonID string) Record {
	return o.winEvent(t, h, chanSecurity, provSecurity, guidSecurity, 4648, 12544, map[string]any{
		"SubjectUserSid": u.SID, "SubjectUserName": u.Name, "SubjectDomainName": o.Domain, "SubjectLogonId": logonID,
		"LogonGuid": "{00000000-0000-0000-0000-000000000000}", "TargetUserName": as.Name, "TargetDomainName": o.Domain,
		"TargetLogonGuid": "{00000000-0000-0000-0000-000000000000}", "TargetServerName": o.FQDN(target.Name), "TargetInfo": o.FQDN(target.Name),
		"ProcessId": "0x1a2c", "ProcessName": `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "IpAddress": target.IP, "IpPort": "445",
	})
}

func (o *Org) winShare(t time.Time, h Host, u User, srcIP, share, rel string) Record {
	return o.winEvent(t, h, chanSecurity, provSecurity, guidSecurity, 5145, 12811, map[string]any{
		"SubjectUserSid": u.SID, "SubjectUserName": u.Name, "SubjectDomainName": o.Domain, "SubjectLogonId": "0x5a1f2",
		"ObjectType": "File", "IpAddress": srcIP, "IpPort": "49822", "ShareName": share, "ShareLocalPath": `\??\D:\Shares`,
		"RelativeTargetName": rel, "AccessMask": "0x1", "AccessList": "%%4416", "AccessReason": "-",
	})
}

func (o *Org) winServiceInstall(t time.Time, h Host, name, image, account string) Record {
	return o.winEvent(t, h, chanSystem, "Service Control Manager", "{555908d1-a6d7-4695-8e1e-26931d2012f4}", 7045, 0, map[string]any{
		"ServiceName": name, "ImagePath": image, "ServiceType": "user mode service", "StartType": "demand start", "AccountName": account,
	})
}

func (o *Org) sysmonProc(t time.Time, h Host, u User, image, cmd, parentImage, parentCmd, logonID string) Record {
	pid := 1000 + int(recordID(image+cmd, t)%60000)
	return o.winEvent(t, h, chanSysmon, provSysmon, guidSysmon, 1, 1, map[string]any{
		"RuleName": "-", "UtcTime": t.UTC().Format("2006-01-02 15:04:05.000"),
		"ProcessGuid": fmt.Sprintf("{7a1d2f3c-%04x-6612-%04x-%012x}", pid%0xffff, t.Second(), recordID(h.Name+image, t)),
		"ProcessId":   pid, "Image": image, "FileVersion": "-", "Description": "-", "Product": "-", "Company": "-",
		"OriginalFileName": baseName(image), "CommandLine": cmd, "CurrentDirectory": `C:\Users\` + u.Name + `\`,
		"User": o.Domain + `\` + u.Name, "LogonGuid": "{7a1d2f3c-0000-6612-0000-000000000000}", "LogonId": logonID,
		"TerminalSessionId": 1, "IntegrityLevel": "Medium",
		"Hashes":            fmt.Sprintf("SHA1=%040X,MD5=%032X,SHA256=%064X", recordID(image, time.Time{}), recordID(image, time.Time{}), recordID(image, time.Time{})),
		"ParentProcessGuid": fmt.Sprintf("{7a1d2f3c-0000-6612-0000-%012x}", recordID(h.Name+parentImage, time.Time{})),
		"ParentProcessId":   500 + int(recordID(parentImage, time.Time{})%5000), "ParentImage": parentImage, "ParentCommandLine": parentCmd,
		"ParentUser": o.Domain + `\` + u.Name,
	})
}

func (o *Org) sysmonNet(t time.Time, h Host, u User, image, dstIP string, dstPort int, dstHost string) Record {
	return o.winEvent(t, h, chanSysmon, provSysmon, guidSysmon, 3, 3, map[string]any{
		"RuleName": "-", "UtcTime": t.UTC().Format("2006-01-02 15:04:05.000"), "ProcessGuid": "{7a1d2f3c-0000-6612-0000-000000000001}",
		"ProcessId": 6120, "Image": image, "User": o.Domain + `\` + u.Name, "Protocol": "tcp", "Initiated": "true",
		"SourceIsIpv6": "false", "SourceIp": h.IP, "SourceHostname": o.FQDN(h.Name), "SourcePort": 51544, "SourcePortName": "-",
		"DestinationIsIpv6": "false", "DestinationIp": dstIP, "DestinationHostname": dstHost, "DestinationPort": dstPort, "DestinationPortName": "https",
	})
}

func (o *Org) sysmonProcAccess(t time.Time, h Host, u User, source, target, access, callTrace string) Record {
	return o.winEvent(t, h, chanSysmon, provSysmon, guidSysmon, 10, 10, map[string]any{
		"RuleName": "-", "UtcTime": t.UTC().Format("2006-01-02 15:04:05.000"),
		"SourceProcessGUID": "{7a1d2f3c-0000-6612-0000-000000000002}", "SourceProcessId": 7212, "SourceThreadId": 7300, "SourceImage": source,
		"TargetProcessGUID": "{7a1d2f3c-0000-6612-0000-0000000002b0}", "TargetProcessId": 688, "TargetImage": target,
		"GrantedAccess": access, "CallTrace": callTrace, "SourceUser": o.Domain + `\` + u.Name, "TargetUser": `NT AUTHORITY\SYSTEM`,
	})
}

func (o *Org) sysmonFile(t time.Time, h Host, u User, image, target string) Record {
	return o.winEvent(t, h, chanSysmon, provSysmon, guidSysmon, 11, 11, map[string]any{
		"RuleName": "-", "UtcTime": t.UTC().Format("2006-01-02 15:04:05.000"), "ProcessGuid": "{7a1d2f3c-0000-6612-0000-000000000003}",
		"ProcessId": 7420, "Image": image, "TargetFilename": target, "CreationUtcTime": t.UTC().Format("2006-01-02 15:04:05.000"),
		"User": o.Domain + `\` + u.Name,
	})
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '\\' || p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

func (o *Org) oktaSignIn(t time.Time, u User, ip, country, city string, mfa bool, ua string) Record {
	if ua == "" {
		ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
	}
	factor := "PASSWORD_AS_FACTOR"
	if mfa {
		factor = "OKTA_VERIFY_PUSH"
	}
	return jsonRecord(t, "okta", map[string]any{
		"actor":                 map[string]any{"id": u.OktaID, "type": "User", "alternateId": u.UPN, "displayName": u.Display},
		"client":                map[string]any{"userAgent": map[string]any{"rawUserAgent": ua, "os": "Windows 10", "browser": "CHROME"}, "zone": "null", "device": "Computer", "ipAddress": ip, "geographicalContext": map[string]any{"city": city, "country": countryName(country), "state": "", "geolocation": geo(country)}},
		"authenticationContext": map[string]any{"authenticationStep": 0, "externalSessionId": fmt.Sprintf("102%012x", recordID(u.Name+ip, t))},
		"displayMessage":        "User login to Okta", "eventType": "user.session.start",
		"outcome":   map[string]any{"result": "SUCCESS"},
		"published": t.UTC().Format("2006-01-02T15:04:05.000Z"), "severity": "INFO",
		"debugContext":    map[string]any{"debugData": map[string]any{"requestUri": "/idp/idx/authenticators/poll", "factor": factor}},
		"securityContext": map[string]any{"asNumber": 64496, "asOrg": "example isp", "isp": "example isp", "domain": "example.net", "isProxy": false},
		"transaction":     map[string]any{"type": "WEB", "id": fmt.Sprintf("Y%015x", recordID(u.Name, t))},
		"uuid":            fmt.Sprintf("%08x-aaaa-11ee-9d8e-%012x", recordID(u.Name+"okta", t)%0xffffffff, t.UnixNano()&0xffffffffffff),
		"version":         "0",
	})
}

func (o *Org) oktaSignInFailure(t time.Time, u User, ip, country, reason string) Record {
	return jsonRecord(t, "okta", map[string]any{
		"actor":          map[string]any{"id": u.OktaID, "type": "User", "alternateId": u.UPN, "displayName": u.Display},
		"client":         map[string]any{"userAgent": map[string]any{"rawUserAgent": "python-requests/2.31.0"}, "ipAddress": ip, "geographicalContext": map[string]any{"country": countryName(country), "geolocation": geo(country)}},
		"displayMessage": "User login to Okta", "eventType": "user.session.start",
		"outcome":   map[string]any{"result": "FAILURE", "reason": reason},
		"published": t.UTC().Format("2006-01-02T15:04:05.000Z"), "severity": "WARN",
		"uuid":    fmt.Sprintf("%08x-bbbb-11ee-9d8e-%012x", recordID(u.Name+"fail", t)%0xffffffff, t.UnixNano()&0xffffffffffff),
		"version": "0",
	})
}

func (o *Org) entraSignIn(t time.Time, u User, ip, country, app string, errorCode int) Record {
	status := map[string]any{"errorCode": errorCode, "failureReason": nil}
	if errorCode != 0 {
		status["failureReason"] = "Invalid username or password or Invalid on-premise username or password."
	}
	return jsonRecord(t, "entra_signin", map[string]any{
		"id": fmt.Sprintf("%08x-1111-4a4a-9b9b-%012x", recordID(u.Name+app, t)%0xffffffff, t.UnixNano()&0xffffffffffff), "createdDateTime": t.UTC().Format(time.RFC3339),
		"userDisplayName": u.Display, "userPrincipalName": u.UPN, "userId": u.EntraID, "appId": "00000002-0000-0ff1-ce00-000000000000",
		"appDisplayName": app, "ipAddress": ip, "clientAppUsed": "Browser", "isInteractive": true, "resourceDisplayName": app,
		"status": status, "location": map[string]any{"city": "", "state": "", "countryOrRegion": country, "geoCoordinates": geo(country)},
		"riskLevelDuringSignIn": "none", "riskState": "none", "conditionalAccessStatus": "success",
		"deviceDetail": map[string]any{"operatingSystem": "Windows10", "browser": "Chrome 124.0"},
		"mfaDetail":    map[string]any{"authMethod": "Microsoft Authenticator", "authDetail": nil},
	})
}

func (o *Org) entraConsent(t time.Time, u User, ip, app, appID string, scopes string) Record {
	return jsonRecord(t, "entra_audit", map[string]any{
		"id": fmt.Sprintf("Directory_%08x_%d", recordID(u.Name+app, t)%0xffffffff, t.Unix()), "category": "ApplicationManagement",
		"correlationId": fmt.Sprintf("%08x-2222-4b4b-8c8c-%012x", recordID(app, t)%0xffffffff, t.UnixNano()&0xffffffffffff),
		"result":        "success", "resultReason": "", "activityDisplayName": "Consent to application",
		"activityDateTime": t.UTC().Format("2006-01-02T15:04:05.0000000Z"), "loggedByService": "Core Directory", "operationType": "Assign",
		"initiatedBy": map[string]any{"user": map[string]any{"id": u.EntraID, "displayName": nil, "userPrincipalName": u.UPN, "ipAddress": ip}, "app": nil},
		"targetResources": []any{map[string]any{"id": "c3d4e5f6-0000-4000-8000-00000000ab01", "displayName": app, "type": "ServicePrincipal", "modifiedProperties": []any{
			map[string]any{"displayName": "ConsentContext.IsAdminConsent", "oldValue": nil, "newValue": `"False"`},
			map[string]any{"displayName": "ConsentContext.IsAppOnly", "oldValue": nil, "newValue": `"False"`},
			map[string]any{"displayName": "ConsentAction.Permissions", "oldValue": nil, "newValue": fmt.Sprintf(`"[] => [[Id: kP0x_q, ClientId: %s, PrincipalId: %s, ResourceId: 0e1f2a3b-0000-0000-0000-000000000003, ConsentType: Principal, Scope:  %s, CreatedDateTime: , LastModifiedDateTime ]]; "`, appID, u.EntraID, scopes)},
			map[string]any{"displayName": "TargetId.ServicePrincipalNames", "oldValue": nil, "newValue": fmt.Sprintf(`"%s"`, appID)},
		}}},
		"additionalDetails": []any{map[string]any{"key": "User-Agent", "value": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}, map[string]any{"key": "AppId", "value": appID}},
	})
}

func (o *Org) m365MailAccess(t time.Time, u User, ip, client string) Record {
	return jsonRecord(t, "m365", map[string]any{
		"CreationTime": t.UTC().Format("2006-01-02T15:04:05"), "Id": fmt.Sprintf("%08x-0000-4c4c-9d9d-%012x", recordID(u.Name+client, t)%0xffffffff, t.UnixNano()&0xffffffffffff),
		"Operation": "MailItemsAccessed", "OrganizationId": o.Tenant, "RecordType": 50, "ResultStatus": "Succeeded",
		"UserKey": u.EntraID, "UserType": 0, "Version": 1, "Workload": "Exchange", "UserId": u.UPN,
		"ClientIPAddress": ip, "ClientInfoString": client, "ExternalAccess": false, "LogonType": 0,
		"MailboxOwnerUPN": u.UPN, "OperationProperties": []any{map[string]any{"Name": "MailAccessType", "Value": "Bind"}},
		"OperationCount": 12,
	})
}

func (o *Org) m365AppMailAccess(t time.Time, u User, ip, appID string, count int) Record {
	return jsonRecord(t, "m365", map[string]any{
		"CreationTime": t.UTC().Format("2006-01-02T15:04:05"), "Id": fmt.Sprintf("%08x-0001-4c4c-9d9d-%012x", recordID(u.Name+appID, t)%0xffffffff, t.UnixNano()&0xffffffffffff),
		"Operation": "MailItemsAccessed", "OrganizationId": o.Tenant, "RecordType": 50, "ResultStatus": "Succeeded",
		"UserKey": appID, "UserType": 5, "Version": 1, "Workload": "Exchange", "UserId": u.UPN, "AppId": appID, "ClientAppId": appID,
		"ClientIPAddress": ip, "ClientInfoString": "Client=REST;Client=RESTSystem;;", "ExternalAccess": true, "LogonType": 0,
		"MailboxOwnerUPN": u.UPN, "OperationProperties": []any{map[string]any{"Name": "MailAccessType", "Value": "Sync"}},
		"OperationCount": count,
	})
}

func (o *Org) m365InboxRule(t time.Time, u User, ip, name, forwardTo string) Record {
	return jsonRecord(t, "m365", map[string]any{
		"CreationTime": t.UTC().Format("2006-01-02T15:04:05"), "Id": fmt.Sprintf("%08x-0002-4c4c-9d9d-%012x", recordID(u.Name+name, t)%0xffffffff, t.UnixNano()&0xffffffffffff),
		"Operation": "New-InboxRule", "OrganizationId": o.Tenant, "RecordType": 1, "ResultStatus": "True", "UserKey": u.EntraID,
		"UserType": 0, "Version": 1, "Workload": "Exchange", "ClientIP": ip + ":51234", "UserId": u.UPN, "ObjectId": u.UPN + `\` + name,
		"Parameters": []any{
			map[string]any{"Name": "Name", "Value": name}, map[string]any{"Name": "ForwardTo", "Value": forwardTo},
			map[string]any{"Name": "MarkAsRead", "Value": "True"}, map[string]any{"Name": "DeleteMessage", "Value": "True"},
		},
	})
}

func (o *Org) cloudTrail(t time.Time, user, idType, source, name, ip, ua string, params map[string]any, errCode string) Record {
	rec := map[string]any{
		"eventVersion": "1.08",
		"userIdentity": map[string]any{"type": idType, "principalId": "AIDA" + fmt.Sprintf("%016X", recordID(user, time.Time{})), "arn": "arn:aws:iam::111122223333:user/" + user, "accountId": "111122223333", "userName": user},
		"eventTime":    t.UTC().Format(time.RFC3339), "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
		"sourceIPAddress": ip, "userAgent": ua, "requestParameters": params, "responseElements": nil,
		"requestID": fmt.Sprintf("%016x", recordID(user+name, t)), "eventID": fmt.Sprintf("%08x-3333-4d4d-8e8e-%012x", recordID(name, t)%0xffffffff, t.UnixNano()&0xffffffffffff),
		"eventType": "AwsApiCall", "recipientAccountId": "111122223333",
	}
	if errCode != "" {
		rec["errorCode"] = errCode
		rec["errorMessage"] = "Access Denied"
	}
	return jsonRecord(t, "cloudtrail", rec)
}

func countryName(code string) string {
	switch code {
	case "US":
		return "United States"
	case "NL":
		return "Netherlands"
	case "BR":
		return "Brazil"
	case "VN":
		return "Vietnam"
	}
	return code
}

func geo(code string) map[string]any {
	switch code {
	case "US":
		return map[string]any{"lat": 40.7128, "lon": -74.006}
	case "NL":
		return map[string]any{"lat": 52.37, "lon": 4.89}
	case "BR":
		return map[string]any{"lat": -23.55, "lon": -46.63}
	case "VN":
		return map[string]any{"lat": 10.82, "lon": 106.63}
	}
	return map[string]any{"lat": 0, "lon": 0}
}
