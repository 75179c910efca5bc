package connectortest

import "github.com/vigil-soc/vigil/internal/demo"

// Servers are all the fakes, started together for `vigil demo` and for tests that use
// several connectors. Each fake gives its base URL (URL) and the credentials it accepts
// (Graph and MDE: Credentials, whose Authority is the fake itself; Okta: APIToken; Falcon:
// Credentials; Webhook: Secret, APIKey, HookURL). Clients reach them through an egress
// client allowed to the loopback address (AllowLoopback).
type Servers struct {
	Graph   *Graph
	Okta    *Okta
	MDE     *MDE
	Falcon  *Falcon
	Webhook *Webhook
}

// Start starts every fake, seeded from org with the same timeline.
func Start(org *demo.Org, opts ...Option) *Servers {
	return &Servers{
		Graph:   NewGraph(org, opts...),
		Okta:    NewOkta(org, opts...),
		MDE:     NewMDE(org, opts...),
		Falcon:  NewFalcon(org, opts...),
		Webhook: NewWebhook(org),
	}
}

// AllowList returns the egress allow-list entries that reach the fakes.
func (s *Servers) AllowList() []string { return append([]string(nil), AllowLoopback...) }

// Close stops every fake.
func (s *Servers) Close() {
	for _, f := range []interface{ Close() }{s.Graph, s.Okta, s.MDE, s.Falcon, s.Webhook} {
		f.Close()
	}
}
