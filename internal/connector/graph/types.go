package graph

import (
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
)

// User is an Entra ID user.
type User struct {
	ID                              string    `json:"id"`
	DisplayName                     string    `json:"displayName"`
	GivenName                       string    `json:"givenName"`
	Surname                         string    `json:"surname"`
	UserPrincipalName               string    `json:"userPrincipalName"`
	Mail                            string    `json:"mail"`
	JobTitle                        string    `json:"jobTitle"`
	Department                      string    `json:"department"`
	OfficeLocation                  string    `json:"officeLocation"`
	AccountEnabled                  bool      `json:"accountEnabled"`
	UserType                        string    `json:"userType"`
	UsageLocation                   string    `json:"usageLocation"`
	CreatedDateTime                 time.Time `json:"createdDateTime"`
	OnPremisesSamAccountName        string    `json:"onPremisesSamAccountName"`
	OnPremisesSecurityIdentifier    string    `json:"onPremisesSecurityIdentifier"`
	OnPremisesSyncEnabled           bool      `json:"onPremisesSyncEnabled"`
	SignInSessionsValidFromDateTime time.Time `json:"signInSessionsValidFromDateTime"`
	LastPasswordChangeDateTime      time.Time `json:"lastPasswordChangeDateTime"`
}

// directoryObject is a memberOf entry: a group or a directory role.
type directoryObject struct {
	Type            string `json:"@odata.type"`
	ID              string `json:"id"`
	DisplayName     string `json:"displayName"`
	SecurityEnabled bool   `json:"securityEnabled"`
	MailEnabled     bool   `json:"mailEnabled"`
	RoleTemplateID  string `json:"roleTemplateId"`
}

// Membership is what a user is a direct member of.
type Membership struct {
	Groups []Group
	Roles  []DirectoryRole
}

// Group is a security or Microsoft 365 group.
type Group struct {
	ID              string
	DisplayName     string
	SecurityEnabled bool
	MailEnabled     bool
}

// DirectoryRole is an activated Entra ID role, e.g. Global Administrator.
type DirectoryRole struct {
	ID             string
	DisplayName    string
	RoleTemplateID string
}

// Privileged reports whether the membership includes any directory role.
func (m *Membership) Privileged() bool { return len(m.Roles) > 0 }

// AuthenticationMethod is one registered method. Type is the @odata.type without its
// namespace and suffix, e.g. "password", "microsoftAuthenticator", "fido2", "phone".
type AuthenticationMethod struct {
	ODataType       string    `json:"@odata.type"`
	ID              string    `json:"id"`
	DisplayName     string    `json:"displayName"`
	PhoneNumber     string    `json:"phoneNumber"`
	PhoneType       string    `json:"phoneType"`
	Model           string    `json:"model"`
	CreatedDateTime time.Time `json:"createdDateTime"`
}

// Type returns the method's kind, e.g. "microsoftAuthenticator".
func (m AuthenticationMethod) Type() string {
	t := strings.TrimPrefix(m.ODataType, "#microsoft.graph.")
	return strings.TrimSuffix(t, "AuthenticationMethod")
}

// HasStrongMethod reports whether any method other than a password is registered (a second
// factor or a passwordless method).
func HasStrongMethod(ms []AuthenticationMethod) bool {
	for _, m := range ms {
		if m.Type() != "password" {
			return true
		}
	}
	return false
}

// SignInQuery selects sign-ins; empty fields do not filter.
type SignInQuery struct {
	UserID            string
	UserPrincipalName string
	IPAddress         string
	AppID             string
	Since, Until      time.Time
	FailuresOnly      bool
	Max               int // default DefaultMax
}

