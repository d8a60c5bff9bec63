package rsi

// Escargot-shaped fixtures (oim.md §1-2).

const escargotInitialMD = `<MD><E><I>0</I><IU>0</IU><O>0</O><OU>0</OU></E><Q><QTM>409600</QTM><QNM>204800</QNM></Q>` +
	`<M><T>11</T><S>6</S><RT>2024-05-01T10:21:30Z</RT><RS>0</RS><SZ>917</SZ><E>Bob@Example.com</E><I>9F0A6E2C-5D0B-4C3F-9A53-6B0E0C1D2E3F</I><F>00000000-0000-0000-0000-000000000009</F><N>=?utf-8?B?Qm9i?=</N></M>` +
	`<M><T>11</T><S>6</S><RT>2024-05-01T10:20:30Z</RT><RS>0</RS><SZ>917</SZ><E>carol@example.com</E><I>8F0A6E2C-5D0B-4C3F-9A53-6B0E0C1D2E3F</I><F>00000000-0000-0000-0000-000000000009</F><N></N></M></MD>`

const escargotLiveMD = `<MD><M><T>11</T><S>6</S><RS>0</RS><SZ>917</SZ><E>bob@example.com</E><I>8F0A6E2C-5D0B-4C3F-9A53-6B0E0C1D2E3F</I><F>.!!OIM</F><N>=?utf-8?B?Qm9i ?=</N></M><SU> </SU></MD>`

const escargotMessage = "X-Message-Info: cwRBnLifKNE8dVZlNj6AiX8142B67OTjG9BFMLMyzuui1H4Xx7m3NQ==\r\n" +
	"Received: from OIM-SSI02.phx.gbl ([65.54.237.206]) by oim1-f1.hotmail.com with Microsoft SMTPSVC(6.0.3790.211);\r\n\t Wed, 01 May 2024 03:20:30 -0800\r\n" +
	"From: =?utf-8?B?Qm9i?= <bob@example.com>\r\n" +
	"To: alice@example.com\r\n" +
	"Subject: \r\n" +
	"X-OIM-originatingSource: 203.0.113.7\r\n" +
	"X-OIMProxy: MSNMSGR\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"X-OIM-Message-Type: OfflineMessage\r\n" +
	"X-OIM-Run-Id: {3A6B1C2D-4E5F-6071-8293-A4B5C6D7E8F9}\r\n" +
	"X-OIM-Sequence-Num: 1\r\n" +
	"Message-ID: <OIM-SSI02zDv60gxapz00061a8b@OIM-SSI02.phx.gbl>\r\n" +
	"X-OriginalArrivalTime: 01 May 2024 10:20:30.0000 (UTC) FILETIME=[00000000:00000000]\r\n" +
	"Date: 01 May 2024 03:20:30 -0800\r\n" +
	"Return-Path: ndr@oim.messenger.msn.com\r\n" +
	"\r\n" +
	"SGVsbG8gQWxpY2UsIGFyZSB5b3UgdGhlcmU/"
