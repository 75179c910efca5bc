package connectortest

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/demo"
)

const mdeResource = "https://api.securitycenter.microsoft.com"

// MDE is a fake of the Microsoft Defender for Endpoint API with Entra ID's token endpoint.
//
// Paths: POST /{tenant}/oauth2/v2.0/token (scope https://api.securitycenter.microsoft.com/.default);
// GET /api/machines ($filter e.g. computerDnsName eq '...', $top, $skip, @odata.nextLink);
// GET /api/machines/{id}; GET /api/machines/{id}/alerts; POST /api/machines/{id}/isolate
// ({"Comment","IsolationType"}) and /api/machines/{id}/unisolate ({"Comment"}); GET
// /api/machineactions ($filter) and /api/machineactions/{id}; GET /api/alerts ($filter);
// GET /api/indicators ($filter), POST /api/indicators (submit or update), DELETE
// /api/indicators/{id}.
//
// A machine action is created Pending; each read of it counts, and after ActionLatency reads
// (default 1) it shows Succeeded (reads before that show InProgress). Isolation is a machine's
// latest succeeded Isolate/Unisolate action, as in Defender. Asking for an isolation change
// while one is still in progress answers 400 ActiveRequestAlreadyExists, as Defender does.
type MDE struct {
	*fake
	org  *demo.Org
	app  entraApp
	seed *seed

	// mu guards the state below.
	mu         sync.Mutex
	machines   []map[string]any
	actions    []*mdeAction // oldest first
	alerts     []map[string]any
	indicators []map[string]any
	nextIndID  int
	latency    int
}

type mdeAction struct {
	doc   map[string]any
	reads int
}

// NewMDE starts a Defender for Endpoint fake seeded from org.
func NewMDE(org *demo.Org, opts ...Option) *MDE {
	d := &MDE{fake: newFake(), org: org, app: newEntraApp(org.Tenant, mdeResource), seed: newSeed(4, opts), latency: 1, nextIndID: 1001}
	d.seedState()
	f := d.fake
	f.open = isEntraToken
	f.authorized = f.bearerValid
	f.unauthorized = func(w http.ResponseWriter) {
		mdeError(w, http.StatusUnauthorized, "Unauthorized", "Authorization token is invalid or expired.")
	}
	f.rateLimited = func(w http.ResponseWriter, wait time.Duration) {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())))
		mdeError(w, http.StatusTooManyRequests, "TooManyRequests", "API calls quota exceeded! Maximum allowed 100 per minute.")
	}
	f.serverError = func(w http.ResponseWriter, status int) {
		mdeError(w, status, "InternalServerError", "An internal error occurred. Please try again later.")
	}
	m := f.mux
	m.HandleFunc("POST /{tenant}/oauth2/v2.0/token", f.handleEntraToken(d.app))
	m.HandleFunc("GET /api/machines", d.list(func() []map[string]any { return d.machines }, "Machines"))
	m.HandleFunc("GET /api/machines/{id}", d.getMachine)
	m.HandleFunc("GET /api/machines/{id}/alerts", d.machineAlerts)
	m.HandleFunc("POST /api/machines/{id}/{action}", d.machineAction)
	m.HandleFunc("GET /api/machineactions", d.listActions)
	m.HandleFunc("GET /api/machineactions/{id}", d.getAction)
	m.HandleFunc("GET /api/alerts", d.list(func() []map[string]any { return d.alerts }, "Alerts"))
	m.HandleFunc("GET /api/indicators", d.list(func() []map[string]any { return d.indicators }, "Indicators"))
	m.HandleFunc("POST /api/indicators", d.submitIndicator)
	m.HandleFunc("DELETE /api/indicators/{id}", d.deleteIndicator)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mdeError(w, http.StatusNotFound, "ResourceNotFound", "Resource not found: "+r.URL.Path)
	})
	f.start()
	return d
}

// Credentials returns the client credentials the fake's token endpoint accepts.
func (d *MDE) Credentials() EntraCredentials {
	return EntraCredentials{Authority: d.URL(), TenantID: d.app.tenant, ClientID: d.app.clientID, ClientSecret: d.app.secret}
}

// SetActionLatency sets how many reads of a machine action still show it InProgress.
func (d *MDE) SetActionLatency(reads int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.latency = reads
}

// Isolated reports whether the machine is isolated now (its latest succeeded isolation
// action is an Isolate), for tests' assertions independent of the client.
func (d *MDE) Isolated(machineID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	iso, _ := d.isolation(machineID)
	return iso
}

func mdeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg, "target": uuid()}})
}

func deviceValue(criticality string) string {
	switch criticality {
	case "critical", "high":
		return "High"
	case "low":
		return "Low"
	}
	return "Normal"
}