// SignIn is an Entra ID sign-in log record.
type SignIn struct {
	ID                      string    `json:"id"`
	CreatedDateTime         time.Time `json:"createdDateTime"`
	UserID                  string    `json:"userId"`
	UserPrincipalName       string    `json:"userPrincipalName"`
	UserDisplayName         string    `json:"userDisplayName"`
	AppID                   string    `json:"appId"`
	AppDisplayName          string    `json:"appDisplayName"`
	IPAddress               string    `json:"ipAddress"`
	ClientAppUsed           string    `json:"clientAppUsed"`
	IsInteractive           bool      `json:"isInteractive"`
	ConditionalAccessStatus string    `json:"conditionalAccessStatus"`
	RiskLevelDuringSignIn   string    `json:"riskLevelDuringSignIn"`
	RiskState               string    `json:"riskState"`
	Status                  struct {
		ErrorCode     int    `json:"errorCode"`
		FailureReason string `json:"failureReason"`
	} `json:"status"`
	Location struct {
		City            string `json:"city"`
		State           string `json:"state"`
		CountryOrRegion string `json:"countryOrRegion"`
	} `json:"location"`
	DeviceDetail struct {
		OperatingSystem string `json:"operatingSystem"`
		Browser         string `json:"browser"`
	} `json:"deviceDetail"`
}

// Succeeded reports whether the sign-in succeeded (error code 0).
func (s SignIn) Succeeded() bool { return s.Status.ErrorCode == 0 }

// AuditQuery selects directory audit records; empty fields do not filter.
type AuditQuery struct {
	Activities        []string // activityDisplayName, any of
	TargetID          string   // a target resource's ID (user, service principal...)
	InitiatedByUserID string
	Since             time.Time
	Max               int
}

// DirectoryAudit is an Entra ID audit log record.
type DirectoryAudit struct {
	ID                  string    `json:"id"`
	Category            string    `json:"category"`
	CorrelationID       string    `json:"correlationId"`
	ActivityDisplayName string    `json:"activityDisplayName"`
	ActivityDateTime    time.Time `json:"activityDateTime"`
	LoggedByService     string    `json:"loggedByService"`
	OperationType       string    `json:"operationType"`
	Result              string    `json:"result"`
	ResultReason        string    `json:"resultReason"`
	InitiatedBy         struct {
		User *struct {
			ID                string `json:"id"`
			UserPrincipalName string `json:"userPrincipalName"`
			IPAddress         string `json:"ipAddress"`
		} `json:"user"`
		App *struct {
			AppID              string `json:"appId"`
			DisplayName        string `json:"displayName"`
			ServicePrincipalID string `json:"servicePrincipalId"`
		} `json:"app"`
	} `json:"initiatedBy"`
	TargetResources []struct {
		ID                string `json:"id"`
		DisplayName       string `json:"displayName"`
		Type              string `json:"type"`
		UserPrincipalName string `json:"userPrincipalName"`
	} `json:"targetResources"`
}

// GrantQuery selects delegated permission grants.
type GrantQuery struct {
	PrincipalID string // the consenting user's object ID
	ClientID    string // the client app's service principal object ID
	Max         int
}

// OAuth2PermissionGrant is a delegated permission grant: consent for a client app to act
// as a user (ConsentType "Principal") or as every user ("AllPrincipals") with Scope.
type OAuth2PermissionGrant struct {
	ID          string `json:"id"`
	ClientID    string `json:"clientId"`
	ConsentType string `json:"consentType"`
	PrincipalID string `json:"principalId"`
	ResourceID  string `json:"resourceId"`
	Scope       string `json:"scope"`
}

// Scopes returns the granted scopes.
func (g OAuth2PermissionGrant) Scopes() []string { return strings.Fields(g.Scope) }

// ServicePrincipal is an app's instance in the tenant.
type ServicePrincipal struct {
	ID                     string    `json:"id"`
	AppID                  string    `json:"appId"`
	DisplayName            string    `json:"displayName"`
	AccountEnabled         bool      `json:"accountEnabled"`
	AppOwnerOrganizationID string    `json:"appOwnerOrganizationId"`
	PublisherName          string    `json:"publisherName"`
	ServicePrincipalType   string    `json:"servicePrincipalType"`
	SignInAudience         string    `json:"signInAudience"`
	ReplyURLs              []string  `json:"replyUrls"`
	Homepage               string    `json:"homepage"`
	CreatedDateTime        time.Time `json:"createdDateTime"`
	VerifiedPublisher      struct {
		DisplayName         string `json:"displayName"`
		VerifiedPublisherID string `json:"verifiedPublisherId"`
	} `json:"verifiedPublisher"`
}

