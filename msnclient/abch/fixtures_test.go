package abch

import (
	"fmt"
	"strings"
)

// Escargot-shaped responses after front/msn/tmpl/{sharing,abservice}/*.xml
// of subpurple/escargot.

const serviceHeader = `	<soap:Header>
		<ServiceHeader xmlns="http://www.msn.com/webservices/AddressBook">
			<Version>15.01.1408.0000</Version>
			<CacheKey>12r1:AbCdEf</CacheKey>
			<CacheKeyChanged>true</CacheKeyChanged>
			<PreferredHostName>login.example.test</PreferredHostName>
			<SessionId>5a3f0c1e-0000-4000-8000-000000000001</SessionId>
		</ServiceHeader>
	</soap:Header>
`

func soapEnvelope(body string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
` + serviceHeader + `	<soap:Body>
` + body + `
	</soap:Body>
</soap:Envelope>`
}

func passportMember(role, uuid, email, cid string) string {
	return fmt.Sprintf(`
									<Member xsi:type="PassportMember">
										<MembershipId>%s/%s</MembershipId>
										<Type>Passport</Type>
										<State>Accepted</State>
										<Deleted>false</Deleted>
										<LastChanged>2026-11-25T23:00:00Z</LastChanged>
										<JoinedDate>2026-01-01T00:00:00Z</JoinedDate>
										<ExpirationDate>0001-01-01T00:00:00</ExpirationDate>
										<Changes />
										<PassportName>%s</PassportName>
										<IsPassportNameHidden>false</IsPassportNameHidden>
										<PassportId>0</PassportId>
										<CID>%s</CID>
										<PassportChanges />
										<LookedupByCID>false</LookedupByCID>
									</Member>`, role, uuid, email, cid)
}

func membership(role, members string) string {
	return `
							<Membership>
								<MemberRole>` + role + `</MemberRole>
								<Members>` + members + `
								</Members>
								<MembershipIsComplete>true</MembershipIsComplete>
							</Membership>`
}

var findMembershipResponse = soapEnvelope(`		<FindMembershipResponse xmlns="http://www.msn.com/webservices/AddressBook">
			<FindMembershipResult>
				<Services>
					<Service>
						<Memberships>` +
	membership("Allow", passportMember("Allow", "b0b0b0b0-0000-4000-8000-000000000002", "bob@example.com", "123456789")+
		passportMember("Allow", "ca7ca7ca-0000-4000-8000-000000000003", "carol@example.com", "-42")) +
	membership("Block", passportMember("Block", "da7eda7e-0000-4000-8000-000000000004", "dave@example.com", "77")+`
									<Member xsi:type="CircleMember">
										<MembershipId>Block/00000000-0000-0000-0009-0123456789ab</MembershipId>
										<Type>Circle</Type>
										<State>Accepted</State>
										<Deleted>false</Deleted>
										<Changes />
										<CircleId>00000000-0000-0000-0009-0123456789ab</CircleId>
									</Member>`) +
	membership("Reverse", passportMember("Reverse", "b0b0b0b0-0000-4000-8000-000000000002", "bob@example.com", "123456789")) +
	membership("Pending", passportMember("Pending", "e7e7e7e7-0000-4000-8000-000000000005", "eve@example.com", "5")) + `
						</Memberships>
						<Info>
							<Handle>
								<Id>1</Id>
								<Type>Messenger</Type>
								<ForeignId />
							</Handle>
							<InverseRequired>false</InverseRequired>
							<AuthorizationCriteria>Everyone</AuthorizationCriteria>
							<IsBot>false</IsBot>
						</Info>
						<Changes />
						<LastChange>2026-11-25T23:00:00Z</LastChange>
						<Deleted>false</Deleted>
					</Service>
				</Services>
				<OwnerNamespace>
					<Info>
						<Handle>
							<Id>00000000-0000-0000-0000-000000000000</Id>
							<IsPassportNameHidden>false</IsPassportNameHidden>
							<CID>0</CID>
						</Handle>
						<CreatorPuid>0</CreatorPuid>
						<CreatorCID>998877</CreatorCID>
						<CreatorPassportName>alice@example.com</CreatorPassportName>
					</Info>
					<Changes />
				</OwnerNamespace>
			</FindMembershipResult>
		</FindMembershipResponse>`)

const groupFriends = `
						<Group>
							<groupId>6a1c0e3b-0000-4000-8000-00000000a001</groupId>
							<groupInfo>
								<annotations>
									<Annotation>
										<Name>MSN.IM.Display</Name>
										<Value>1</Value>
									</Annotation>
								</annotations>
								<groupType>c8529ce2-6ead-434d-881f-341e17db3ff8</groupType>
								<name>Friends &amp; Family</name>
								<IsNotMobileVisible>false</IsNotMobileVisible>
								<IsPrivate>false</IsPrivate>
								<IsFavorite>true</IsFavorite>
							</groupInfo>
							<propertiesChanged />
							<fDeleted>false</fDeleted>
							<lastChange>2026-11-25T23:00:00Z</lastChange>
						</Group>`

func regularContact(uuid, email, name, nick string, groups ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
							<Contact>
							<contactId>%s</contactId>
							<contactInfo>`, uuid)
	if nick != "" {
		fmt.Fprintf(&b, `<annotations><Annotation><Name>AB.NickName</Name><Value>%s</Value></Annotation></annotations>`, nick)
	}
	fmt.Fprintf(&b, `
								<contactType>Regular</contactType>
								<quickName>%s</quickName>
								<passportName>%s</passportName>
								<IsPassportNameHidden>false</IsPassportNameHidden>
								<displayName>%s</displayName>
								<puid>0</puid>`, name, email, name)
	if len(groups) > 0 {
		b.WriteString("\n\t\t\t\t\t\t\t\t<groupIds>")
		for _, g := range groups {
			fmt.Fprintf(&b, "\n\t\t\t\t\t\t\t\t\t<guid>%s</guid>", g)
		}
		b.WriteString("\n\t\t\t\t\t\t\t\t</groupIds>")
	}
	b.WriteString(`
								<CID>123456789</CID>
								<IsNotMobileVisible>false</IsNotMobileVisible>
								<isMobileIMEnabled>false</isMobileIMEnabled>
								<isMessengerUser>true</isMessengerUser>
								<isFavorite>false</isFavorite>
								<isSmtp>false</isSmtp>
								<hasSpace>false</hasSpace>
								<spotWatchState>NoDevice</spotWatchState>
								<birthdate>0001-01-01T00:00:00</birthdate>
								<primaryEmailType>ContactEmailPersonal</primaryEmailType>
								<PrimaryLocation>ContactLocationPersonal</PrimaryLocation>
								<PrimaryPhone>ContactPhonePersonal</PrimaryPhone>
								<IsPrivate>false</IsPrivate>
								<Gender>Unspecified</Gender>
								<TimeZone>None</TimeZone>
							</contactInfo>
							<propertiesChanged />
							<fDeleted>false</fDeleted>
							<lastChange>2026-11-25T23:00:00Z</lastChange>
							</Contact>`)
	return b.String()
}

