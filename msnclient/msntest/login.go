package msntest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Dialects this server implements.
const (
	minDialect = 8
	maxDialect = 18
)

func (sess *nsSession) cmdVER(cmd *msnp.Command) bool {
	if _, ok := cmd.TrID(); !ok {
		return true
	}
	trid := cmd.Arg(0)
	if sess.dialect != 0 {
		sess.sendError(715, trid)
		return true
	}
	best := 0
	for _, v := range cmd.Args[1:] {
		if n, ok := strings.CutPrefix(v, "MSNP"); ok {
			if d, err := strconv.Atoi(n); err == nil && d >= minDialect && d <= maxDialect && d > best {
				best = d
			}
		}
	}
	if best == 0 {
		sess.send("VER", trid, "0")
		return true
	}
	sess.dialect = best
	sess.send("VER", trid, "MSNP"+strconv.Itoa(best))
	return false
}

func (sess *nsSession) cmdCVR(cmd *msnp.Command) bool {
	if len(cmd.Args) < 7 {
		return false // Escargot: silent failure
	}
	v := cmd.Args[6]
	sess.send("CVR", cmd.Arg(0), v, v, v, "https://escargot.log1p.xyz", "https://escargot.log1p.xyz")
	return false
}

func (sess *nsSession) cmdPNG(cmd *msnp.Command) bool {
	if sess.acct == nil {
		return true
	}
	if !sess.s.answerPing.Load() {
		return false
	}
	if sess.dialect <= 8 {
		sess.send("QNG")
	} else {
		sess.send("QNG", "60")
	}
	return false
}

func (sess *nsSession) cmdUSR(cmd *msnp.Command) bool {
	trid, method, stage := cmd.Arg(0), cmd.Arg(1), cmd.Arg(2)
	if sess.dialect == 0 {
		return true
	}
	switch method {
	case "SHA":
		return sess.cmdUSRSHA(cmd)
	case "TWN":
		if sess.dialect < 8 || sess.dialect >= 15 {
			return true
		}
	case "SSO":
		if sess.dialect < 15 {
			return true
		}
	default:
		sess.log.Debug().Str("method", method).Msg("unsupported USR method")
		return true
	}
	switch stage {
	case "I":
		if sess.acct != nil {
			sess.sendError(205, trid)
			return false
		}
		email := cmd.Arg(3)
		if !strings.Contains(email, "@") {
			sess.sendError(911, trid)
			return true
		}
		if sess.dispatch {
			sess.redirect(trid)
			return true
		}
		sess.authEmail, sess.authMethod = email, method
		if method == "TWN" {
			if sess.dialect >= 13 {
				sess.sendPayload("GCF", []byte(policiesXML), "0")
			}
			sess.send("USR", trid, "TWN", "S", "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1")
			return false
		}
		sess.nonce = randomNonce()
		sess.sendPayload("GCF", []byte(policiesXML), "0")
		sess.send("USR", trid, "SSO", "S", "MBI_KEY_OLD", sess.nonce)
		return false
	case "S":
		if sess.acct != nil {
			sess.sendError(205, trid)
			return false
		}
		if sess.authEmail == "" || sess.authMethod != method {
			sess.sendError(911, trid)
			return true
		}
		var (
			a    *account
			tok  string
			guid string
			ok   bool
		)
		if method == "TWN" {
			a, tok, ok = sess.checkTWN(cmd.Arg(3))
		} else {
			a, tok, guid, ok = sess.checkSSO(cmd)
		}
		if !ok || a.email != sess.authEmail {
			sess.sendError(911, trid)
			return true
		}
		sess.finishLogin(trid, a, tok, guid)
		return false
	}
	return false
}

// redirect sends the Microsoft dispatch server's XFR NS.
func (sess *nsSession) redirect(trid string) {
	target := sess.s.nsRealLn.Addr().String()
	if sess.dialect >= 13 {
		sess.send("XFR", trid, "NS", target, "U", "D")
	} else {
		sess.send("XFR", trid, "NS", target, "0", sess.s.NSAddr())
	}
}

// ticketToken extracts the 20-character token of a ticket ("t=<token>..." or
// the bare token).
func ticketToken(ticket string) string {
	if rest, ok := strings.CutPrefix(ticket, "t="); ok {
		if len(rest) >= 20 {
			return rest[:20]
		}
		return rest
	}
	return ticket
}

func (sess *nsSession) checkTWN(ticket string) (*account, string, bool) {
	s := sess.s
	tk := ticketToken(ticket)
	t := s.tokens[tk]
	if t == nil || time.Now().After(t.expires) {
		return nil, "", false
	}
	a := s.accounts[key(t.email)]
	if a == nil {
		return nil, "", false
	}
	if t.singleUse {
		delete(s.tokens, tk)
	}
	return a, tk, true
}

