package connectortest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/demo"
)

// Falcon is a fake of the CrowdStrike Falcon API (OAuth2, hosts, containment, custom IOCs).
//
// Paths: POST /oauth2/token (form client_id, client_secret); GET
// /devices/queries/devices/v1?filter=&limit=&offset= (FQL, meta.pagination); GET
// /devices/entities/devices/v2?ids=; POST
// /devices/entities/devices-actions/v2?action_name=contain|lift_containment ({"ids":[...]});
// GET /iocs/queries/indicators/v1?filter=; GET, POST and DELETE /iocs/entities/indicators/v1.
//
// Containment goes through containment_pending (and lift through lift_containment_pending)
// for ActionLatency reads of the device (default 1), then shows contained (or normal).
// Containing a contained host is accepted and changes nothing.
type Falcon struct {
	*fake
	org      *demo.Org
	clientID string
	secret   connector.Secret
	cid      string
	seed     *seed

	// mu guards the state below.
	mu      sync.Mutex
	devices []map[string]any
	reads   map[string]int // device ID -> reads while an action is pending
	iocs    []map[string]any
	latency int
}

// NewFalcon starts a Falcon fake seeded from org.
func NewFalcon(org *demo.Org, opts ...Option) *Falcon {
	fc := &Falcon{fake: newFake(), org: org, clientID: randHex(16), secret: connector.Secret(randHex(20)), cid: strings.ToUpper(randHex(16)), seed: newSeed(4, opts), reads: map[string]int{}, latency: 1}
	fc.seedState()
	f := fc.fake
	f.open = func(r *http.Request) bool { return r.URL.Path == "/oauth2/token" }
	f.authorized = f.bearerValid
	f.unauthorized = func(w http.ResponseWriter) {
		falconError(w, http.StatusUnauthorized, "access denied, invalid bearer token")
	}
	f.rateLimited = func(w http.ResponseWriter, wait time.Duration) {
		reset := time.Now().Add(wait)
		secs := reset.Unix()
		if reset.Nanosecond() > 0 {
			secs++
		}
		w.Header().Set("X-Ratelimit-Limit", "6000")
		w.Header().Set("X-Ratelimit-Remaining", "0")
		w.Header().Set("X-Ratelimit-Retryafter", strconv.FormatInt(secs, 10))
		falconError(w, http.StatusTooManyRequests, "API rate limit exceeded.")
	}
	f.serverError = func(w http.ResponseWriter, status int) {
		falconError(w, status, "Internal Server Error. Please try again.")
	}
	m := f.mux
	m.HandleFunc("POST /oauth2/token", fc.token)
	m.HandleFunc("GET /devices/queries/devices/v1", fc.queryDevices)
	m.HandleFunc("GET /devices/entities/devices/v2", fc.getDevices)
	m.HandleFunc("POST /devices/entities/devices-actions/v2", fc.deviceAction)
	m.HandleFunc("GET /iocs/queries/indicators/v1", fc.queryIOCs)
	m.HandleFunc("GET /iocs/entities/indicators/v1", fc.getIOCs)
	m.HandleFunc("POST /iocs/entities/indicators/v1", fc.createIOCs)
	m.HandleFunc("DELETE /iocs/entities/indicators/v1", fc.deleteIOCs)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { falconError(w, http.StatusNotFound, "Not Found") })
	f.start()
	return fc
}

// FalconCredentials are the API client credentials the Falcon fake accepts.
type FalconCredentials struct {
	ClientID     string
	ClientSecret connector.Secret
}

// Credentials returns the API client credentials the fake accepts.
func (fc *Falcon) Credentials() FalconCredentials {
	return FalconCredentials{ClientID: fc.clientID, ClientSecret: fc.secret}
}

// SetActionLatency sets how many reads of a device still show a containment change pending.
func (fc *Falcon) SetActionLatency(reads int) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.latency = reads
}

// Status returns a device's containment status (normal, containment_pending, contained,
// lift_containment_pending) without counting as a read.
func (fc *Falcon) Status(deviceID string) string {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if d := fc.device(deviceID); d != nil {
		return d["status"].(string)
	}
	return ""
}

func falconMeta() map[string]any {
	return map[string]any{"query_time": 0.004, "powered_by": "crowdstrike-api-gateway", "trace_id": uuid()}
}

func falconError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("X-Cs-Traceid", uuid())
	writeJSON(w, status, map[string]any{"meta": falconMeta(), "errors": []any{map[string]any{"code": status, "message": msg}}, "resources": []any{}})
}

