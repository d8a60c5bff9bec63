package msntest

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

const rstTokenLifetime = 24 * time.Hour

// handleRST is the Windows Live ID token service (RST.srf SOAP 1.1 and
// RST2.srf SOAP 1.2). Faults are returned with HTTP 200 like Escargot.
func (s *Server) handleRST(w http.ResponseWriter, r *http.Request, v2 bool) {
	now := time.Now().UTC()
	body, err := readBody(r)
	if err != nil {
		writeXML(w, http.StatusOK, rstFault(v2, now, false))
		return
	}
	root, err := parseXML(body)
	user, pass := root.find("Username").text(), root.find("Password").text()
	if err != nil || user == "" || pass == "" {
		writeXML(w, http.StatusOK, rstFault(v2, now, false))
		return
	}
	var addrs []string
	for _, a := range root.findAll("Address") {
		addrs = append(addrs, a.text())
	}
	s.mu.Lock()
	a := s.accounts[key(user)]
	ok := a != nil && a.password == pass
	var tok string
	var t *token
	var email, cid string
	var puid uint64
	if ok {
		tok, t = s.issueToken(a.email, rstTokenLifetime, true, false)
		email, cid, puid = a.email, fmt.Sprintf("%016X", uint64(a.cidInt())), uint64(a.cidInt())
	}
	s.mu.Unlock()
	if !ok {
		s.log.Debug().Str("email", user).Msg("RST login failed")
		writeXML(w, http.StatusOK, rstFault(v2, now, true))
		return
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	writeXML(w, http.StatusOK, rstResponse(v2, now, email, cid, fmt.Sprintf("%016X", puid), ip, tok, t.binarySecret, addrs))
}

func rstTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// rstFaultHeader is the Passport header of RST faults.
func rstFaultHeader(reqstatus string, now time.Time) string {
	return `	<S:Header>
		<psf:pp xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
			<psf:serverVersion>1</psf:serverVersion>
			<psf:authstate>0x80048800</psf:authstate>
			<psf:reqstatus>` + reqstatus + `</psf:reqstatus>
			<psf:serverInfo Path="Live1" RollingUpgradeState="ExclusiveNew" LocVersion="0" ServerTime="` + rstTime(now) + `">XYZPPLOGN1A23 2017.09.28.12.44.07</psf:serverInfo>
			<psf:cookies/>
			<psf:response/>
		</psf:pp>
	</S:Header>`
}

func rstFault(v2 bool, now time.Time, authFailed bool) string {
	reqstatus := "0x80048821"
	if !v2 && authFailed {
		reqstatus = "0x80048823"
	}
	header := rstFaultHeader(reqstatus, now)
	code, text := "wsse:FailedAuthentication", "Authentication Failure"
	if !authFailed {
		code, text = "S:Client", "Invalid Request"
	}
	if v2 {
		sub := "wst:FailedAuthentication"
		if !authFailed {
			sub = "wst:InvalidRequest"
		}
		return `<?xml version="1.0" encoding="utf-8" ?>
<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wst="http://schemas.xmlsoap.org/ws/2005/02/trust" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
` + header + `
	<S:Body>
		<S:Fault>
			<S:Code>
				<S:Value>S:Sender</S:Value>
				<S:Subcode>
					<S:Value>` + sub + `</S:Value>
				</S:Subcode>
			</S:Code>
			<S:Reason>
				<S:Text xml:lang="en-US">` + text + `</S:Text>
			</S:Reason>
		</S:Fault>
	</S:Body>
</S:Envelope>`
	}
	return `<?xml version="1.0" encoding="utf-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
` + header + `
	<S:Fault>
		<faultcode>` + code + `</faultcode>
		<faultstring>` + text + `</faultstring>
	</S:Fault>
</S:Envelope>
`
}

const legacyCipher = "Cap26AQZrSyMm2SwwTyJKyqLR9/S+vQWQsaBc5Mv7PwtQDMzup/udOOMMvSu99R284pmiD3IepBXrEMLK5rLrXAf2A6vrP6vYuGA45GCqQdoxusHZcjt9P2B8WyCTVT2cM8jtGqGIfRlU/4WzOLxNrDJwDfOsmilduGAGZfvRPW7/jyXXrnGK7/PWkymX4YDD+ygJfMrPAfvAprvw/HVE6tutKVc9cViTVYy8oHjosQlb8MKn3vKDW1O2ZWQUc47JPl7DkjQaanfNBGe6CL7K1nr6Z/jy7Ay7MjV+KQehmvphSEmCzLrpB4WWn2PdpdTrOcDj+aJfWHeGL4sIPwEKgrKnTQg9QD8CCsm5wew9P/br39OuIfsC6/PFBEHmVThqj0aMxYLRD4K2GoRay6Ab7NftoIP5dnFnclfRxETAoNpTPE2F5Q669QySrdXxBpBSk8GLmdCDMlhiyzSiByrhFQaZRcH8n9i+i289otYuJQ7xPyP19KwT4CRyOiIlh3DSdlBfurMwihQGxN2spU7P4MwckrDKeOyYQhvNm/XWId/oXBqpHbo2yRPiOwL9p1J4AxA4RaJuh77vyhn2lFQaxPDqZd5A8RJjpb2NE2N3UncKLW7GAangdoLbRDMqt51VMZ0la+b/moL61fKvFXinKRHc7PybrG3MWzgXxO/VMKAuXOsB9XnOgl2A524cgiwyg=="

// rstResponse builds the token collection: the constant legacy token, then
// one compact ticket per requested address except Passport.NET/tb, in
// request order, numbered Compact<position+1> like Escargot.
func rstResponse(v2 bool, now time.Time, email, cid, puid, ip, tok, secret string, addrs []string) string {
	created, expires := rstTime(now), rstTime(now.Add(rstTokenLifetime))
	envNS, trustNS, wsseNS, wspNS, wsaNS, lifetime := "http://schemas.xmlsoap.org/soap/envelope/", "http://schemas.xmlsoap.org/ws/2004/04/trust",
		"http://schemas.xmlsoap.org/ws/2003/06/secext", "http://schemas.xmlsoap.org/ws/2002/12/policy", "http://schemas.xmlsoap.org/ws/2004/03/addressing", "LifeTime"
	if v2 {
		envNS, trustNS, wsseNS, wspNS, wsaNS, lifetime = "http://www.w3.org/2003/05/soap-envelope", "http://schemas.xmlsoap.org/ws/2005/02/trust",
			"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd", "http://schemas.xmlsoap.org/ws/2004/09/policy", "http://www.w3.org/2005/08/addressing", "Lifetime"
	}
	const wsuNS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<S:Envelope xmlns:S="` + envNS + `" xmlns:wsse="` + wsseNS + `" xmlns:wsu="` + wsuNS + `" xmlns:wsa="` + wsaNS + `">` + "\n\t<S:Header>\n")
	if v2 {
		b.WriteString("\t\t<wsa:Action wsu:Id=\"Action\" S:mustUnderstand=\"1\">http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Issue</wsa:Action>\n")
		b.WriteString("\t\t<wsa:To wsu:Id=\"To\" S:mustUnderstand=\"1\">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>\n")
		b.WriteString("\t\t<wsse:Security S:mustUnderstand=\"1\">\n\t\t\t<wsu:Timestamp wsu:Id=\"TS\">\n\t\t\t\t<wsu:Created>" + created + "</wsu:Created>\n\t\t\t\t<wsu:Expires>" + rstTime(now.Add(5*time.Minute)) + "</wsu:Expires>\n\t\t\t</wsu:Timestamp>\n\t\t</wsse:Security>\n")
	}
	local, _, _ := strings.Cut(email, "@")
	b.WriteString("\t\t<psf:pp xmlns:psf=\"http://schemas.microsoft.com/Passport/SoapServices/SOAPFault\">\n")
	b.WriteString("\t\t\t<psf:serverVersion>1</psf:serverVersion>\n\t\t\t<psf:PUID>" + puid + "</psf:PUID>\n")
	b.WriteString("\t\t\t<psf:configVersion>16.000.26889.00</psf:configVersion>\n\t\t\t<psf:uiVersion>3.100.2179.0</psf:uiVersion>\n")
	b.WriteString("\t\t\t<psf:authstate>0x48803</psf:authstate>\n\t\t\t<psf:reqstatus>0x0</psf:reqstatus>\n")
	b.WriteString("\t\t\t<psf:serverInfo Path=\"Live1\" RollingUpgradeState=\"ExclusiveNew\" LocVersion=\"0\" ServerTime=\"" + created + "\">XYZPPLOGN1A23 2017.10.03.19.00.04</psf:serverInfo>\n")
	b.WriteString("\t\t\t<psf:cookies/>\n\t\t\t<psf:credProperties>\n")
	for _, p := range [][2]string{{"MainBrandID", "MSFT"}, {"BrandIDList", ""}, {"IsWinLiveUser", "true"}, {"CID", cid}, {"AuthMembername", email},
		{"Country", "US"}, {"Language", "1033"}, {"FirstName", local}, {"LastName", ""}, {"ChildFlags", "00000001"}, {"Flags", "40100643"},
		{"FlagsV2", "00000000"}, {"IP", ip}, {"AssociatedForStrongAuth", "0"}} {
		b.WriteString("\t\t\t\t<psf:credProperty Name=\"" + p[0] + "\">" + esc(p[1]) + "</psf:credProperty>\n")
	}
	b.WriteString("\t\t\t</psf:credProperties>\n\t\t\t<psf:extProperties>\n\t\t\t\t<psf:extProperty Name=\"CID\">" + cid + "</psf:extProperty>\n\t\t\t</psf:extProperties>\n")
	b.WriteString("\t\t\t<psf:response/>\n\t\t</psf:pp>\n\t</S:Header>\n\t<S:Body>\n")
	b.WriteString("\t\t<wst:RequestSecurityTokenResponseCollection xmlns:wst=\"" + trustNS + "\" xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\" xmlns:wsp=\"" + wspNS + "\" xmlns:psf=\"http://schemas.microsoft.com/Passport/SoapServices/SOAPFault\">\n")
	writeResp := func(tokenType, addr, tokenXML, proof string) {
		b.WriteString("\t\t\t<wst:RequestSecurityTokenResponse>\n")
		b.WriteString("\t\t\t\t<wst:TokenType>" + tokenType + "</wst:TokenType>\n")
		b.WriteString("\t\t\t\t<wsp:AppliesTo>\n\t\t\t\t\t<wsa:EndpointReference>\n\t\t\t\t\t\t<wsa:Address>" + esc(addr) + "</wsa:Address>\n\t\t\t\t\t</wsa:EndpointReference>\n\t\t\t\t</wsp:AppliesTo>\n")
		b.WriteString("\t\t\t\t<wst:" + lifetime + ">\n\t\t\t\t\t<wsu:Created>" + created + "</wsu:Created>\n\t\t\t\t\t<wsu:Expires>" + expires + "</wsu:Expires>\n\t\t\t\t</wst:" + lifetime + ">\n")
		b.WriteString("\t\t\t\t<wst:RequestedSecurityToken>\n\t\t\t\t\t" + tokenXML + "\n\t\t\t\t</wst:RequestedSecurityToken>\n")
		if proof != "" {
			b.WriteString("\t\t\t\t<wst:RequestedProofToken>\n\t\t\t\t\t<wst:BinarySecret>" + proof + "</wst:BinarySecret>\n\t\t\t\t</wst:RequestedProofToken>\n")
		}
		b.WriteString("\t\t\t</wst:RequestSecurityTokenResponse>\n")
	}
	writeResp("urn:passport:legacy", "http://Passport.NET/tb",
		`<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#" Id="BinaryDAToken0" Type="http://www.w3.org/2001/04/xmlenc#Element"><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#tripledes-cbc"></EncryptionMethod><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:KeyName>http://Passport.NET/STS</ds:KeyName></ds:KeyInfo><CipherData><CipherValue>`+legacyCipher+`</CipherValue></CipherData></EncryptedData>`,
		"tgoPVK67sU36fQKlGLMgWgTXp7oiaQgE")
	for i, addr := range addrs {
		if addr == "http://Passport.NET/tb" || addr == "" {
			continue
		}
		proof := ""
		if addr == "messengerclear.live.com" {
			proof = secret
		}
		ticket := "t=" + tok + mspAuthFiller + "&amp;p="
		writeResp("urn:passport:compact", addr, fmt.Sprintf(`<wsse:BinarySecurityToken Id="Compact%d">%s</wsse:BinarySecurityToken>`, i+1, ticket), proof)
	}
	b.WriteString("\t\t</wst:RequestSecurityTokenResponseCollection>\n\t</S:Body>\n</S:Envelope>\n")
	return b.String()
}
