// Package winfield holds facts about Windows event fields that a reader of a Windows event
// needs when its rendering has lost them: which fields Windows (and EVTX, and so Sigma rules)
// renders as hexadecimal numbers.
//
// Velociraptor's parse_evtx writes the HexInt32 and HexInt64 values of an event as plain JSON
// numbers (GrantedAccess 4112 where the EVTX record and every Sigma rule say 0x1010); Hex and
// AppendHex give such a value back its EVTX text. The table of hexadecimal fields is generated
// from the value types of the EVTX samples the project tests with (see hex_test.go, -update).
package winfield

import "strconv"

// systemHex names the System fields that are always hexadecimal: Keywords is a HexInt64 in
// every event's System section.
var systemHex = map[string]bool{"Keywords": true}

// SystemHex reports whether the System field name is rendered as a hexadecimal number.
func SystemHex(name string) bool { return systemHex[name] }

// key is an entry of the hexadecimal field table: a field of a channel's events, or of one
// event ID of the channel when the field's type depends on the event.
type key struct{ channel, eventID, field string }

// Hex reports whether EventData (or UserData) field of the events eventID of channel is a
// hexadecimal number in the EVTX rendering.
func Hex(channel, eventID, field string) bool {
	if hexFields[key{channel, "", field}] {
		return true
	}
	return eventID != "" && hexFields[key{channel, eventID, field}]
}

// AppendHex appends the EVTX text of the decimal integer dec ("4112" -> "0x1010": lower-case
// digits after 0x, as Windows renders HexInt values) to dst. ok is false, and dst unchanged,
// when dec is not a decimal integer that fits 64 bits.
func AppendHex(dst []byte, dec string) (_ []byte, ok bool) {
	if dec == "" || dec[0] < '0' || dec[0] > '9' {
		return dst, false
	}
	n, err := strconv.ParseUint(dec, 10, 64)
	if err != nil {
		return dst, false
	}
	return strconv.AppendUint(append(dst, '0', 'x'), n, 16), true
}
