package abch_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/abch"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
	"github.com/mautrix-msn/mautrix-msn/msnclient/passport"
)

// nsLogin is a minimal Tweener (MSNP<15) or SSO login on the fake server's
// NS (the real one is msnclient's job); the fake server only honours ABCH
// tickets of live NS sessions, like Escargot. It returns the ticket for the
// address book and keeps the session open until the test ends.
func nsLogin(ctx context.Context, t *testing.T, srv *msntest.Server, dialect int, email, password string) string {
	t.Helper()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", srv.NSAddr())
	if err != nil {
		t.Fatalf("dial NS: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	w, r := msnp.NewWriter(conn), msnp.NewReader(conn, msnp.FromServer)
	trid := 0
	send := func(name string, args ...string) {
		trid++
		if err := w.WriteCommand(msnp.New(name, append([]string{strconv.Itoa(trid)}, args...)...)); err != nil {
			t.Fatalf("send %s: %v", name, err)
		}
	}
	expect := func(name string) *msnp.Command {
		for {
			cmd, err := r.ReadCommand()
			if err != nil {
				t.Fatalf("waiting for %s: %v", name, err)
			}
			if cmd.IsError() {
				t.Fatalf("waiting for %s: server error %s", name, cmd)
			}
			if cmd.Name == name {
				return cmd
			}
		}
	}
	ver := "MSNP" + strconv.Itoa(dialect)
	send("VER", ver, "CVR0")
	expect("VER")
	send("CVR", "0x0409", "winnt", "5.1", "i386", "MSNMSGR", "8.5.1302", "msmsgs", email)
	expect("CVR")
	if dialect < 15 {
		send("USR", "TWN", "I", email)
		challenge := expect("USR").Arg(3)
		ticket, err := passport.TweenerLogin(ctx, newHTTPClient(), srv.HTTPURL()+"/rdr/pprdr.asp", "", email, password, challenge)
		if err != nil {
			t.Fatalf("TweenerLogin: %v", err)
		}
		send("USR", "TWN", "S", ticket)
		if ok := expect("USR"); ok.Arg(1) != "OK" {
			t.Fatalf("login not accepted: %s", ok)
		}
		return ticket
	}
	send("USR", "SSO", "I", email)
	usr := expect("USR")
	policy, nonce := usr.Arg(3), usr.Arg(4)
	tokens, err := passport.RequestSecurityTokens(ctx, newHTTPClient(), srv.HTTPURL()+rstPath(dialect), dialect >= 18, email, password, policy)
	if err != nil {
		t.Fatalf("RequestSecurityTokens: %v", err)
	}
	mc := tokens.MessengerClear()
	blob, err := msnp.MBIResponse(mc.BinarySecret, nonce, []byte("abcdefgh"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"SSO", "S", mc.Ticket, blob}
	if dialect >= 16 {
		args = append(args, "{F52973B6-C926-4BAD-9BA8-7C1E840E4AB0}")
	}
	send("USR", args...)
	if ok := expect("USR"); ok.Arg(1) != "OK" {
		t.Fatalf("login not accepted: %s", ok)
	}
	return tokens.Contacts().Ticket
}

func rstPath(dialect int) string {
	if dialect >= 18 {
		return "/RST2.srf"
	}
	return "/RST.srf"
}

func newHTTPClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }

// TestAgainstFakeServer runs the list calls against msntest after an NS
// login, checking the decoded lists and the server-side effects.
func TestAgainstFakeServer(t *testing.T) {
	for _, dialect := range []int{13, 15, 18} {
		t.Run("MSNP"+strconv.Itoa(dialect), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			srv := msntest.StartT(t, msntest.Options{})
			for _, acct := range []string{"alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"} {
				if err := srv.AddAccount(acct, "pass", acct[:3]); err != nil {
					t.Fatal(err)
				}
			}
			if err := srv.AddContact("alice@example.com", "bob@example.com", msntest.ListFL|msntest.ListAL); err != nil {
				t.Fatal(err)
			}
			if err := srv.AddContact("alice@example.com", "dave@example.com", msntest.ListBL); err != nil {
				t.Fatal(err)
			}
			ticket := nsLogin(ctx, t, srv, dialect, "alice@example.com", "pass")
			client, err := abch.New(abch.Config{
				HTTPClient:        newHTTPClient(),
				ABServiceURL:      srv.HTTPURL() + "/abservice/abservice.asmx",
				SharingServiceURL: srv.HTTPURL() + "/abservice/SharingService.asmx",
				Ticket:            func() string { return ticket },
				MSPAuthCookie:     dialect < 15,
			})
			if err != nil {
				t.Fatal(err)
			}

			m, err := client.FindMembership(ctx)
			if err != nil {
				t.Fatalf("FindMembership: %v", err)
			}
			if !m.Has(abch.RoleAllow, "bob@example.com") || !m.Has(abch.RoleBlock, "dave@example.com") || m.Has(abch.RoleAllow, "dave@example.com") {
				t.Errorf("memberships = %+v", m.Members)
			}

			find := client.ABFindAll
			if dialect >= 16 {
				find = client.ABFindContactsPaged
			}
			ab, err := find(ctx)
			if err != nil {
				t.Fatalf("find: %v", err)
			}
			bob, ok := ab.Contact("bob@example.com")
			if !ok || bob.ID == "" || !bob.IsMessengerUser {
				t.Errorf("bob = %+v (found %v); contacts %+v", bob, ok, ab.Contacts)
			}
			if ab.Me == nil || ab.Me.Email != "alice@example.com" {
				t.Errorf("Me = %+v", ab.Me)
			}

			id, err := client.ABContactAdd(ctx, "carol@example.com")
			if err != nil || id == "" {
				t.Fatalf("ABContactAdd = %q, %v", id, err)
			}
			if srv.ContactLists("alice@example.com", "carol@example.com")&msntest.ListFL == 0 {
				t.Error("carol not on alice's forward list after ABContactAdd")
			}
			if _, err := client.ABContactAdd(ctx, "nobody@example.com"); !abch.IsFault(err, abch.FaultInvalidPassportUser) {
				t.Errorf("unknown user: err = %v, want InvalidPassportUser", err)
			}

			if err := client.AddMember(ctx, abch.RoleBlock, "carol@example.com"); err != nil {
				t.Fatalf("AddMember: %v", err)
			}
			if srv.ContactLists("alice@example.com", "carol@example.com")&msntest.ListBL == 0 {
				t.Error("carol not blocked after AddMember Block")
			}
			members, err := client.FindMembership(ctx)
			if err != nil {
				t.Fatalf("FindMembership: %v", err)
			}
			var carolID string
			for _, m := range members.Role(abch.RoleBlock) {
				if m.Email == "carol@example.com" {
					carolID = m.MembershipID
				}
			}
			if carolID == "" {
				t.Fatalf("Block members %+v, want carol with a MembershipId", members.Role(abch.RoleBlock))
			}
			if err := client.DeleteMember(ctx, abch.RoleBlock, "carol@example.com", ""); err == nil {
				t.Error("DeleteMember without MembershipId succeeded; Escargot requires one")
			}
			if err := client.DeleteMember(ctx, abch.RoleBlock, "carol@example.com", carolID); err != nil {
				t.Fatalf("DeleteMember: %v", err)
			}
			if srv.ContactLists("alice@example.com", "carol@example.com")&msntest.ListBL != 0 {
				t.Error("carol still blocked after DeleteMember Block")
			}
			if err := client.ABContactDelete(ctx, id); err != nil {
				t.Fatalf("ABContactDelete: %v", err)
			}
			if srv.ContactLists("alice@example.com", "carol@example.com")&msntest.ListFL != 0 {
				t.Error("carol still on the forward list after ABContactDelete")
			}

			bad, err := abch.New(abch.Config{
				HTTPClient:        newHTTPClient(),
				ABServiceURL:      srv.HTTPURL() + "/abservice/abservice.asmx",
				SharingServiceURL: srv.HTTPURL() + "/abservice/SharingService.asmx",
				Ticket:            func() string { return "t=ffffffffffffffffffff&p=" },
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bad.FindMembership(ctx); !errors.Is(err, abch.ErrTicketRejected) {
				t.Errorf("unknown ticket: err = %v, want ErrTicketRejected", err)
			}
		})
	}
}