func osPlatform(os string) (platform, version, build string) {
	switch {
	case strings.HasPrefix(os, "Windows 11"):
		return "Windows11", "23H2", "22631"
	case strings.Contains(os, "2022"):
		return "WindowsServer2022", "21H2", "20348"
	case strings.Contains(os, "2019"):
		return "WindowsServer2019", "1809", "17763"
	case strings.HasPrefix(os, "Ubuntu"):
		return "Linux", strings.TrimPrefix(os, "Ubuntu "), ""
	}
	return "Other", "", ""
}

func hostUUID(name, salt string) string {
	h := fnv.New64a()
	h.Write([]byte(salt + name))
	s := h.Sum64()
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(s), uint16(s>>32), uint16(s>>48)&0xfff, uint16(s>>20)&0xfff, s&0xffffffffffff)
}

func (d *MDE) seedState() {
	o, s := d.org, d.seed
	// The ransomware scenario's hosts carry its alerts.
	riskScore := map[string]string{"ws01": "High", "srv-file01": "High", "srv-db01": "High"}
	for i, h := range o.Hosts {
		platform, version, build := osPlatform(h.OS)
		risk := riskScore[h.Name]
		if risk == "" {
			risk = "None"
		}
		d.machines = append(d.machines, map[string]any{
			"id": h.AgentID, "computerDnsName": o.FQDN(h.Name), "firstSeen": ts(s.day.AddDate(-1, 0, -i)), "lastSeen": ts(s.ransomware.Add(time.Hour)),
			"osPlatform": platform, "osVersion": nil, "version": version, "osBuild": build, "osProcessor": "x64", "osArchitecture": "64-bit",
			"lastIpAddress": h.IP, "lastExternalIpAddress": "198.51.100.10", "agentVersion": "10.8760.22621.1000",
			"healthStatus": "Active", "onboardingStatus": "Onboarded", "deviceValue": deviceValue(h.Criticality),
			"rbacGroupId": 0, "rbacGroupName": "UnassignedGroup", "riskScore": risk, "exposureLevel": "Medium",
			"isAadJoined": h.Role == "workstation", "aadDeviceId": hostUUID(h.Name, "aad"),
			"machineTags": []any{"criticality:" + h.Criticality, "role:" + h.Role}, "defenderAvStatus": "Updated",
			"managedBy": "Intune", "managedByStatus": "Success",
		})
	}
	alert := func(n int, host string, at time.Time, title, category, severity, technique, user string) map[string]any {
		h := o.Host(host)
		id := fmt.Sprintf("da63852%012d_%d", at.Unix()%1e12, 1000+n)
		return map[string]any{
			"id": id, "incidentId": 42, "investigationId": 7, "assignedTo": nil, "severity": severity, "status": "New",
			"classification": nil, "determination": nil, "investigationState": "PendingApproval", "detectionSource": "WindowsDefenderAtp",
			"detectorId": hostUUID(title, "detector"), "category": category, "threatFamilyName": nil, "title": title,
			"description": title + " was observed on " + o.FQDN(host) + ".", "alertCreationTime": ts(at.Add(30 * time.Second)),
			"firstEventTime": ts(at), "lastEventTime": ts(at), "lastUpdateTime": ts(at.Add(time.Minute)), "resolvedTime": nil,
			"machineId": h.AgentID, "computerDnsName": o.FQDN(host), "rbacGroupName": "UnassignedGroup", "aadTenantId": o.Tenant,
			"mitreTechniques": []any{technique}, "relatedUser": map[string]any{"userName": user, "domainName": o.Domain},
			"comments": []any{}, "evidence": []any{},
		}
	}
	r := s.ransomware
	d.alerts = []map[string]any{
		alert(1, "ws01", r.Add(25*time.Second), "Suspicious PowerShell command line", "Execution", "Medium", "T1059.001", "alice"),
		alert(2, "ws01", r.Add(4*time.Minute), "Possible credential dumping: LSASS memory", "CredentialAccess", "High", "T1003.001", "alice"),
		alert(3, "srv-file01", r.Add(8*time.Minute+10*time.Second), "Suspicious service installation (PsExec)", "LateralMovement", "Medium", "T1569.002", "dave"),
		alert(4, "srv-file01", r.Add(8*time.Minute+15*time.Second), "File backups were deleted", "Impact", "High", "T1490", "dave"),
		alert(5, "srv-file01", r.Add(8*time.Minute+30*time.Second), "Ransomware behavior detected in the file system", "Ransomware", "High", "T1486", "dave"),
		alert(6, "srv-db01", r.Add(9*time.Minute+45*time.Second), "File backups were deleted", "Impact", "High", "T1490", "dave"),
		alert(7, "srv-db01", r.Add(10*time.Minute), "Ransomware behavior detected in the file system", "Ransomware", "High", "T1486", "dave"),
	}
	d.indicators = []map[string]any{{
		"id": "1000", "indicatorValue": "a3f5c1e2b4d6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081", "indicatorType": "FileSha256",
		"action": "Allowed", "application": "IT tooling", "source": "Example Corp SOC", "sourceType": "User", "title": "Backup agent",
		"description": "Approved backup agent binary", "severity": "Informational", "creationTimeDateTimeUtc": ts(s.day.AddDate(0, -3, 0)),
		"createdBy": "dave@" + o.DNS, "expirationTime": nil, "lastUpdateTime": ts(s.day.AddDate(0, -3, 0)), "lastUpdatedBy": "dave@" + o.DNS,
		"recommendedActions": nil, "rbacGroupNames": []any{}, "generateAlert": false,
	}}
}

