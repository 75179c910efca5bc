package cef

// ValueType is the data type the CEF specification gives an extension key.
type ValueType uint8

// The CEF data types.
const (
	TypeString ValueType = iota
	TypeInteger
	TypeLong
	TypeFloat  // "Floating Point"
	TypeDouble // geographic coordinates
	TypeIP     // IPv4, or IPv4 or IPv6 in CEF 1
	TypeIPv6
	TypeMAC
	TypeTime // "Time Stamp": see ParseTime
)

var typeNames = [...]string{"String", "Integer", "Long", "Floating Point", "Double", "IP Address", "IPv6 Address", "MAC Address", "Time Stamp"}

// String returns the specification's name for the type, such as "Time Stamp".
func (t ValueType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Unknown"
}

// KeyInfo describes one standard CEF extension key.
type KeyInfo struct {
	// Key is the short name used on the wire, such as "src".
	Key string
	// FullName is the ArcSight field name, such as "sourceAddress". Some keys have no short form;
	// then Key and FullName are equal.
	FullName string
	Type     ValueType
	// MaxLen is the specification's length limit for strings; 0 when none is given.
	MaxLen int
}

// keys is the extension dictionary of the CEF specification ("Implementing ArcSight Common Event
// Format", revision 25): the ArcSight-defined keys a producer may use.
var keys = []KeyInfo{
	{"act", "deviceAction", TypeString, 63},
	{"app", "applicationProtocol", TypeString, 31},
	{"c6a1", "deviceCustomIPv6Address1", TypeIPv6, 0},
	{"c6a1Label", "deviceCustomIPv6Address1Label", TypeString, 1023},
	{"c6a2", "deviceCustomIPv6Address2", TypeIPv6, 0},
	{"c6a2Label", "deviceCustomIPv6Address2Label", TypeString, 1023},
	{"c6a3", "deviceCustomIPv6Address3", TypeIPv6, 0},
	{"c6a3Label", "deviceCustomIPv6Address3Label", TypeString, 1023},
	{"c6a4", "deviceCustomIPv6Address4", TypeIPv6, 0},
	{"c6a4Label", "deviceCustomIPv6Address4Label", TypeString, 1023},
	{"cat", "deviceEventCategory", TypeString, 1023},
	{"cfp1", "deviceCustomFloatingPoint1", TypeFloat, 0},
	{"cfp1Label", "deviceCustomFloatingPoint1Label", TypeString, 1023},
	{"cfp2", "deviceCustomFloatingPoint2", TypeFloat, 0},
	{"cfp2Label", "deviceCustomFloatingPoint2Label", TypeString, 1023},
	{"cfp3", "deviceCustomFloatingPoint3", TypeFloat, 0},
	{"cfp3Label", "deviceCustomFloatingPoint3Label", TypeString, 1023},
	{"cfp4", "deviceCustomFloatingPoint4", TypeFloat, 0},
	{"cfp4Label", "deviceCustomFloatingPoint4Label", TypeString, 1023},
	{"cn1", "deviceCustomNumber1", TypeLong, 0},
	{"cn1Label", "deviceCustomNumber1Label", TypeString, 1023},
	{"cn2", "deviceCustomNumber2", TypeLong, 0},
	{"cn2Label", "deviceCustomNumber2Label", TypeString, 1023},
	{"cn3", "deviceCustomNumber3", TypeLong, 0},
	{"cn3Label", "deviceCustomNumber3Label", TypeString, 1023},
	{"cnt", "baseEventCount", TypeInteger, 0},
	{"cs1", "deviceCustomString1", TypeString, 4000},
	{"cs1Label", "deviceCustomString1Label", TypeString, 1023},
	{"cs2", "deviceCustomString2", TypeString, 4000},
	{"cs2Label", "deviceCustomString2Label", TypeString, 1023},
	{"cs3", "deviceCustomString3", TypeString, 4000},
	{"cs3Label", "deviceCustomString3Label", TypeString, 1023},
	{"cs4", "deviceCustomString4", TypeString, 4000},
	{"cs4Label", "deviceCustomString4Label", TypeString, 1023},
	{"cs5", "deviceCustomString5", TypeString, 4000},
	{"cs5Label", "deviceCustomString5Label", TypeString, 1023},
	{"cs6", "deviceCustomString6", TypeString, 4000},
	{"cs6Label", "deviceCustomString6Label", TypeString, 1023},
	{"destinationDnsDomain", "destinationDnsDomain", TypeString, 255},
	{"destinationServiceName", "destinationServiceName", TypeString, 1023},
	{"destinationTranslatedAddress", "destinationTranslatedAddress", TypeIP, 0},
	{"destinationTranslatedPort", "destinationTranslatedPort", TypeInteger, 0},
	{"deviceCustomDate1", "deviceCustomDate1", TypeTime, 0},
	{"deviceCustomDate1Label", "deviceCustomDate1Label", TypeString, 1023},
	{"deviceCustomDate2", "deviceCustomDate2", TypeTime, 0},
	{"deviceCustomDate2Label", "deviceCustomDate2Label", TypeString, 1023},
	{"deviceDirection", "deviceDirection", TypeInteger, 0},
	{"deviceDnsDomain", "deviceDnsDomain", TypeString, 255},
	{"deviceExternalId", "deviceExternalId", TypeString, 255},
	{"deviceFacility", "deviceFacility", TypeString, 1023},
	{"deviceInboundInterface", "deviceInboundInterface", TypeString, 128},
	{"deviceNtDomain", "deviceNtDomain", TypeString, 255},
	{"deviceOutboundInterface", "deviceOutboundInterface", TypeString, 128},
	{"devicePayloadId", "devicePayloadId", TypeString, 128},
	{"deviceProcessName", "deviceProcessName", TypeString, 1023},
	{"deviceTranslatedAddress", "deviceTranslatedAddress", TypeIP, 0},
	{"dhost", "destinationHostName", TypeString, 1023},
	{"dmac", "destinationMacAddress", TypeMAC, 0},
	{"dntdom", "destinationNtDomain", TypeString, 255},
	{"dpid", "destinationProcessId", TypeInteger, 0},
	{"dpriv", "destinationUserPrivileges", TypeString, 1023},
	{"dproc", "destinationProcessName", TypeString, 1023},
	{"dpt", "destinationPort", TypeInteger, 0},
	{"dst", "destinationAddress", TypeIP, 0},
	{"dtz", "deviceTimeZone", TypeString, 255},
	{"duid", "destinationUserId", TypeString, 1023},
	{"duser", "destinationUserName", TypeString, 1023},
	{"dvc", "deviceAddress", TypeIP, 0},
	{"dvchost", "deviceHostName", TypeString, 100},
	{"dvcmac", "deviceMacAddress", TypeMAC, 0},
	{"dvcpid", "deviceProcessId", TypeInteger, 0},
	{"end", "endTime", TypeTime, 0},
	{"externalId", "externalId", TypeString, 40},
	{"fileCreateTime", "fileCreateTime", TypeTime, 0},
	{"fileHash", "fileHash", TypeString, 255},
	{"fileId", "fileId", TypeString, 1023},
	{"fileModificationTime", "fileModificationTime", TypeTime, 0},
	{"filePath", "filePath", TypeString, 1023},
	{"filePermission", "filePermission", TypeString, 1023},
	{"fileType", "fileType", TypeString, 1023},
	{"flexDate1", "flexDate1", TypeTime, 0},
	{"flexDate1Label", "flexDate1Label", TypeString, 128},
	{"flexNumber1", "flexNumber1", TypeLong, 0},
	{"flexNumber1Label", "flexNumber1Label", TypeString, 128},
	{"flexNumber2", "flexNumber2", TypeLong, 0},
	{"flexNumber2Label", "flexNumber2Label", TypeString, 128},
	{"flexString1", "flexString1", TypeString, 1023},
	{"flexString1Label", "flexString1Label", TypeString, 128},
	{"flexString2", "flexString2", TypeString, 1023},
	{"flexString2Label", "flexString2Label", TypeString, 128},
	{"fname", "filename", TypeString, 1023},
	{"fsize", "fileSize", TypeInteger, 0},
	{"in", "bytesIn", TypeInteger, 0},
	{"msg", "message", TypeString, 1023},
	{"oldFileCreateTime", "oldFileCreateTime", TypeTime, 0},
	{"oldFileHash", "oldFileHash", TypeString, 255},
	{"oldFileId", "oldFileId", TypeString, 1023},
	{"oldFileModificationTime", "oldFileModificationTime", TypeTime, 0},
	{"oldFileName", "oldFileName", TypeString, 1023},
	{"oldFilePath", "oldFilePath", TypeString, 1023},
	{"oldFilePermission", "oldFilePermission", TypeString, 1023},
	{"oldFileSize", "oldFileSize", TypeInteger, 0},
	{"oldFileType", "oldFileType", TypeString, 1023},
	{"out", "bytesOut", TypeInteger, 0},
	{"outcome", "eventOutcome", TypeString, 63},
	{"proto", "transportProtocol", TypeString, 31},
	{"reason", "reason", TypeString, 1023},
	{"request", "requestUrl", TypeString, 1023},
	{"requestClientApplication", "requestClientApplication", TypeString, 1023},
	{"requestContext", "requestContext", TypeString, 2048},
	{"requestCookies", "requestCookies", TypeString, 1023},
	{"requestMethod", "requestMethod", TypeString, 1023},
	{"rt", "deviceReceiptTime", TypeTime, 0},
	{"shost", "sourceHostName", TypeString, 1023},
	{"smac", "sourceMacAddress", TypeMAC, 0},
	{"sntdom", "sourceNtDomain", TypeString, 255},
	{"sourceDnsDomain", "sourceDnsDomain", TypeString, 255},
	{"sourceServiceName", "sourceServiceName", TypeString, 1023},
	{"sourceTranslatedAddress", "sourceTranslatedAddress", TypeIP, 0},
	{"sourceTranslatedPort", "sourceTranslatedPort", TypeInteger, 0},
	{"spid", "sourceProcessId", TypeInteger, 0},
	{"spriv", "sourceUserPrivileges", TypeString, 1023},
	{"sproc", "sourceProcessName", TypeString, 1023},
	{"spt", "sourcePort", TypeInteger, 0},
	{"src", "sourceAddress", TypeIP, 0},
	{"start", "startTime", TypeTime, 0},
	{"suid", "sourceUserId", TypeString, 1023},
	{"suser", "sourceUserName", TypeString, 1023},
	{"type", "type", TypeInteger, 0},
	// Keys ArcSight connectors add.
	{"agentDnsDomain", "agentDnsDomain", TypeString, 255},
	{"agentNtDomain", "agentNtDomain", TypeString, 255},
	{"agentTranslatedAddress", "agentTranslatedAddress", TypeIP, 0},
	{"agentTranslatedZoneExternalID", "agentTranslatedZoneExternalID", TypeString, 200},
	{"agentTranslatedZoneURI", "agentTranslatedZoneURI", TypeString, 2048},
	{"agentZoneExternalID", "agentZoneExternalID", TypeString, 200},
	{"agentZoneURI", "agentZoneURI", TypeString, 2048},
	{"agt", "agentAddress", TypeIP, 0},
	{"ahost", "agentHostName", TypeString, 1023},
	{"aid", "agentId", TypeString, 40},
	{"amac", "agentMacAddress", TypeMAC, 0},
	{"art", "agentReceiptTime", TypeTime, 0},
	{"at", "agentType", TypeString, 63},
	{"atz", "agentTimeZone", TypeString, 255},
	{"av", "agentVersion", TypeString, 31},
	{"customerExternalID", "customerExternalID", TypeString, 200},
	{"customerURI", "customerURI", TypeString, 2048},
	{"destinationTranslatedZoneExternalID", "destinationTranslatedZoneExternalID", TypeString, 200},
	{"destinationTranslatedZoneURI", "destinationTranslatedZoneURI", TypeString, 2048},
	{"destinationZoneExternalID", "destinationZoneExternalID", TypeString, 200},
	{"destinationZoneURI", "destinationZoneURI", TypeString, 2048},
	{"deviceTranslatedZoneExternalID", "deviceTranslatedZoneExternalID", TypeString, 200},
	{"deviceTranslatedZoneURI", "deviceTranslatedZoneURI", TypeString, 2048},
	{"deviceZoneExternalID", "deviceZoneExternalID", TypeString, 200},
	{"deviceZoneURI", "deviceZoneURI", TypeString, 2048},
	{"dlat", "destinationGeoLatitude", TypeDouble, 0},
	{"dlong", "destinationGeoLongitude", TypeDouble, 0},
	{"eventId", "eventId", TypeLong, 0},
	{"rawEvent", "rawEvent", TypeString, 4000},
	{"slat", "sourceGeoLatitude", TypeDouble, 0},
	{"slong", "sourceGeoLongitude", TypeDouble, 0},
	{"sourceTranslatedZoneExternalID", "sourceTranslatedZoneExternalID", TypeString, 200},
	{"sourceTranslatedZoneURI", "sourceTranslatedZoneURI", TypeString, 2048},
	{"sourceZoneExternalID", "sourceZoneExternalID", TypeString, 200},
	{"sourceZoneURI", "sourceZoneURI", TypeString, 2048},
}

// byName indexes keys by both their short and their full name.
var byName = func() map[string]KeyInfo {
	m := make(map[string]KeyInfo, 2*len(keys))
	for _, k := range keys {
		m[k.Key] = k
		m[k.FullName] = k
	}
	return m
}()

// Lookup returns the dictionary entry for a key, by its short name ("src") or its full name
// ("sourceAddress").
func Lookup(key string) (KeyInfo, bool) {
	k, ok := byName[key]
	return k, ok
}

// Keys returns the dictionary, ordered as the specification lists it. The slice is a copy.
func Keys() []KeyInfo { return append([]KeyInfo(nil), keys...) }
