// Package connector holds what vigil's connectors to outside services share: the sentinel
// errors callers branch on, the Secret type for credentials, the OAuth2 client-credentials
// token source, and Caller, which sends a service's JSON requests through the egress client.
// Each service has its own subpackage (graph, okta, mde, falcon, webhook); connectortest has
// local fakes of them that speak the real APIs, seeded from the demo organisation. The
// investigate and respond stages use connectors; connectors import no stage.
package connector