func (d *MDE) machine(id string) map[string]any {
	for _, m := range d.machines {
		if m["id"] == id {
			return m
		}
	}
	return nil
}

func machineNotFound(w http.ResponseWriter, id string) {
	mdeError(w, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("Machine %s was not found", id))
}

func (d *MDE) list(items func() []map[string]any, entity string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		defer d.mu.Unlock()
		odataList(w, r, items(), d.seed.pageSize, "https://api.securitycenter.microsoft.com/api/$metadata#"+entity, "$skip")
	}
}

func (d *MDE) getMachine(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.machine(r.PathValue("id"))
	if m == nil {
		machineNotFound(w, r.PathValue("id"))
		return
	}
	out := clone(m)
	out["@odata.context"] = "https://api.securitycenter.microsoft.com/api/$metadata#Machines/$entity"
	writeJSON(w, http.StatusOK, out)
}

func (d *MDE) machineAlerts(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id := r.PathValue("id")
	if d.machine(id) == nil {
		machineNotFound(w, id)
		return
	}
	var out []map[string]any
	for _, a := range d.alerts {
		if a["machineId"] == id {
			out = append(out, a)
		}
	}
	if out == nil {
		out = []map[string]any{}
	}
	odataList(w, r, out, d.seed.pageSize, "https://api.securitycenter.microsoft.com/api/$metadata#Alerts", "$skip")
}

// view returns an action as a read shows it, advancing its status. Callers hold d.mu.
func (d *MDE) view(a *mdeAction) map[string]any {
	if st := a.doc["status"]; st == "Pending" || st == "InProgress" {
		a.reads++
		if a.reads > d.latency {
			a.doc["status"] = "Succeeded"
		} else {
			a.doc["status"] = "InProgress"
		}
		a.doc["lastUpdateDateTimeUtc"] = time.Now().UTC().Format(time.RFC3339Nano)
	}
	return clone(a.doc)
}

// isolation returns whether the machine is isolated and whether an isolation change is in
// progress. Callers hold d.mu.
func (d *MDE) isolation(machineID string) (isolated, pending bool) {
	for _, a := range d.actions {
		if a.doc["machineId"] != machineID {
			continue
		}
		switch st, typ := a.doc["status"], a.doc["type"]; {
		case st == "Pending" || st == "InProgress":
			pending = true
		case st == "Succeeded" && typ == "Isolate":
			isolated = true
		case st == "Succeeded" && typ == "Unisolate":
			isolated = false
		}
	}
	return isolated, pending
}