const meContact = `
						<Contact>
							<contactId>a11ce000-0000-4000-8000-000000000001</contactId>
							<contactInfo>
								<annotations>
									<Annotation><Name>MSN.IM.MBEA</Name><Value>0</Value></Annotation>
									<Annotation><Name>MSN.IM.GTC</Name><Value>1</Value></Annotation>
									<Annotation><Name>MSN.IM.BLP</Name><Value>2</Value></Annotation>
								</annotations>
								<contactType>Me</contactType>
								<quickName>Alice &lt;3</quickName>
								<passportName>alice@example.com</passportName>
								<IsPassportNameHidden>false</IsPassportNameHidden>
								<displayName>Alice &lt;3</displayName>
								<puid>0</puid>
								<CID>998877</CID>
								<isMessengerUser>false</isMessengerUser>
							</contactInfo>
							<propertiesChanged />
							<fDeleted>false</fDeleted>
							<lastChange>2026-11-25T23:00:00Z</lastChange>
						</Contact>`

var abFindAllResponse = soapEnvelope(`		<ABFindAllResponse xmlns="http://www.msn.com/webservices/AddressBook">
			<ABFindAllResult>
						<groups>` + groupFriends + `
						</groups>
					<contacts>` +
	regularContact("b0b0b0b0-0000-4000-8000-000000000002", "bob@example.com", "Bob", "Bobby", "6a1c0e3b-0000-4000-8000-00000000a001") +
	regularContact("ca7ca7ca-0000-4000-8000-000000000003", "carol@example.com", "carol@example.com", "") +
	meContact + `
					</contacts>
				<ab>
					<abId>00000000-0000-0000-0000-000000000000</abId>
					<abInfo>
						<ownerPuid>0</ownerPuid>
						<OwnerCID>998877</OwnerCID>
						<ownerEmail>alice@example.com</ownerEmail>
						<fDefault>true</fDefault>
						<joinedNamespace>false</joinedNamespace>
						<IsBot>false</IsBot>
						<IsParentManaged>false</IsParentManaged>
						<SubscribeExternalPartner>false</SubscribeExternalPartner>
						<NotifyExternalPartner>false</NotifyExternalPartner>
						<AddressBookType>Individual</AddressBookType>
					</abInfo>
					<lastChange>2026-11-25T23:00:00Z</lastChange>
					<DynamicItemLastChanged>0001-01-01T00:00:00</DynamicItemLastChanged>
					<createDate>2026-01-01T00:00:00Z</createDate>
					<propertiesChanged />
				</ab>
			</ABFindAllResult>
		</ABFindAllResponse>`)

