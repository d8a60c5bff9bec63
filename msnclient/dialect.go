package msnclient

import "fmt"

// authScheme is the USR authentication method of a dialect.
type authScheme int

const (
	authTweener authScheme = iota // USR TWN: Passport 1.4 (MSNP8-14)
	authSSO                       // USR SSO: RST/RST2 + MBI response (MSNP15+)
)

// dialect holds every per-version difference of the notification server
// protocol. It is chosen once per connection (dialectFor) so that the rest of
// the code asks a named question instead of comparing version numbers.
//
// The switchboard code reads it through Client.dialect().
type dialect struct {
	version int

	// Login.
	auth          authScheme
	rst2          bool   // MSNP18: RST2.srf (falls back to RSTURL)
	machineGUID   bool   // MSNP16+: machine GUID in USR SSO S; MPOP endpoints
	nameInUSROK   bool   // MSNP8-9: USR OK carries our friendly name
	clientVersion string // CVR client version of the matching official client

	// Contact list.
	addressBook     bool     // MSNP13+: ABCH SOAP + ADL/RML; else SYN
	abPaged         bool     // MSNP16+: ABFindContactsPaged instead of ABFindAll
	synArgs         []string // SYN parameters after the trid
	contactGUIDs    bool     // MSNP10+: LST N=/F=/C=, ADC, GUID groups, REM FL by GUID
	lstNetworkField bool     // MSNP12: LST has a constant field before the groups
	pendingList     bool     // MSNP11+: PL exists (REM PL clears a request)
	fqy             bool     // MSNP14+: FQY exists

	// Presence.
	renameWithREA    bool   // MSNP8-9: REA; MSNP10+: PRP MFN
	msnObjectInCHG   bool   // MSNP9+: CHG may carry an MSNObject
	caps             string // capabilities sent in CHG ("caps" or "caps:capsex")
	psm              bool   // MSNP11+: UUX/UBX personal message
	presenceNetID    bool   // MSNP14-17: "ILN t ST email 1 name …", "UBX email 1 len"
	presencePrefixed bool   // MSNP18: "NLN ST 1:email …", "UBX 1:email len", "FLN 1:email"
	initialNLN       bool   // MSNP18: the initial burst uses NLN, not ILN
	uuxMachineGUID   bool   // MSNP13+: <MachineGuid> in UUX <Data>

	// Offline messages.
	oimNotify bool // MSNP11+: Mail-Data notifications list waiting offline messages
	oimSend   bool // MSNP13+: offline messages can be sent (OIM store)
	uum       bool // MSNP18: UUM with Dest-Agent: client stores an offline message

	// Circles.
	circles bool // MSNP18: circles (USR SHA, circle ADL, SDG/PUT/NFY)

	// Switchboard (read by the switchboard code).
	sbCaps bool // MSNP12+: IRO/JOI carry capabilities
	sbMPOP bool // MSNP16+: IRO/JOI/USR/ANS use email;{guid}
}

// supportedVersions are the dialects this package speaks, highest first.
var supportedVersions = []int{18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8}

// dialectFor returns the dialect of an MSNP version, or an error when the
// version is not supported.
func dialectFor(version int) (*dialect, error) {
	if version < 8 || version > 18 {
		return nil, fmt.Errorf("msn: unsupported protocol version MSNP%d", version)
	}
	v := version
	d := &dialect{
		version:          v,
		auth:             authTweener,
		rst2:             v >= 18,
		machineGUID:      v >= 16,
		nameInUSROK:      v <= 9,
		clientVersion:    clientVersions[v],
		addressBook:      v >= 13,
		abPaged:          v >= 16,
		synArgs:          []string{"0"},
		contactGUIDs:     v >= 10,
		lstNetworkField:  v == 12,
		pendingList:      v >= 11,
		fqy:              v >= 14,
		renameWithREA:    v <= 9,
		msnObjectInCHG:   v >= 9,
		caps:             clientCaps[v],
		psm:              v >= 11,
		presenceNetID:    v >= 14 && v <= 17,
		presencePrefixed: v >= 18,
		initialNLN:       v >= 18,
		uuxMachineGUID:   v >= 13,
		oimNotify:        v >= 11,
		oimSend:          v >= 13,
		uum:              v >= 18,
		circles:          v >= 18,
		sbCaps:           v >= 12,
		sbMPOP:           v >= 16,
	}
	if v >= 15 {
		d.auth = authSSO
	}
	if v >= 10 {
		d.synArgs = []string{"0", "0"}
	}
	return d, nil
}

// clientVersions is the CVR client version of the official client of each
// dialect.
var clientVersions = map[int]string{
	8: "5.0.0540", 9: "6.0.0602", 10: "6.2.0208", 11: "7.0.0816", 12: "7.5.0324",
	13: "8.0.0792", 14: "8.1.0178", 15: "8.5.1302", 16: "9.0.1407", 17: "9.0.1407",
	18: "14.0.8117.0416",
}

// clientCaps are the capabilities we announce: the MSNC nibble of the
// dialect's client (capped at MSNC8, P2P version 1) and no feature flags, and
// in MSNP16+ an empty capsex (no P2P version 2).
var clientCaps = map[int]string{
	8: "268435456", 9: "268435456", 10: "805306368", 11: "1073741824", 12: "1342177280",
	13: "1610612736", 14: "1610612736", 15: "2147483648",
	16: "2147483648:0", 17: "2147483648:0", 18: "2147483648:0",
}

// offeredVersions filters the configured versions to supported ones,
// keeping their order; empty means all supported versions.
func offeredVersions(cfg []int) []int {
	if len(cfg) == 0 {
		return supportedVersions
	}
	out := make([]int, 0, len(cfg))
	for _, v := range cfg {
		if v >= 8 && v <= 18 {
			out = append(out, v)
		}
	}
	return out
}
