package mde

import (
	"strings"
	"time"
)

// Machine is a device onboarded to Defender for Endpoint.
type Machine struct {
	ID                    string    `json:"id"`
	ComputerDNSName       string    `json:"computerDnsName"`
	FirstSeen             time.Time `json:"firstSeen"`
	LastSeen              time.Time `json:"lastSeen"`
	OSPlatform            string    `json:"osPlatform"`
	Version               string    `json:"version"`
	OSBuild               string    `json:"osBuild"`
	LastIPAddress         string    `json:"lastIpAddress"`
	LastExternalIPAddress string    `json:"lastExternalIpAddress"`
	AgentVersion          string    `json:"agentVersion"`
	HealthStatus          string    `json:"healthStatus"`
	OnboardingStatus      string    `json:"onboardingStatus"`
	RiskScore             string    `json:"riskScore"`     // None, Informational, Low, Medium, High
	ExposureLevel         string    `json:"exposureLevel"` // None, Low, Medium, High
	DeviceValue           string    `json:"deviceValue"`   // Low, Normal, High
	RBACGroupName         string    `json:"rbacGroupName"`
	IsAADJoined           bool      `json:"isAadJoined"`
	AADDeviceID           string    `json:"aadDeviceId"`
	MachineTags           []string  `json:"machineTags"`
}

// Tag returns the value of a "key:value" machine tag, e.g. Tag("criticality").
func (m Machine) Tag(key string) string {
	for _, t := range m.MachineTags {
		if k, v, ok := strings.Cut(t, ":"); ok && strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// MachineQuery selects machines; empty fields do not filter.
type MachineQuery struct {
	DNSName    string // computerDnsName, exact
	NamePrefix string // computerDnsName prefix
	IPAddress  string // lastIpAddress
	RiskScore  string
	Tag        string // a machine tag, exact
	Max        int
}

// Alert is a Defender alert.
type Alert struct {
	ID                string    `json:"id"`
	IncidentID        int64     `json:"incidentId"`
	Title             string    `json:"title"`
	Description       string    `json:"description"`
	Severity          string    `json:"severity"` // Informational, Low, Medium, High
	Status            string    `json:"status"`   // New, InProgress, Resolved
	Category          string    `json:"category"`
	DetectionSource   string    `json:"detectionSource"`
	MachineID         string    `json:"machineId"`
	ComputerDNSName   string    `json:"computerDnsName"`
	AlertCreationTime time.Time `json:"alertCreationTime"`
	FirstEventTime    time.Time `json:"firstEventTime"`
	LastEventTime     time.Time `json:"lastEventTime"`
	MitreTechniques   []string  `json:"mitreTechniques"`
	RelatedUser       *struct {
		UserName   string `json:"userName"`
		DomainName string `json:"domainName"`
	} `json:"relatedUser"`
}

// Machine action types and statuses.
const (
	ActionIsolate   = "Isolate"
	ActionUnisolate = "Unisolate"

	StatusPending    = "Pending"
	StatusInProgress = "InProgress"
	StatusSucceeded  = "Succeeded"
	StatusFailed     = "Failed"
	StatusTimeOut    = "TimeOut"
	StatusCancelled  = "Cancelled"

	IsolationFull      = "Full"
	IsolationSelective = "Selective"
)

// MachineAction is an asynchronous action on a machine.
type MachineAction struct {
	ID                    string    `json:"id"`
	Type                  string    `json:"type"`
	Scope                 string    `json:"scope"`
	Requestor             string    `json:"requestor"`
	RequestorComment      string    `json:"requestorComment"`
	Status                string    `json:"status"`
	MachineID             string    `json:"machineId"`
	ComputerDNSName       string    `json:"computerDnsName"`
	CreationDateTimeUtc   time.Time `json:"creationDateTimeUtc"`
	LastUpdateDateTimeUtc time.Time `json:"lastUpdateDateTimeUtc"`
	ErrorHResult          int       `json:"errorHResult"`
}

// InProgress reports whether the action has not ended yet.
func (a MachineAction) InProgress() bool {
	return a.Status == StatusPending || a.Status == StatusInProgress
}

// IsolationState is a machine's isolation as its actions tell it.
type IsolationState struct {
	Isolated bool           // per the latest succeeded Isolate/Unisolate
	Last     *MachineAction // that action, if any
	Pending  *MachineAction // the newest Isolate/Unisolate still in progress, if any
}

// Indicator is a custom indicator of compromise.
type Indicator struct {
	ID                 string     `json:"id,omitempty"`
	Value              string     `json:"indicatorValue"`
	Type               string     `json:"indicatorType"` // FileSha256, FileSha1, FileMd5, IpAddress, DomainName, Url, CertificateThumbprint
	Action             string     `json:"action"`        // Block, BlockAndRemediate, Alert, AlertAndBlock, Audit, Warn, Allowed
	Title              string     `json:"title"`
	Description        string     `json:"description"`
	Severity           string     `json:"severity,omitempty"` // Informational, Low, Medium, High
	Application        string     `json:"application,omitempty"`
	RecommendedActions string     `json:"recommendedActions,omitempty"`
	ExpirationTime     *time.Time `json:"expirationTime,omitempty"`
	GenerateAlert      bool       `json:"generateAlert"`
	RBACGroupNames     []string   `json:"rbacGroupNames,omitempty"`
	CreatedBy          string     `json:"createdBy,omitempty"`
	CreationTime       *time.Time `json:"creationTimeDateTimeUtc,omitempty"`
	LastUpdateTime     *time.Time `json:"lastUpdateTime,omitempty"`
}

// request is the submit body: the indicator without its server-set fields.
func (in Indicator) request() Indicator {
	in.ID, in.CreatedBy, in.CreationTime, in.LastUpdateTime = "", "", nil, nil
	return in
}
