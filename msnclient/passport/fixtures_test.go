package passport

import (
	"fmt"
	"strings"
)

// Escargot-shaped responses, built after front/msn/tmpl/RST/*.xml of
// subpurple/escargot: pretty-printed, tokens numbered Compact2…, faults
// with HTTP 200.

const testPPToken = "0123456789abcdef0123"
const testFiller = "Y6+H31sTUOFkqjNTDYqAAFLr5Ote7BMrMnUIzpg860jh084QMgs5djRQLLQP0TVOFkKdWDwAJdEWcfsI9YL8otN9kSfhTaPHR1njHmG0H98O2NE/Ck6zrog3UJFmYlCnHidZk1g3AzUNVXmjZoyMSyVvoHLjQSzoGRpgHg3hHdi7zrFhcYKWD8XeNYdoz9wfA2YAAAgZIgF9kFvsy2AC0Fl/ezc/fSo6YgB9TwmXyoK0wm0F9nz5EfhHQLu2xxgsvMOiXUSFSpN1cZaNzEk/KGVa3Z33Mcu0qJqvXoLyv2VjQyI0VLH6YlW5E+GMwWcQurXB9hT/DnddM5Ggzk3nX8uMSV4kV+AgF1EWpiCdLViRI6DmwwYDtUJU6W6wQXsfyTm6CNMv0eE0wFXmZvoKaL24fggkp99dX+m1vgMQJ39JblVH9cmnnkBQcKkV8lnQJ003fd6iIFzGpgPBW5Z3T1Bp7uzSGMWnHmrEw8eOpKC5ny4x8uoViXDmA2UId23xYSoJ/GQrMjqB+NslqnuVsOBE1oWpNrmfSKhGU1X0kR4Eves56t5i5n3XU+7ne0MkcUzlrMi89n2j8aouf0zeuD7o+ngqvfRCsOqjaU71XWtuD4ogu2X7/Ajtwkxg/UJDFGAnCxFTTd4dqrrEpKyMK8eWBMaartFxwwrH39HMpx1T9JgknJ1hFWELzG8b302sKy64nCseOTGaZrdH63pjGkT7vzyIxVH/b+yJwDRmy/PlLz7fmUj6zpTBNmCtl1EGFOEFdtI2R04EprIkLXbtpoIPA7m0TPZURpnWufCSsDtD91ChxR8j/FnQ/gOOyKg/EJrTcHvM1e50PMRmoRZGlltBRRwBV+ArPO64On6zygr5zud5o/aADF1laBjkuYkjvUVsXwgnaIKbTLN2+sr/WjogxT1Yins79jPa1+3dDenxZtE/rHA/6qsdJmo5BJZqNYQUFrnpkU428LryMnBaNp2BW51JRsWXPAA7yCi0wDlHzEDxpqaOnhI4Ol87ra+VAg=="
const testSecret = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"

// testTicket is the unescaped compact ticket.
const testTicket = "t=" + testPPToken + testFiller + "&p="

