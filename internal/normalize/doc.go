// Package normalize is vigil's normalize stage: it sits between ingest and detect and turns one
// raw record (a JSON object or a text line, as an ingest source received it) into an
// event.Event shaped after OCSF, or, for alerts raised by other tools, into an event.Alert
// that enters the pipeline at triage.
//
// A small registry of normalizers covers the formats vigil reads: Windows event logs (Sysmon,
// Security, System, PowerShell and any other channel, in the evtx_dump JSON shape that
// internal/evtx writes, the flat NXLog/OTRF shape and the Winlogbeat shape), Linux
// auth.log/syslog lines (via internal/syslog) and auditd records, web server access logs, Okta,
// Entra ID sign-in and audit logs, the Azure Activity Log (Azure Monitor's export and Log
// Analytics' AzureActivity table), the Microsoft 365 unified audit log, AWS CloudTrail, Wazuh
// and Suricata EVE, CEF/LEEF lines (via internal/cef), and any other JSON object or text line.
// Each normalizer has an ID, a cheap detector (the sender's hint first, then the presence of
// characteristic keys) and a mapping. Normalizers returns the IDs.
//
// JSON is decoded once, into a small tree whose strings share one copy of the input and whose
// nodes come from a pooled arena. A mapping marks what it consumes; every other non-null leaf
// lands in Event.Unmapped under a dotted name (at most 1,000 per record), so no field of a
// record is lost. Windows records keep the names internal/evtx's Record.Fields gives the Sigma
// engine (EventData names as they are, Provider_Name, Execution_ProcessID, ...). Each event
// also carries the Sigma logsource triple (Product, Service, Category) that the detect stage
// selects rules with, and Observables derived from its typed facets.
//
// Normalizers never panic on input. A record that cannot be read returns an error wrapping
// ErrMalformed that names the byte offset or the field; a well-formed JSON object that no
// normalizer recognises is not an error but a base_event with every field in Unmapped, and an
// unrecognised text line a base_event with the line as Message.
//
// Event, Alert and AITRow are safe for concurrent use.
package normalize