func falconOK(w http.ResponseWriter, status int, resources any, errs []any, pagination map[string]any) {
	meta := falconMeta()
	if pagination != nil {
		meta["pagination"] = pagination
	}
	if errs == nil {
		errs = []any{}
	}
	writeJSON(w, status, map[string]any{"meta": meta, "resources": resources, "errors": errs})
}

func (fc *Falcon) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") != fc.clientID ||
		subtle.ConstantTimeCompare([]byte(r.PostForm.Get("client_secret")), []byte(fc.secret.Reveal())) != 1 {
		falconError(w, http.StatusForbidden, "Failed to issue access token - Not Authorized")
		return
	}
	tok, ttl := fc.issueToken()
	writeJSON(w, http.StatusCreated, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": int(ttl / time.Second)})
}

func productType(role string) string {
	switch role {
	case "domain_controller":
		return "Domain Controller"
	case "server":
		return "Server"
	}
	return "Workstation"
}

func (fc *Falcon) seedState() {
	o, s := fc.org, fc.seed
	for i, h := range o.Hosts {
		platform := "Windows"
		if strings.HasPrefix(h.OS, "Ubuntu") {
			platform = "Linux"
		}
		mac := fmt.Sprintf("00-15-5d-%02x-%02x-%02x", i, i*7%256, i*13%256)
		fc.devices = append(fc.devices, map[string]any{
			"device_id": h.AgentID, "cid": strings.ToLower(fc.cid), "agent_version": "7.14.18408.0", "hostname": h.Name,
			"local_ip": h.IP, "external_ip": "198.51.100.10", "mac_address": mac, "platform_name": platform, "os_version": h.OS,
			"product_type_desc": productType(h.Role), "machine_domain": strings.ToLower(o.Domain) + ".corp." + o.DNS,
			"status": "normal", "first_seen": ts(s.day.AddDate(-1, 0, -i)), "last_seen": ts(s.ransomware.Add(time.Hour)),
			"tags":                []any{"FalconGroupingTags/Criticality-" + h.Criticality, "FalconGroupingTags/Role-" + strings.ReplaceAll(h.Role, "_", "-")},
			"system_manufacturer": "Microsoft Corporation", "modified_timestamp": ts(s.ransomware.Add(time.Hour)),
			"device_policies": map[string]any{"prevention": map[string]any{"policy_type": "prevention", "policy_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "applied": true}},
		})
	}
}

// device finds a device. Callers hold fc.mu.
func (fc *Falcon) device(id string) map[string]any {
	for _, d := range fc.devices {
		if d["device_id"] == id {
			return d
		}
	}
	return nil
}

// fqlTerm is one "field:'value'" (or field:!'value', field:['a','b'], field:*'pre*') term.
type fqlTerm struct {
	field  string
	not    bool
	values []string
	glob   bool
}

// parseFQL parses the subset of the Falcon Query Language the fake supports: terms joined
// by "+" (and).
func parseFQL(s string) ([]fqlTerm, error) {
	var terms []fqlTerm
	for _, part := range splitOutsideQuotes(s, '+') {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		field, val, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("invalid filter term %q", part)
		}
		t := fqlTerm{field: strings.TrimSpace(field)}
		if strings.HasPrefix(val, "!") {
			t.not, val = true, val[1:]
		}
		if strings.HasPrefix(val, "*") {
			t.glob, val = true, val[1:]
		}
		if strings.HasPrefix(val, "[") && strings.HasSuffix(val, "]") {
			for _, v := range splitOutsideQuotes(val[1:len(val)-1], ',') {
				t.values = append(t.values, strings.Trim(strings.TrimSpace(v), "'\""))
			}
		} else {
			if len(val) < 2 || !(val[0] == '\'' || val[0] == '"') || val[len(val)-1] != val[0] {
				return nil, fmt.Errorf("invalid filter value in %q", part)
			}
			t.values = []string{val[1 : len(val)-1]}
		}
		terms = append(terms, t)
	}
	return terms, nil
}

func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote == 0 && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func fqlMatch(terms []fqlTerm, doc map[string]any) bool {
	for _, t := range terms {
		var vals []string
		switch v := doc[t.field].(type) {
		case []any:
			for _, x := range v {
				vals = append(vals, fmt.Sprint(x))
			}
		case nil:
		default:
			vals = []string{fmt.Sprint(v)}
		}
		hit := false
		for _, have := range vals {
			for _, want := range t.values {
				if t.glob || strings.Contains(want, "*") {
					pre := strings.TrimSuffix(strings.TrimPrefix(want, "*"), "*")
					if strings.Contains(strings.ToLower(have), strings.ToLower(pre)) {
						hit = true
					}
				} else if strings.EqualFold(have, want) {
					hit = true
				}
			}
		}
		if hit == t.not {
			return false
		}
	}
	return true
}

// paginate answers a query endpoint with IDs, offset/limit paging capped at the page size.
func (fc *Falcon) paginate(w http.ResponseWriter, r *http.Request, ids []string) {
	q := r.URL.Query()
	limit, offset := 100, 0
	var err error
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 5000 {
			falconError(w, http.StatusBadRequest, "limit must be between 1 and 5000")
			return
		}
	}
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			falconError(w, http.StatusBadRequest, "invalid offset")
			return
		}
	}
	limit = min(limit, fc.seed.pageSize)
	page := []string{}
	if offset < len(ids) {
		page = ids[offset:min(offset+limit, len(ids))]
	}
	falconOK(w, http.StatusOK, page, nil, map[string]any{"offset": offset, "limit": limit, "total": len(ids)})
}