func rstEnvelope(v2 bool, tokenXML string) string {
	if v2 {
		return `<?xml version="1.0" encoding="utf-8"?>
<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wsa="http://www.w3.org/2005/08/addressing">
<S:Header>
	<wsa:Action xmlns:S="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" wsu:Id="Action" S:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Issue</wsa:Action>
	<wsse:Security S:mustUnderstand="1">
		<wsu:Timestamp xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" wsu:Id="TS">
			<wsu:Created>2026-11-25T23:00:00Z</wsu:Created>
			<wsu:Expires>2026-11-25T23:05:00Z</wsu:Expires>
		</wsu:Timestamp>
	</wsse:Security>
    <psf:pp xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
    <psf:serverVersion>1</psf:serverVersion>
    <psf:PUID>00000000DEADBEEF</psf:PUID>
    <psf:authstate>0x48803</psf:authstate>
    <psf:reqstatus>0x0</psf:reqstatus>
    <psf:credProperties>
        <psf:credProperty Name="CID">1122334455667788</psf:credProperty>
        <psf:credProperty Name="AuthMembername">alice@example.com</psf:credProperty>
    </psf:credProperties>
    <psf:extProperties>
        <psf:extProperty Name="ANON" Expiry="Wed, 30-Dec-2037 16:00:00 GMT" Domains="bing.com;atdmt.com" IgnoreRememberMe="false">A=2AD1B6380CC38C61A2E95994FFFFFFFF&amp;E=1456&amp;W=1</psf:extProperty>
    </psf:extProperties>
    <psf:response/>
</psf:pp>
</S:Header>
<S:Body>
    <wst:RequestSecurityTokenResponseCollection xmlns:S="http://www.w3.org/2003/05/soap-envelope" xmlns:wst="http://schemas.xmlsoap.org/ws/2005/02/trust" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
        <wst:RequestSecurityTokenResponse>
            <wst:TokenType>urn:passport:legacy</wst:TokenType>
            <wsp:AppliesTo xmlns:wsa="http://www.w3.org/2005/08/addressing">
                <wsa:EndpointReference>
                    <wsa:Address>http://Passport.NET/tb</wsa:Address>
                </wsa:EndpointReference>
            </wsp:AppliesTo>
            <wst:Lifetime>
                <wsu:Created>2026-11-25T23:00:00Z</wsu:Created>
                <wsu:Expires>2026-11-26T23:00:00Z</wsu:Expires>
            </wst:Lifetime>
            <wst:RequestedSecurityToken>
                <EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#" Id="BinaryDAToken0" Type="http://www.w3.org/2001/04/xmlenc#Element">
                    <EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#tripledes-cbc"></EncryptionMethod>
                    <CipherData>
                        <CipherValue>Cap26AQZrSyMm2SwwTyJKyqLR9/S+vQWQsaBc5Mv7PwtQDMzup/udOOMMvSu99R284pmiD3IepBXrEMLK5rLrXAf2A6vrP6vYuGA45GCqQdoxusHZcjt9P2B8WyCTVT2cM8jtGqGIfRlU/4WzOLxNrDJwDfOsmilduGAGZfvRPW7/jyXXrnGK7/PWkymX4YDD+ygJfMrPAfvAprvw==</CipherValue>
                    </CipherData>
                </EncryptedData>
            </wst:RequestedSecurityToken>
            <wst:RequestedProofToken>
                <wst:BinarySecret>tgoPVK67sU36fQKlGLMgWgTXp7oiaQgE</wst:BinarySecret>
            </wst:RequestedProofToken>
        </wst:RequestSecurityTokenResponse>
` + tokenXML + `
    </wst:RequestSecurityTokenResponseCollection>
</S:Body>
</S:Envelope>
`
	}
	return `<?xml version="1.0" encoding="utf-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/">
	<S:Header>
		<psf:pp xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
			<psf:serverVersion>1</psf:serverVersion>
			<psf:PUID>00000000DEADBEEF</psf:PUID>
			<psf:authstate>0x48803</psf:authstate>
			<psf:reqstatus>0x0</psf:reqstatus>
			<psf:credProperties>
				<psf:credProperty Name="CID">1122334455667788</psf:credProperty>
				<psf:credProperty Name="AuthMembername">alice@example.com</psf:credProperty>
			</psf:credProperties>
			<psf:response/>
		</psf:pp>
	</S:Header>
	<S:Body>
		<wst:RequestSecurityTokenResponseCollection xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wst="http://schemas.xmlsoap.org/ws/2004/04/trust" xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" xmlns:wsp="http://schemas.xmlsoap.org/ws/2002/12/policy" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
			<wst:RequestSecurityTokenResponse>
				<wst:TokenType>urn:passport:legacy</wst:TokenType>
				<wsp:AppliesTo xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/03/addressing">
					<wsa:EndpointReference>
						<wsa:Address>http://Passport.NET/tb</wsa:Address>
					</wsa:EndpointReference>
				</wsp:AppliesTo>
				<wst:LifeTime>
					<wsu:Created>2026-11-25T23:00:00Z</wsu:Created>
					<wsu:Expires>2026-11-26T23:00:00Z</wsu:Expires>
				</wst:LifeTime>
				<wst:RequestedSecurityToken>
					<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#" Id="BinaryDAToken0" Type="http://www.w3.org/2001/04/xmlenc#Element">
						<CipherData>
							<CipherValue>Cap26AQZrSyMm2SwwTyJKyqLR9/S+vQWQsaBc5Mv7PwtQDMzup/udOOMMvSu99R284pmiD3IepBXrEMLK5rLrXAf2A6vrP6vYuGA45GCqQdoxus==</CipherValue>
						</CipherData>
					</EncryptedData>
				</wst:RequestedSecurityToken>
				<wst:RequestedTokenReference>
					<wsse:KeyIdentifier ValueType="urn:passport"></wsse:KeyIdentifier>
					<wsse:Reference URI="#BinaryDAToken0"></wsse:Reference>
				</wst:RequestedTokenReference>
				<wst:RequestedProofToken>
					<wst:BinarySecret>tgoPVK67sU36fQKlGLMgWgTXp7oiaQgE</wst:BinarySecret>
				</wst:RequestedProofToken>
			</wst:RequestSecurityTokenResponse>
` + tokenXML + `
		</wst:RequestSecurityTokenResponseCollection>
	</S:Body>
</S:Envelope>
`
}