var guidRe = regexp.MustCompile(`^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$`)

func (sess *nsSession) checkSSO(cmd *msnp.Command) (a *account, tok, guid string, ok bool) {
	s := sess.s
	tk := ticketToken(cmd.Arg(3))
	t := s.tokens[tk]
	if t == nil || time.Now().After(t.expires) {
		return nil, "", "", false
	}
	a = s.accounts[key(t.email)]
	if a == nil {
		return nil, "", "", false
	}
	blob := cmd.Arg(4)
	if sess.dialect >= 16 && blob == "" {
		return nil, "", "", false
	}
	if blob != "" && (t.binarySecret == "" || !msnp.VerifyMBIResponse(t.binarySecret, sess.nonce, blob)) {
		return nil, "", "", false
	}
	if sess.dialect >= 16 {
		m := guidRe.FindStringSubmatch(cmd.Arg(5))
		if m == nil {
			return nil, "", "", false
		}
		guid = strings.ToLower(m[1])
	}
	return a, tk, guid, true
}

func randomNonce() string {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Errorf("msntest: random: %w", err))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// finishLogin completes USR: boots sessions the new one replaces (login.md
// §8) and sends the post-login lines.
func (sess *nsSession) finishLogin(trid string, a *account, tok, guid string) {
	s := sess.s
	for _, other := range s.sessionsOf(a) {
		if sess.dialect < 16 || other.dialect < 16 || other.machineGUID == guid {
			other.sendOUT("OTH")
		}
	}
	s.loginSeq++
	sess.loginSeq = s.loginSeq
	sess.acct, sess.token, sess.machineGUID = a, tok, guid
	a.sessions = append(a.sessions, sess)
	if sess.dialect <= 9 {
		sess.send("USR", trid, "OK", a.email, msnp.EncodeParam(a.name), "1", "0")
	} else {
		sess.send("USR", trid, "OK", a.email, "1", "0")
	}
	if sess.dialect >= 11 {
		sess.send("SBS", "0", "null")
	}
	sess.sendPayload("MSG", sess.profile(), "Hotmail", "Hotmail")
	switch {
	case sess.dialect >= 18:
		sess.sendPayload("UBX", nil, "1:"+a.email)
	case sess.dialect >= 16:
		sess.sendPayload("UBX", nil, a.email, "1")
	}
	if s.opts.Microsoft {
		sess.challenge = randomChallenge()
		sess.send("CHL", "0", sess.challenge)
	}
	s.notifyChanged()
}