func (fc *Falcon) queryDevices(w http.ResponseWriter, r *http.Request) {
	terms, err := parseFQL(r.URL.Query().Get("filter"))
	if err != nil {
		falconError(w, http.StatusBadRequest, "Invalid filter: "+err.Error())
		return
	}
	fc.mu.Lock()
	var ids []string
	for _, d := range fc.devices {
		if fqlMatch(terms, d) {
			ids = append(ids, d["device_id"].(string))
		}
	}
	fc.mu.Unlock()
	fc.paginate(w, r, ids)
}

// view returns a device as a read shows it, settling a pending containment change. Callers
// hold fc.mu.
func (fc *Falcon) view(d map[string]any) map[string]any {
	id := d["device_id"].(string)
	switch d["status"] {
	case "containment_pending", "lift_containment_pending":
		fc.reads[id]++
		if fc.reads[id] > fc.latency {
			if d["status"] == "containment_pending" {
				d["status"] = "contained"
			} else {
				d["status"] = "normal"
			}
			delete(fc.reads, id)
		}
	}
	return clone(d)
}

func (fc *Falcon) getDevices(w http.ResponseWriter, r *http.Request) {
	ids := r.URL.Query()["ids"]
	if len(ids) == 0 {
		falconError(w, http.StatusBadRequest, "ids is required")
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	found := []map[string]any{}
	var errs []any
	for _, id := range ids {
		if d := fc.device(id); d != nil {
			found = append(found, fc.view(d))
		} else {
			errs = append(errs, map[string]any{"code": 404, "message": "Resource not found", "id": id})
		}
	}
	status := http.StatusOK
	if len(found) == 0 {
		status = http.StatusNotFound
	}
	falconOK(w, status, found, errs, nil)
}

func (fc *Falcon) deviceAction(w http.ResponseWriter, r *http.Request) {
	action := r.URL.Query().Get("action_name")
	if action != "contain" && action != "lift_containment" {
		falconError(w, http.StatusBadRequest, fmt.Sprintf("action_name %q is not one of contain, lift_containment, hide_host, unhide_host", action))
		return
	}
	var body struct {
		IDs []string `json:"ids"`
	}
	if err := decodeBody(r, &body); err != nil || len(body.IDs) == 0 {
		falconError(w, http.StatusBadRequest, "ids is required")
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, id := range body.IDs {
		if fc.device(id) == nil {
			falconError(w, http.StatusNotFound, "Device not found: "+id)
			return
		}
	}
	var res []any
	for _, id := range body.IDs {
		d := fc.device(id)
		switch st := d["status"]; {
		case action == "contain" && (st == "normal" || st == "lift_containment_pending"):
			d["status"] = "containment_pending"
			fc.reads[id] = 0
		case action == "lift_containment" && (st == "contained" || st == "containment_pending"):
			d["status"] = "lift_containment_pending"
			fc.reads[id] = 0
		}
		d["modified_timestamp"] = ts(time.Now())
		res = append(res, map[string]any{"id": id, "path": "/devices/entities/devices/v1"})
	}
	falconOK(w, http.StatusAccepted, res, nil, nil)
}

var (
	iocTypes   = map[string]bool{"sha256": true, "md5": true, "domain": true, "ipv4": true, "ipv6": true}
	iocActions = map[string]bool{"no_action": true, "allow": true, "prevent_no_ui": true, "detect": true, "prevent": true}
)

func (fc *Falcon) ioc(id string) int {
	for i, x := range fc.iocs {
		if x["id"] == id {
			return i
		}
	}
	return -1
}

func (fc *Falcon) queryIOCs(w http.ResponseWriter, r *http.Request) {
	terms, err := parseFQL(r.URL.Query().Get("filter"))
	if err != nil {
		falconError(w, http.StatusBadRequest, "Invalid filter: "+err.Error())
		return
	}
	fc.mu.Lock()
	var ids []string
	for _, x := range fc.iocs {
		if fqlMatch(terms, x) {
			ids = append(ids, x["id"].(string))
		}
	}
	fc.mu.Unlock()
	fc.paginate(w, r, ids)
}

func (fc *Falcon) getIOCs(w http.ResponseWriter, r *http.Request) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	found := []map[string]any{}
	var errs []any
	for _, id := range r.URL.Query()["ids"] {
		if i := fc.ioc(id); i >= 0 {
			found = append(found, clone(fc.iocs[i]))
		} else {
			errs = append(errs, map[string]any{"code": 404, "message": "Could not find indicator " + id, "id": id})
		}
	}
	status := http.StatusOK
	if len(found) == 0 {
		status = http.StatusNotFound
	}
	falconOK(w, status, found, errs, nil)
}

func (fc *Falcon) createIOCs(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Comment    string           `json:"comment"`
		Indicators []map[string]any `json:"indicators"`
	}
	if err := decodeBody(r, &body); err != nil || len(body.Indicators) == 0 {
		falconError(w, http.StatusBadRequest, "indicators is required")
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var created []any
	for _, in := range body.Indicators {
		typ, _ := in["type"].(string)
		val, _ := in["value"].(string)
		action, _ := in["action"].(string)
		switch {
		case !iocTypes[typ]:
			falconError(w, http.StatusBadRequest, fmt.Sprintf("Invalid type: %q", typ))
			return
		case val == "":
			falconError(w, http.StatusBadRequest, "value is required")
			return
		case !iocActions[action]:
			falconError(w, http.StatusBadRequest, fmt.Sprintf("Invalid action: %q", action))
			return
		case (action == "prevent" || action == "prevent_no_ui") && typ != "sha256" && typ != "md5":
			falconError(w, http.StatusBadRequest, fmt.Sprintf("Action %q is only valid for hash types, not %q", action, typ))
			return
		}
		for _, x := range fc.iocs {
			if x["type"] == typ && strings.EqualFold(x["value"].(string), val) {
				falconError(w, http.StatusBadRequest, fmt.Sprintf("Duplicate type: '%s' and value: '%s' combination.", typ, val))
				return
			}
		}
		sum := sha256.Sum256([]byte(typ + ":" + strings.ToLower(val)))
		now := ts(time.Now())
		x := map[string]any{
			"id": hex.EncodeToString(sum[:]), "type": typ, "value": val, "action": action, "severity": in["severity"],
			"description": in["description"], "platforms": in["platforms"], "tags": in["tags"], "source": in["source"],
			"applied_globally": in["applied_globally"], "host_groups": []any{}, "expiration": in["expiration"],
			"expired": false, "deleted": false, "created_on": now, "created_by": fc.clientID, "modified_on": now, "modified_by": fc.clientID,
		}
		fc.iocs = append(fc.iocs, x)
		created = append(created, clone(x))
	}
	falconOK(w, http.StatusCreated, created, nil, nil)
}

func (fc *Falcon) deleteIOCs(w http.ResponseWriter, r *http.Request) {
	ids := r.URL.Query()["ids"]
	if len(ids) == 0 {
		falconError(w, http.StatusBadRequest, "ids is required")
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var deleted []string
	for _, id := range ids {
		if i := fc.ioc(id); i >= 0 {
			fc.iocs = append(fc.iocs[:i:i], fc.iocs[i+1:]...)
			deleted = append(deleted, id)
		}
	}
	if len(deleted) == 0 {
		falconError(w, http.StatusNotFound, "Could not find indicators "+strings.Join(ids, ","))
		return
	}
	falconOK(w, http.StatusOK, deleted, nil, nil)
}
