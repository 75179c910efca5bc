// Package query is vigil's hunting language: the text an analyst types, or that the
// natural-language front end (internal/ask) writes, to search the stored events, and the
// evaluator that answers it from the event store. It sits beside the pipeline, reading what
// the pipeline stored: Parse turns text into a Query, Query.String gives its canonical text
// (what the API and CLI show), and Run evaluates it against a Searcher (store.Store is one).
//
// # A tour
//
//	class = authentication status = failure user = alice | since 7d
//	class = authentication user = alice | since 7d | first_seen country by user
//	process = powershell.exe cmd ~ "-enc(odedcommand)? " | count by host
//	dns.query = "*.biz" | since 24h | count by src_ip
//	src_ip = 10.0.0.0/8 not dst_ip = 10.0.0.0/8 dst_endpoint.port in (22, 3389) | limit 20
//	mimikatz or "sekurlsa::" | since 30d | sort time asc | fields time, host, user, cmd
//	http.status_code >= 500 | between 2026-03-01 and 2026-03-02 | count by url
//
// A query is an optional expression that selects events, then stages after "|" that filter,
// group, order, cut and trim them.
//
// # Grammar
//
//	query   := [expr] { "|" stage }
//	expr    := andExpr { "or" andExpr }
//	andExpr := unary { ["and"] unary }          -- adjacency means and
//	unary   := "not" unary | "(" expr ")" | cmp | text
//	cmp     := FIELD op value | FIELD "in" "(" value { "," value } ")"
//	op      := "=" | "!=" | ">" | ">=" | "<" | "<=" | "~"
//	value   := STRING | WORD
//	text    := STRING | WORD
//	stage   := "since" DURATION
//	         | "between" TIME "and" TIME
//	         | "where" expr
//	         | "first_seen" FIELD "by" FIELD [ "within" DURATION ]
//	         | "count" [ "by" FIELD { "," FIELD } ]
//	         | "sort" FIELD [ "asc" | "desc" ]
//	         | "limit" NUMBER
//	         | "fields" FIELD { "," FIELD }
//
// A WORD is a bare run of letters, digits and . _ - : / \ * @ $ +. A STRING is text in double
// quotes, where \" is a quote and \\ a backslash; a backslash before any other character stands
// for itself, so "\.exe$" and "C:\Windows" mean what they show. not binds tightest, then
// and, then or; parentheses group. A WORD followed by an operator or by in is a field name;
// otherwise a WORD or STRING is free text.
//
// Keywords are case-insensitive: and, or, not, in, since, between, where, first_seen, by,
// within, count, sort, asc, desc, limit, fields. A keyword used as a value or as free text needs
// quotes: user = "count".
//
// DURATION is a whole number and a unit: m (minutes), h (hours), d (days) or w (weeks), like
// 30m, 24h, 7d, 2w; at most 100 years. TIME is an RFC 3339 time (2026-03-01T12:00:00Z), a date
// (2026-03-01, midnight UTC) or a span before Options.Now written with a minus sign (-7d).
//
// # Fields
//
// Field names are the event's JSON paths (see internal/event): time, class, activity, kind,
// code, message, status, status_detail, severity_id, product, service, category,
// user.{name,domain,uid,email_addr,type}, target_user.{same}, device.{hostname,ip,os},
// src_endpoint.{ip,port,hostname,country,city,agent}, dst_endpoint.{same},
// process.{name,path,cmd_line,user,integrity,pid,uid},
// process.parent_process.{name,path,cmd_line}, file.{path,name,share},
// connection_info.{protocol_name,direction}, http.{http_method,url,status_code,user_agent},
// dns.{query,type,rcode}, registry.{key,value,data},
// cloud.{provider,service,operation,resource,app,app_id},
// auth.{logon_type,auth_protocol,method,is_mfa}, email.{from,subject},
// finding.{tool,rule_id,title,category}, and unmapped.NAME for a source field the normalizer
// did not map (by its flattened dotted name). Fields lists them with a description each.
//
// Aliases: host = device.hostname, user = user.name, src_ip = src_endpoint.ip,
// dst_ip = dst_endpoint.ip, country = src_endpoint.country, process = process.name,
// cmd = process.cmd_line, parent = process.parent_process.name, domain = dns.query,
// url = http.url, rule = finding.title, and ip, which stands for src_endpoint.ip and
// dst_endpoint.ip at once: ip = X holds when either is X, ip != X when neither is. ip may be
// compared and listed in fields, but not used in first_seen, count or sort, which need one
// value. user.name and target_user.name compare as accounts: a bare name (no "\" or "@")
// also equals that name under any domain, so user = alice holds for EXAMPLE\alice and
// alice@example.com (store.UserMatches, which the store's user filter uses too); a wildcard
// matches the name as written. The country fields compare as ISO 3166 codes: sources write "Brazil" or "BR", and
// country = brazil, country = BR, first_seen country and count by country treat them as one.
// Field names are case-insensitive (the NAME after unmapped. is matched exactly first,
// then ignoring case). String prints canonical names. An unknown field is a SyntaxError that
// suggests the closest known name.
//
// Values to know: status is "success" or "failure"; class is an OCSF class name in snake_case
// (authentication, process_activity, network_activity, dns_activity, http_activity,
// file_activity, registry_activity, api_activity, detection_finding, account_change, ...);
// severity_id is 0 (unknown) to 5 (critical); auth.is_mfa is true or false.
//
// # Semantics
//
// Comparison ignores case: two strings are equal when strings.ToLower makes them equal, as the
// store compares host, user and process names. A missing field, or a zero number such as an
// absent port, equals "": user.name != alice holds for an event without a user, and
// user.name = "" selects such events.
//
// = and != (and in, which is = against any listed value) treat * in the value as a wildcard
// for any run of characters: host = "ws-*". There is no escape for a literal * there. On IP
// fields (device.ip, src_endpoint.ip, dst_endpoint.ip, ip) a value with a / is a CIDR prefix:
// src_ip = 10.0.0.0/8 holds for any address inside it (IPv4-mapped IPv6 addresses count as
// IPv4).
//
// ~ matches an RE2 regular expression anywhere in the value, ignoring case; anchor it with ^
// and $ to match the whole value. A missing field is matched as "".
//
// >, >=, < and <= compare numerically when both sides are decimal numbers, and otherwise as
// lower-cased strings. They never hold for a missing field. On time they take a TIME (so
// time >= -1h is the last hour) and are the only operators time takes.
//
// Free text holds when the message or any string field (names, paths, command lines,
// addresses, URLs, ..., and the unmapped values) contains it, ignoring case. * is literal
// there.
//
// # Stages
//
// Stages come in this order: filters (since, between, where, first_seen, in any order; since,
// between and where may repeat), then count or sort, then limit and fields (in either order).
// count goes with neither sort nor fields.
//
//   - since D keeps events at most D before Options.Now (time >= now-D).
//   - between A and B keeps events with A <= time < B.
//   - where E keeps events that satisfy E, exactly as if E were and-ed to the main expression.
//   - first_seen F by K [within D] keeps an event only if no earlier stored event, of any
//     class, at most D before it (default 30d), had the same K value and the same F value
//     (both ignoring case); events with an empty F or K are dropped. "first_seen country by
//     user" after "class = authentication user = alice" keeps alice's first logon from each
//     country that she had not used in the 30 days before it.
//   - count [by F, ...] replaces the events by rows: the by-values and how many events have
//     them (grouped ignoring case; a row shows the values of its newest event), highest count
//     first, then by values. Without by there is one row, the total.
//   - sort F [asc|desc] orders events by F, ascending by default: events without F first, then
//     numbers in numeric order, then other values ignoring case; ties keep newest first.
//   - limit N returns at most N events or rows (1 to 10000; default 100).
//   - fields F, ... keeps only these fields (and the event ID) in the returned events.
//
// Without sort, events come back newest first.
//
// # Alerts
//
// WithAlerts wraps a Searcher so that the alerts (vigil's detections and other tools' alerts)
// answer beside the events, as detection_finding events (see AlertEvent): finding.title (rule),
// code and finding.rule_id (the rule ID), finding.tool (the detector), host, user, addresses,
// severity, and the triage outcome in unmapped.disposition, unmapped.score and
// unmapped.incident. A query whose class is another one reads no alerts. Alerts are read newest
// first in pages of 2,000 (at most 100,000 per search), so a search for the newest few reads
// few. The API, the CLI and the investigation tool run queries this way.
//
// # Evaluation
//
// Run hands the store what it can answer exactly, from the top-level and-terms of the main
// expression and of where stages and from the time stages: the time range, and equality on
// host, user, process name, IP and code (for values without letters) and class, and one free
// text. The whole query is also evaluated in store.EventQuery.Match, so the store's limit counts
// matching events and pushing down never changes the answer. Options.MaxScan bounds the events
// examined (default 100000) in the main search and, separately, in first_seen's history
// lookups; when it is hit, or a limit cuts the answer, Result.Truncated is set.
//
// # Limits
//
// A query is at most 4096 bytes, and so is its canonical text (aliases and and written out),
// nests at most 32 parentheses and nots, and lists at most 64 values in one in; a regular expression may hold at most about 10000 steps once its repeats
// are multiplied out. A bad regular expression, time, duration, CIDR prefix or limit is a
// SyntaxError, printed as "query: at column N: message". Parse never panics; its recursion is
// bounded by the nesting limit.
package query