func (sess *nsSession) profile() []byte {
	a := sess.acct
	host, port := "127.0.0.1", "0"
	if addr := sess.conn.RemoteAddr().String(); addr != "" {
		if i := strings.LastIndexByte(addr, ':'); i > 0 {
			host, port = strings.Trim(addr[:i], "[]"), addr[i+1:]
		}
	}
	mpop := "0"
	if sess.machineGUID != "" {
		mpop = "1"
	}
	cid := uint64(a.cidInt())
	var b strings.Builder
	w := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	w("MIME-Version", "1.0")
	w("Content-Type", "text/x-msmsgsprofile; charset=UTF-8")
	w("LoginTime", strconv.FormatInt(time.Now().Unix(), 10))
	w("EmailEnabled", "0")
	w("MemberIdHigh", strconv.FormatUint(cid>>32, 10))
	w("MemberIdLow", strconv.FormatUint(cid&0xffffffff, 10))
	w("lang_preference", "1033")
	for _, k := range []string{"preferredEmail", "country", "PostalCode", "Gender"} {
		fmt.Fprintf(&b, "%s:\r\n", k)
	}
	w("Kid", "0")
	for _, k := range []string{"Age", "BDayPre", "Birthday", "Wallet"} {
		fmt.Fprintf(&b, "%s:\r\n", k)
	}
	w("Flags", "536872513")
	w("sid", "507")
	w("MSPAuth", sess.token+mspAuthFiller+"&p=")
	w("ClientIP", host)
	w("ClientPort", port)
	w("ABCHMigrated", "1")
	if sess.dialect >= 16 {
		w("MPOPEnabled", mpop)
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

const mspAuthFiller = "Y6+H31sTUOFkqjNTDYqAAFLr5Ote7BMrMnUIzpg860jh084QMgs5djRQLLQP0TVOFkKdWDwAJdEWcfsI9YL8otN9kSfhTaPHR1njHmG0H98O2NE/Ck6zrog3UJFmYlCnHidZk1g3AzUNVXmjZoyMSyVvoHLjQSzoGRpgHg3hHdi7zrFhcYKWD8XeNYdoz9wfA2YAAAgZIgF9kFvsy2AC0Fl/ezc/fSo6YgB9TwmXyoK0wm0F9nz5EfhHQLu2xxgsvMOiXUSFSpN1cZaNzEk/KGVa3Z33Mcu0qJqvXoLyv2VjQyI0VLH6YlW5E+GMwWcQurXB9hT/DnddM5Ggzk3nX8uMSV4kV+AgF1EWpiCdLViRI6DmwwYDtUJU6W6wQXsfyTm6CNMv0eE0wFXmZvoKaL24fggkp99dX+m1vgMQJ39JblVH9cmnnkBQcKkV8lnQJ003fd6iIFzGpgPBW5Z3T1Bp7uzSGMWnHmrEw8eOpKC5ny4x8uoViXDmA2UId23xYSoJ/GQrMjqB+NslqnuVsOBE1oWpNrmfSKhGU1X0kR4Eves56t5i5n3XU+7ne0MkcUzlrMi89n2j8aouf0zeuD7o+ngqvfRCsOqjaU71XWtuD4ogu2X7/Ajtwkxg/UJDFGAnCxFTTd4dqrrEpKyMK8eWBMaartFxwwrH39HMpx1T9JgknJ1hFWELzG8b302sKy64nCseOTGaZrdH63pjGkT7vzyIxVH/b+yJwDRmy/PlLz7fmUj6zpTBNmCtl1EGFOEFdtI2R04EprIkLXbtpoIPA7m0TPZURpnWufCSsDtD91ChxR8j/FnQ/gOOyKg/EJrTcHvM1e50PMRmoRZGlltBRRwBV+ArPO64On6zygr5zud5o/aADF1laBjkuYkjvUVsXwgnaIKbTLN2+sr/WjogxT1Yins79jPa1+3dDenxZtE/rHA/6qsdJmo5BJZqNYQUFrnpkU428LryMnBaNp2BW51JRsWXPAA7yCi0wDlHzEDxpqaOnhI4Ol87ra+VAg=="

func randomChallenge() string {
	var b strings.Builder
	for i := 0; i < 20; i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(fmt.Errorf("msntest: random: %w", err))
		}
		if i == 0 && n.Int64() == 0 {
			n = big.NewInt(1)
		}
		b.WriteByte(byte('0' + n.Int64()))
	}
	return b.String()
}

// cmdQRY verifies a challenge answer in Microsoft mode; Escargot ignores QRY.
func (sess *nsSession) cmdQRY(cmd *msnp.Command) bool {
	if !sess.s.opts.Microsoft {
		return false
	}
	trid := cmd.Arg(0)
	id, want := msnp.ChallengeResponse(sess.dialect, sess.challenge)
	if sess.challenge == "" || cmd.Arg(1) != id || string(cmd.Payload) != want {
		sess.sendError(540, trid)
		return true
	}
	sess.challenge = ""
	sess.send("QRY", trid)
	return false
}

// policiesXML is the GCF 0 payload sent before USR ... S in MSNP13+.
const policiesXML = `<Policies><Policy type="SHIELDS"><config><shield><cli maj="7" min="0" minbld="0" maxbld="9999" deny=" " /></shield><block></block></config></Policy><Policy type="ABCH"><policy><set id="push" service="ABCH" priority="200"><r id="pushstorage" threshold="180000" /></set><set id="delaysup" service="ABCH" priority="150"><r id="whatsnew" threshold="1800000" /><r id="whatsnew_storage_ABCH_delay" timer="1800000" /><r id="whatsnewlinkprocessing" threshold="900000" /><r id="contactsdelay" timer="1800000" /></set></policy></Policy><Policy type="ERRORRESPONSETABLE"><Policy><Feature type="3" name="P2P"><Entry hr="0x81000398" action="3" /><Entry hr="0x82000020" action="3" /></Feature><Feature type="4"><Entry hr="0x81000440" /></Feature></Policy></Policy><Policy type="P2P"><ObjStr SndDly="1" /></Policy></Policies>`

// shieldsXML answers GCF t Shields.xml.
const shieldsXML = `<?xml version="1.0" encoding="utf-8" ?><config><shield><cli maj="7" min="0" minbld="0" maxbld="9999" deny=" " /></shield><block></block></config>`

func (sess *nsSession) cmdGCF(cmd *msnp.Command) bool {
	trid := cmd.Arg(0)
	if sess.dialect < 11 {
		return false
	}
	if sess.dialect < 13 && !sess.synDone {
		sess.sendError(715, trid)
		return false
	}
	sess.sendPayload("GCF", []byte(shieldsXML), trid, cmd.Arg(1))
	return false
}