const circleContact = `
							<Contact>
							<contactId>00000000-0000-0000-0009-0123456789ab</contactId>
							<contactInfo>
								<contactType>Circle</contactType>
								<quickName>Book club</quickName>
								<passportName>00000000-0000-0000-0009-0123456789ab@live.com</passportName>
								<displayName>Book club</displayName>
								<isMessengerUser>true</isMessengerUser>
							</contactInfo>
							<fDeleted>false</fDeleted>
							</Contact>`

var abFindContactsPagedResponse = soapEnvelope(`		<ABFindContactsPagedResponse xmlns="http://www.msn.com/webservices/AddressBook">
			<ABFindContactsPagedResult>
						<Groups>` + groupFriends + `
						</Groups>
					<Contacts>` +
	regularContact("b0b0b0b0-0000-4000-8000-000000000002", "bob@example.com", "Bob", "", "6a1c0e3b-0000-4000-8000-00000000a001") +
	circleContact + meContact + `
					</Contacts>
				<CircleResult>
					<CircleTicket>
					&lt;?xml version="1.0" encoding="utf-16"?&gt;&lt;SignedTicket xmlns:xsd="http://www.w3.org/2001/XMLSchema" ver="1" keyVer="1"&gt;&lt;Data&gt;PFRpY2tldD4=&lt;/Data&gt;&lt;Sig&gt;c2ln&lt;/Sig&gt;&lt;/SignedTicket&gt;
					</CircleTicket>
				</CircleResult>
				<Ab>
					<abId>00000000-0000-0000-0000-000000000000</abId>
					<abInfo>
						<OwnerCID>998877</OwnerCID>
						<ownerEmail>alice@example.com</ownerEmail>
						<AddressBookType>Individual</AddressBookType>
					</abInfo>
				</Ab>
			</ABFindContactsPagedResult>
		</ABFindContactsPagedResponse>`)

var abContactAddResponse = soapEnvelope(`		<ABContactAddResponse xmlns="http://www.msn.com/webservices/AddressBook">
			<ABContactAddResult>
				<guid>f00df00d-0000-4000-8000-000000000009</guid>
			</ABContactAddResult>
		</ABContactAddResponse>`)

var abGroupAddResponse = soapEnvelope(`		<ABGroupAddResponse xmlns="http://www.msn.com/webservices/AddressBook">
			<ABGroupAddResult>
				<guid>9a9a9a9a-0000-4000-8000-00000000a002</guid>
			</ABGroupAddResult>
		</ABGroupAddResponse>`)

func emptyResponse(action string) string {
	return soapEnvelope(`		<` + action + `Response xmlns="http://www.msn.com/webservices/AddressBook" />`)
}

func abFault(action, errorCode, text string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
	<soap:Body>
		<soap:Fault>
			<faultcode>soap:Client</faultcode>
			<faultstring>` + text + `</faultstring>
			<faultactor>http://www.msn.com/webservices/AddressBook/` + action + `</faultactor>
			<detail>
				<errorcode xmlns="http://www.msn.com/webservices/AddressBook">` + errorCode + `</errorcode>
				<errorstring xmlns="http://www.msn.com/webservices/AddressBook">` + text + `</errorstring>
				<machineName xmlns="http://www.msn.com/webservices/AddressBook">BAYABCHWBB137</machineName>
				<additionalDetails>
					<originalExceptionErrorMessage>` + text + `</originalExceptionErrorMessage>
				</additionalDetails>
			</detail>
		</soap:Fault>
	</soap:Body>
</soap:Envelope>`
}

// Escargot's Fault.generic.xml (handler exception), no detail/errorcode.
const genericFault = `<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
	<soap:Body>
		<soap:Fault>
			<faultcode>soap:Client</faultcode>
			<faultstring>Generic SOAP fault</faultstring>
			<notAValidSoapTag>Traceback (most recent call last): ...</notAValidSoapTag>
		</soap:Fault>
	</soap:Body>
</soap:Envelope>`