// rstTokenXML renders one compact token response like RST.token.xml;
// n is the Compact<n> number.
func rstTokenXML(v2 bool, n int, address, pptoken, secret string) string {
	wsa := "http://schemas.xmlsoap.org/ws/2004/03/addressing"
	lifetime := "LifeTime"
	if v2 {
		wsa = "http://www.w3.org/2005/08/addressing"
		lifetime = "Lifetime"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `			<wst:RequestSecurityTokenResponse>
				<wst:TokenType>urn:passport:compact</wst:TokenType>
				<wsp:AppliesTo xmlns:wsa="%s">
					<wsa:EndpointReference>
						<wsa:Address>%s</wsa:Address>
					</wsa:EndpointReference>
				</wsp:AppliesTo>
				<wst:%s>
					<wsu:Created>2026-11-25T23:00:00Z</wsu:Created>
					<wsu:Expires>2026-11-26T23:00:00Z</wsu:Expires>
				</wst:%s>
				<wst:RequestedSecurityToken>
					<wsse:BinarySecurityToken Id="Compact%d">t=%s%s&amp;p=</wsse:BinarySecurityToken>
				</wst:RequestedSecurityToken>
				<wst:RequestedTokenReference>
					<wsse:KeyIdentifier ValueType="urn:passport:compact"></wsse:KeyIdentifier>
					<wsse:Reference URI="#Compact%d"></wsse:Reference>
				</wst:RequestedTokenReference>
`, wsa, address, lifetime, lifetime, n, pptoken, testFiller, n)
	if secret != "" {
		fmt.Fprintf(&b, "\t\t\t\t<wst:RequestedProofToken>\n\t\t\t\t\t<wst:BinarySecret>%s</wst:BinarySecret>\n\t\t\t\t</wst:RequestedProofToken>\n", secret)
	}
	b.WriteString("\t\t\t</wst:RequestSecurityTokenResponse>\n")
	return b.String()
}

// escargotRST renders a full Escargot success response for the standard
// addresses, numbered Compact2…Compact7.
func escargotRST(v2 bool) string {
	var tokens strings.Builder
	for i, svc := range services("MBI_KEY_OLD")[1:] {
		secret := ""
		if svc.address == AddrMessengerClear {
			secret = testSecret
		}
		tokens.WriteString(rstTokenXML(v2, i+2, svc.address, testPPToken, secret))
	}
	return rstEnvelope(v2, tokens.String())
}

// Escargot's RST.authfailed.xml: the fault sits directly in the envelope.
const rst1AuthFailed = `<?xml version="1.0" encoding="utf-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
		<S:Header>
			<psf:pp xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
			<psf:serverVersion>1</psf:serverVersion>
			<psf:authstate>0x80048800</psf:authstate>
			<psf:reqstatus>0x80048823</psf:reqstatus>
			<psf:cookies/>
			<psf:response/>
		</psf:pp>
	</S:Header>
	<S:Fault>
		<faultcode>wsse:FailedAuthentication</faultcode>
		<faultstring>Authentication Failure</faultstring>
	</S:Fault>
</S:Envelope>
`

// Escargot's RST2.authfailed.xml.
const rst2AuthFailed = `<?xml version="1.0" encoding="utf-8" ?>
<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wst="http://schemas.xmlsoap.org/ws/2005/02/trust" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
	<S:Header>
		<psf:pp xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
			<psf:serverVersion>1</psf:serverVersion>
			<psf:authstate>0x80048800</psf:authstate>
			<psf:reqstatus>0x80048821</psf:reqstatus>
			<psf:cookies/>
			<psf:response/>
		</psf:pp>
	</S:Header>
	<S:Body>
		<S:Fault>
			<S:Code>
				<S:Value>S:Sender</S:Value>
				<S:Subcode>
					<S:Value>wst:FailedAuthentication</S:Value>
				</S:Subcode>
			</S:Code>
			<S:Reason>
				<S:Text xml:lang="en-US">Authentication Failure</S:Text>
			</S:Reason>
			<S:Detail>
				<psf:error>
					<psf:value>0x80048821</psf:value>
					<psf:internalerror>
						<psf:code>0x80041012</psf:code>
						<psf:text>The entered and stored passwords do not match.&#x000D;&#x000A;</psf:text>
					</psf:internalerror>
				</psf:error>
			</S:Detail>
		</S:Fault>
	</S:Body>
</S:Envelope>`

// Escargot's RST.error.xml (request it could not understand).
const rst1InvalidRequest = `<?xml version="1.0" encoding="utf-8" ?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"
	xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext"
	xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
	<S:Fault>
		<faultcode>S:Client</faultcode>
		<faultstring>Invalid Request</faultstring>
	</S:Fault>
</S:Envelope>`

// Escargot's RST2.error.xml.
const rst2InvalidRequest = `<?xml version="1.0" encoding="utf-8" ?>
<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
	<S:Body>
		<S:Fault>
			<S:Code>
				<S:Value>S:Sender</S:Value>
				<S:Subcode>
					<S:Value>wst:InvalidRequest</S:Value>
				</S:Subcode>
			</S:Code>
			<S:Reason>
				<S:Text xml:lang="en-US">Invalid Request</S:Text>
			</S:Reason>
			<S:Detail>
				<psf:error>
					<psf:value>0x80048820</psf:value>
					<psf:internalerror>
						<psf:code>0x80045c01</psf:code>
						<psf:text>Invalid STS request.&#x000D;&#x000A;</psf:text>
					</psf:internalerror>
				</psf:error>
			</S:Detail>
		</S:Fault>
	</S:Body>
</S:Envelope>`