func (d *MDE) machineAction(w http.ResponseWriter, r *http.Request) {
	var typ string
	switch r.PathValue("action") {
	case "isolate":
		typ = "Isolate"
	case "unisolate":
		typ = "Unisolate"
	default:
		mdeError(w, http.StatusNotFound, "ResourceNotFound", "Resource not found: "+r.URL.Path)
		return
	}
	var body struct {
		Comment       string
		IsolationType string
	}
	if err := decodeBody(r, &body); err != nil {
		mdeError(w, http.StatusBadRequest, "InvalidRequestBody", "Request body is not a valid JSON object.")
		return
	}
	if strings.TrimSpace(body.Comment) == "" {
		mdeError(w, http.StatusBadRequest, "InvalidRequestBody", "Comment is required.")
		return
	}
	scope := ""
	if typ == "Isolate" {
		scope = body.IsolationType
		if scope == "" {
			scope = "Full"
		}
		if scope != "Full" && scope != "Selective" && scope != "UnManagedDevice" {
			mdeError(w, http.StatusBadRequest, "InvalidRequestBody", "IsolationType must be Full or Selective.")
			return
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	id := r.PathValue("id")
	m := d.machine(id)
	if m == nil {
		machineNotFound(w, id)
		return
	}
	if _, pending := d.isolation(id); pending {
		mdeError(w, http.StatusBadRequest, "ActiveRequestAlreadyExists", "Action is already in progress")
		return
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	a := &mdeAction{doc: map[string]any{
		"id": uuid(), "type": typ, "title": nil, "scope": nilIfEmpty(scope), "requestor": d.app.clientID, "requestorComment": body.Comment,
		"status": "Pending", "machineId": id, "computerDnsName": m["computerDnsName"], "creationDateTimeUtc": now, "lastUpdateDateTimeUtc": now,
		"cancellationRequestor": nil, "cancellationComment": nil, "cancellationDateTimeUtc": nil, "errorHResult": 0,
		"requestSource": "PublicApi", "relatedFileInfo": nil, "commands": []any{}, "externalId": nil,
	}}
	d.actions = append(d.actions, a)
	out := clone(a.doc)
	out["@odata.context"] = "https://api.securitycenter.microsoft.com/api/$metadata#MachineActions/$entity"
	writeJSON(w, http.StatusCreated, out)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (d *MDE) listActions(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	filter, err := parseFilter(r.URL.Query().Get("$filter"))
	if err != nil {
		mdeError(w, http.StatusBadRequest, "InvalidRequest", "Invalid filter clause: "+err.Error())
		return
	}
	var out []map[string]any
	for _, a := range d.actions {
		if matches(filter, a.doc) {
			out = append(out, d.view(a))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return fmt.Sprint(out[i]["creationDateTimeUtc"]) > fmt.Sprint(out[j]["creationDateTimeUtc"])
	})
	if out == nil {
		out = []map[string]any{}
	}
	q := r.URL.Query()
	q.Del("$filter") // already applied, against the state before this read
	r.URL.RawQuery = q.Encode()
	odataList(w, r, out, 1000, "https://api.securitycenter.microsoft.com/api/$metadata#MachineActions", "$skip")
}

func (d *MDE) getAction(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.actions {
		if a.doc["id"] == r.PathValue("id") {
			out := d.view(a)
			out["@odata.context"] = "https://api.securitycenter.microsoft.com/api/$metadata#MachineActions/$entity"
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	mdeError(w, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("Machine action %s was not found", r.PathValue("id")))
}

var (
	indicatorTypes   = map[string]bool{"FileSha1": true, "FileSha256": true, "FileMd5": true, "CertificateThumbprint": true, "IpAddress": true, "DomainName": true, "Url": true}
	indicatorActions = map[string]bool{"Warn": true, "Block": true, "Audit": true, "Alert": true, "AlertAndBlock": true, "BlockAndRemediate": true, "Allowed": true}
)

func (d *MDE) submitIndicator(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := decodeBody(r, &in); err != nil {
		mdeError(w, http.StatusBadRequest, "InvalidRequestBody", "Request body is not a valid JSON object.")
		return
	}
	str := func(k string) string { s, _ := in[k].(string); return s }
	switch {
	case str("indicatorValue") == "":
		mdeError(w, http.StatusBadRequest, "InvalidRequestBody", "indicatorValue is required.")
		return
	case !indicatorTypes[str("indicatorType")]:
		mdeError(w, http.StatusBadRequest, "InvalidRequestBody", fmt.Sprintf("Invalid indicatorType '%s'.", str("indicatorType")))
		return
	case !indicatorActions[str("action")]:
		mdeError(w, http.StatusBadRequest, "InvalidRequestBody", fmt.Sprintf("Invalid action '%s'.", str("action")))
		return
	case str("title") == "" || str("description") == "":
		mdeError(w, http.StatusBadRequest, "InvalidRequestBody", "title and description are required.")
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := ts(time.Now())
	var ind map[string]any
	for _, x := range d.indicators {
		if strings.EqualFold(fmt.Sprint(x["indicatorValue"]), str("indicatorValue")) && x["indicatorType"] == str("indicatorType") {
			ind = x // submit-or-update: the same value and type updates the indicator
		}
	}
	if ind == nil {
		ind = map[string]any{"id": fmt.Sprint(d.nextIndID), "creationTimeDateTimeUtc": now, "createdBy": d.app.clientID, "sourceType": "AadApp", "source": "vigil", "rbacGroupNames": []any{}}
		d.nextIndID++
		d.indicators = append(d.indicators, ind)
	}
	for _, k := range []string{"indicatorValue", "indicatorType", "action", "title", "description", "severity", "expirationTime", "recommendedActions", "application", "generateAlert", "rbacGroupNames"} {
		if v, ok := in[k]; ok {
			ind[k] = v
		}
	}
	ind["lastUpdateTime"], ind["lastUpdatedBy"] = now, d.app.clientID
	out := clone(ind)
	out["@odata.context"] = "https://api.securitycenter.microsoft.com/api/$metadata#Indicators/$entity"
	writeJSON(w, http.StatusOK, out)
}

func (d *MDE) deleteIndicator(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, x := range d.indicators {
		if x["id"] == r.PathValue("id") {
			d.indicators = append(d.indicators[:i:i], d.indicators[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	mdeError(w, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("Indicator %s was not found", r.PathValue("id")))
}
