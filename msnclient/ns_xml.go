package msnclient

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// maxXMLPayload bounds the XML payloads we decode (UBX, ADL, NOT).
const maxXMLPayload = 64 << 10

var errXMLTooLarge = errors.New("msn: XML payload too large")

// ubxData is the part of a UBX payload we use. Only direct children of the
// root count, as on Escargot.
type ubxData struct {
	PSM          *string `xml:"PSM"`
	CurrentMedia string  `xml:"CurrentMedia"`
}

// parseUBX decodes a UBX payload; an empty payload means no data.
func parseUBX(payload []byte) (ubxData, error) {
	var d ubxData
	if len(bytes.TrimSpace(payload)) == 0 {
		return d, nil
	}
	if len(payload) > maxXMLPayload {
		return d, errXMLTooLarge
	}
	if err := xmlsafe.Unmarshal(payload, &d); err != nil {
		return ubxData{}, fmt.Errorf("decode UBX: %w", err)
	}
	if d.PSM != nil {
		psm := msnp.CleanText(*d.PSM)
		d.PSM = &psm
	}
	d.CurrentMedia = msnp.CleanText(d.CurrentMedia)
	return d, nil
}

// buildUUX builds our personal message payload.
func buildUUX(d *dialect, psm, media, guid string) []byte {
	var b bytes.Buffer
	b.WriteString("<Data><PSM>")
	b.WriteString(xmlsafe.EscapeLossy(psm))
	b.WriteString("</PSM><CurrentMedia>")
	b.WriteString(xmlsafe.EscapeLossy(media))
	b.WriteString("</CurrentMedia>")
	if d.uuxMachineGUID {
		b.WriteString("<MachineGuid>")
		b.WriteString(xmlsafe.EscapeLossy(guid))
		b.WriteString("</MachineGuid>")
	}
	b.WriteString("</Data>")
	return b.Bytes()
}

// mlEntry is one contact of an <ml> list.
type mlEntry struct {
	Email        string
	Lists        Lists
	Network      Network
	FriendlyName string // f= of server-initiated ADL
}

type mlXML struct {
	XMLName xml.Name `xml:"ml"`
	L       string   `xml:"l,attr"`
	Domains []struct {
		Name     string `xml:"n,attr"`
		Contacts []struct {
			Name     string `xml:"n,attr"`
			Lists    string `xml:"l,attr"`
			Network  string `xml:"t,attr"`
			Friendly string `xml:"f,attr"`
		} `xml:"c"`
	} `xml:"d"`
}

// parseML decodes an <ml> payload of a server ADL/RML or FQY. Entries with
// an invalid address are skipped.
func parseML(payload []byte) ([]mlEntry, error) {
	if len(payload) > maxXMLPayload {
		return nil, errXMLTooLarge
	}
	var ml mlXML
	if err := xmlsafe.Unmarshal(payload, &ml); err != nil {
		return nil, fmt.Errorf("decode ml: %w", err)
	}
	var out []mlEntry
	for _, d := range ml.Domains {
		for _, ct := range d.Contacts {
			email, err := checkEmail(ct.Name + "@" + d.Name)
			if err != nil {
				continue
			}
			e := mlEntry{Email: email, Network: NetworkMSN, FriendlyName: decodeName(ct.Friendly)}
			if n, err := strconv.Atoi(ct.Lists); err == nil && n >= 0 && n <= 0xff {
				e.Lists = Lists(n)
			}
			if n, err := strconv.Atoi(ct.Network); err == nil && n > 0 {
				e.Network = Network(n)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// maxMLContacts bounds the contacts of one ADL/RML payload (MSN's limit was
// about 150 per command).
const maxMLContacts = 150

// buildML builds <ml> payloads for entries: one domain per payload (Escargot
// processes only one domain per non-initial ADL), at most maxMLContacts per
// payload. initial marks the login list (l="1"); with no entries an initial
// list is one empty <ml l="1"></ml>.
func buildML(entries []mlEntry, initial bool) [][]byte {
	byDomain := make(map[string][]mlEntry)
	var domains []string
	for _, e := range entries {
		_, domain, _ := strings.Cut(e.Email, "@")
		if _, ok := byDomain[domain]; !ok {
			domains = append(domains, domain)
		}
		byDomain[domain] = append(byDomain[domain], e)
	}
	sort.Strings(domains)
	open := "<ml>"
	if initial {
		open = `<ml l="1">`
	}
	var out [][]byte
	if len(entries) == 0 && initial {
		return [][]byte{[]byte(open + "</ml>")}
	}
	for _, domain := range domains {
		list := byDomain[domain]
		for len(list) > 0 {
			n := min(len(list), maxMLContacts)
			var b bytes.Buffer
			b.WriteString(open)
			b.WriteString(`<d n="`)
			b.WriteString(xmlsafe.EscapeLossy(domain))
			b.WriteString(`">`)
			for _, e := range list[:n] {
				local, _, _ := strings.Cut(e.Email, "@")
				b.WriteString(`<c n="`)
				b.WriteString(xmlsafe.EscapeLossy(local))
				fmt.Fprintf(&b, `" l="%d" t="%d" />`, e.Lists, e.Network)
			}
			b.WriteString("</d></ml>")
			out = append(out, b.Bytes())
			list = list[n:]
		}
	}
	return out
}

// notification is the part of an address-book NOT payload we use.
type notification struct {
	XMLName xml.Name `xml:"NOTIFICATION"`
	Body    string   `xml:"MSG>BODY"`
}

// isAddressBookNotification reports whether a NOT payload says the address
// book changed (ABCHInternal); other notifications (alerts) are opaque.
func isAddressBookNotification(payload []byte) (bool, error) {
	if len(payload) > maxXMLPayload {
		return false, errXMLTooLarge
	}
	var n notification
	if err := xmlsafe.Unmarshal(payload, &n); err != nil {
		return false, fmt.Errorf("decode NOT: %w", err)
	}
	return strings.Contains(n.Body, "ABCHInternal"), nil
}

// decodeName decodes a percent-encoded name received from the server; CR,
// LF and NUL become spaces so that a name can never break a line later.
func decodeName(s string) string { return msnp.CleanText(msnp.DecodeParam(s)) }
