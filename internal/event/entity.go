package event

// EntityKind names a kind of thing in the entity graph.
type EntityKind string

// Entity kinds.
const (
	EntityHost    EntityKind = "host"
	EntityUser    EntityKind = "user"
	EntityIP      EntityKind = "ip"
	EntityProcess EntityKind = "process"
	EntityFile    EntityKind = "file"
	EntityHash    EntityKind = "hash"
	EntityDomain  EntityKind = "domain"
	EntityURL     EntityKind = "url"
	EntityApp     EntityKind = "app"
	EntityGrant   EntityKind = "oauth_grant"
	EntityMailbox EntityKind = "mailbox"
	EntityCloud   EntityKind = "cloud_resource"
)

// EntityRef names one entity: its kind and a canonical value (host names and user names
// lower-cased, users as "domain\name" or a UPN as the source gives it).
type EntityRef struct {
	Kind  EntityKind `json:"kind"`
	Value string     `json:"value"`
	// Role says how the entity took part: "actor", "target", "src", "dst", "host", "parent".
	Role string `json:"role,omitempty"`
	// Aliases are other names the same entity went by in the sources (for a user: the
	// "DOMAIN\name", UPN, SID or bare name that resolved to Value).
	Aliases []string `json:"aliases,omitempty"`
}

// Key returns "kind:value", the entity's unique key.
func (e EntityRef) Key() string { return string(e.Kind) + ":" + e.Value }
