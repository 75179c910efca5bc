// Package intel is vigil's local threat-intelligence store. The triage stage asks it whether an
// alert's IPs, domains and hashes are known indicators (the "threat intel hit" feature), and the
// investigation's "threat intelligence lookup" tool asks it what is known about a value: which
// feeds list it, with what confidence, for how long, and which malware or threat actor it
// points to. Lookups are local and in memory; nothing is fetched at lookup time.
//
// Feeds are files at paths the user configures, one Source each, reloaded whenever the user's
// download job refreshes them:
//
//   - STIX 2.0/2.1 bundles (FormatSTIX): indicator objects whose STIX patterns are parsed by an
//     in-house parser (see ParsePattern for the grammar), plus malware, tool, threat-actor,
//     intrusion-set, campaign, identity and relationship objects, so that a match can say
//     "indicates malware X, attributed to Y".
//   - MISP events in JSON (FormatMISP): a single event, an array of events, and the
//     events/attributes restSearch responses; attributes inside objects included.
//   - MISP CSV exports (FormatMISPCSV).
//   - CSV feeds with a configurable column mapping (FormatCSV), and plain lists with one
//     indicator a line (FormatList), as abuse.ch, Spamhaus and many others publish them.
//
// Loaders stream: JSON is walked token by token and decoded one object at a time, CSV and lists
// one record at a time, gzip is opened on the fly. A malformed entry is reported as an
// *EntryError naming the file and the entry, and the rest of the feed loads.
//
// Every indicator has a validity window: its feed's valid_from/valid_until where given, else the
// Source's TTL counted from the time it was last seen. Expired and revoked indicators never
// match; Store.Prune removes them. Loading a source again replaces what that source held, so an
// entry dropped from a feed disappears from the store. The same value listed by several sources
// comes back as one Match listing every Sighting.
//
// Values are normalised before they are indexed and looked up: IP addresses to their canonical
// form (IPv4-mapped IPv6 unmapped), domains lower-cased without a trailing dot, hashes
// lower-cased, URLs with a lower-case scheme and host, no default port, no fragment and
// canonical percent-encoding. Feeds' defanged values ("hxxp://evil[.]com") are refanged.
//
// The store survives restarts through Store.Save and Store.LoadSnapshot, a JSON-lines snapshot.
package intel