// PublisherVerified reports whether the app's publisher is verified by Microsoft.
func (sp ServicePrincipal) PublisherVerified() bool {
	return sp.VerifiedPublisher.VerifiedPublisherID != ""
}

// RiskyUser is Identity Protection's view of a user.
type RiskyUser struct {
	ID                      string    `json:"id"`
	UserPrincipalName       string    `json:"userPrincipalName"`
	UserDisplayName         string    `json:"userDisplayName"`
	RiskLevel               string    `json:"riskLevel"`  // none, low, medium, high, hidden
	RiskState               string    `json:"riskState"`  // none, atRisk, confirmedCompromised, remediated, dismissed...
	RiskDetail              string    `json:"riskDetail"` // e.g. adminConfirmedUserCompromised
	RiskLastUpdatedDateTime time.Time `json:"riskLastUpdatedDateTime"`
	IsDeleted               bool      `json:"isDeleted"`
	IsProcessing            bool      `json:"isProcessing"`
}

// MessageRule is an Outlook inbox rule.
type MessageRule struct {
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Sequence    int    `json:"sequence,omitempty"`
	IsEnabled   bool   `json:"isEnabled"`
	HasError    bool   `json:"hasError,omitempty"`
	IsReadOnly  bool   `json:"isReadOnly,omitempty"`
	Conditions  struct {
		SenderContains  []string `json:"senderContains,omitempty"`
		SubjectContains []string `json:"subjectContains,omitempty"`
		BodyContains    []string `json:"bodyContains,omitempty"`
	} `json:"conditions,omitempty"`
	Actions struct {
		ForwardTo           []Recipient `json:"forwardTo,omitempty"`
		ForwardAsAttachment []Recipient `json:"forwardAsAttachmentTo,omitempty"`
		RedirectTo          []Recipient `json:"redirectTo,omitempty"`
		MoveToFolder        string      `json:"moveToFolder,omitempty"`
		MarkAsRead          bool        `json:"markAsRead,omitempty"`
		Delete              bool        `json:"delete,omitempty"`
		PermanentDelete     bool        `json:"permanentDelete,omitempty"`
		StopProcessingRules bool        `json:"stopProcessingRules,omitempty"`
	} `json:"actions,omitempty"`
}

// Recipient is a mail address in a rule action.
type Recipient struct {
	EmailAddress struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"emailAddress"`
}

// ForwardsTo returns the addresses the rule forwards or redirects mail to.
func (r MessageRule) ForwardsTo() []string {
	var out []string
	for _, l := range [][]Recipient{r.Actions.ForwardTo, r.Actions.ForwardAsAttachment, r.Actions.RedirectTo} {
		for _, rc := range l {
			out = append(out, rc.EmailAddress.Address)
		}
	}
	return out
}

// PasswordReset says how to reset a password.
type PasswordReset struct {
	// Password to set; empty generates a random one.
	Password connector.Secret
	// ForceChangeNextSignIn makes the user choose a new password at the next sign-in.
	ForceChangeNextSignIn bool
}

// Message is a mail message (the properties an investigation and a quarantine need).
type Message struct {
	ID                string    `json:"id"`
	Subject           string    `json:"subject"`
	From              Recipient `json:"from"`
	Sender            Recipient `json:"sender"`
	ReceivedDateTime  time.Time `json:"receivedDateTime"`
	ParentFolderID    string    `json:"parentFolderId"`
	HasAttachments    bool      `json:"hasAttachments"`
	InternetMessageID string    `json:"internetMessageId"`
	IsRead            bool      `json:"isRead"`
}
