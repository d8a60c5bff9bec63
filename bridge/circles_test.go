package bridge

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

const testCircle = msnclient.CircleID("00000000-0000-0000-0009-0123456789ab")

// A circle portal has its own ID space: never a DM, never a switchboard
// group, and only a well-formed circle id is one.
func TestCirclePortalIDs(t *testing.T) {
	pk := makeCirclePortalKey(testCircle, "me@x.com")
	if string(pk.ID) != "circle:"+string(testCircle) || pk.Receiver != "me@x.com" {
		t.Fatalf("key = %+v", pk)
	}
	if id, ok := circleOfPortal(pk.ID); !ok || id != testCircle {
		t.Errorf("circleOfPortal = %q %v", id, ok)
	}
	if _, ok := dmContact(pk.ID); ok {
		t.Error("a circle portal is taken for a DM")
	}
	if isGroupPortalID(pk.ID) {
		t.Error("a circle portal is taken for a switchboard group")
	}
	for _, bad := range []string{"circle:", "circle:bob@x.com", "circle:00000000-0000-0000-0009-0123456789zz", "bob@x.com", "group:abc"} {
		if _, ok := circleOfPortal(networkid.PortalID(bad)); ok {
			t.Errorf("%q taken for a circle portal", bad)
		}
	}
}

// The invitation notice names the inviter and the circle and gives both
// commands; a hostile name is escaped in the HTML, never markup.
func TestCircleInvitationNotice(t *testing.T) {
	c := msnclient.Circle{ID: testCircle, Name: "<b>Book</b>\r\nclub [x](https://evil)", State: msnclient.CircleWaitingResponse}
	n := circleInvitationNotice(c, "Bob@X.com", "me@x.com")
	for _, want := range []string{"bob@x.com invited you", "accept-circle " + string(testCircle), "decline-circle " + string(testCircle), "me@x.com"} {
		if !strings.Contains(n.Body, want) {
			t.Errorf("body %q lacks %q", n.Body, want)
		}
	}
	if strings.Contains(n.FormattedBody, "<b>Book") || strings.Contains(n.Body, "\r") || strings.Contains(n.Body, "Book</b>\n") {
		t.Errorf("name not cleaned or escaped: %q / %q", n.Body, n.FormattedBody)
	}
	if strings.Contains(n.FormattedBody, "<a ") {
		t.Errorf("the name became a link: %q", n.FormattedBody)
	}
	if n := circleInvitationNotice(c, "", "me@x.com"); !strings.HasPrefix(n.Body, "Someone invited you") {
		t.Errorf("without inviter: %q", n.Body)
	}
}

// The circles command lists joined circles and invitations apart.
func TestFormatCircles(t *testing.T) {
	if got := formatCircles(nil, "me@x.com"); !strings.Contains(got, "no MSN groups") {
		t.Errorf("empty: %q", got)
	}
	got := formatCircles([]msnclient.Circle{
		{ID: testCircle, Name: "Book club", State: msnclient.CircleAccepted, Role: msnclient.CircleRoleAdmin},
		{ID: "00000000-0000-0000-0009-00000000000f", Name: "Chess", State: msnclient.CircleWaitingResponse, Inviter: "carol@x.com"},
	}, "me@x.com")
	joined, invites, ok := strings.Cut(got, "Invitations")
	if !ok || !strings.Contains(joined, "Book club") || strings.Contains(joined, "Chess") ||
		!strings.Contains(invites, "Chess") || !strings.Contains(invites, "carol@x.com") || !strings.Contains(invites, "accept-circle") {
		t.Errorf("list = %q", got)
	}
}

// A circle's room has every member: accepted ones joined, invited ones
// invited, the user from their login, names from the circle for people who
// are not contacts; a circle with too many members is cut, not refused.
func TestCircleChatInfo(t *testing.T) {
	m := testLoginClient(t)
	ctx := context.Background()
	members := []msnclient.CircleMember{
		{Email: "me@x.com", State: msnclient.CircleAccepted},
		{Email: "Alice@x.com", Name: "Alice A", State: msnclient.CircleAccepted},
		{Email: "newbie@x.com", Name: "Newbie", State: msnclient.CircleWaitingResponse},
		{Email: "bad\r\nOUT@x.com", State: msnclient.CircleAccepted},
	}
	info := m.circleChatInfo(ctx, nil, msnclient.Circle{ID: testCircle, Name: "  Book\tclub "}, members)
	if *info.Name != "Book club" {
		t.Errorf("name = %q", *info.Name)
	}
	mm := info.Members.MemberMap
	if len(mm) != 3 || !info.Members.IsFull {
		t.Fatalf("members = %+v", mm)
	}
	if a := mm[makeUserID("alice@x.com")]; a.Membership != event.MembershipJoin || a.UserInfo == nil || !strings.Contains(*a.UserInfo.Name, "Alice A") {
		t.Errorf("alice = %+v", a)
	}
	if n := mm[makeUserID("newbie@x.com")]; n.Membership != event.MembershipInvite {
		t.Errorf("invited member = %+v", n)
	}
	if me := mm[makeUserID("me@x.com")]; !me.IsFromMe || me.Membership != event.MembershipJoin {
		t.Errorf("user = %+v", me)
	}
	if info := m.circleChatInfo(ctx, nil, msnclient.Circle{ID: testCircle}, nil); *info.Name != "MSN group" || info.Members.IsFull {
		t.Errorf("unknown members: %q full=%v", *info.Name, info.Members.IsFull)
	}

	many := make([]msnclient.CircleMember, circleMemberLimit+50)
	for i := range many {
		many[i] = msnclient.CircleMember{Email: fmt.Sprintf("m%d@x.com", i), State: msnclient.CircleAccepted}
	}
	info = m.circleChatInfo(ctx, nil, msnclient.Circle{ID: testCircle, Name: "Huge"}, many)
	if n := len(info.Members.MemberMap); n != circleMemberLimit+1 || info.Members.IsFull {
		t.Errorf("huge circle: %d members, full=%v", n, info.Members.IsFull)
	}
}

// replyRecorder is a bridge bot that records the command replies it sends.
type replyRecorder struct {
	bridgev2.MatrixAPI
	replies []string
}

func (r *replyRecorder) SendMessage(_ context.Context, _ id.RoomID, _ event.Type, content *event.Content, _ *bridgev2.MatrixSendExtra) (*mautrix.RespSendEvent, error) {
	r.replies = append(r.replies, content.AsMessage().Body)
	return &mautrix.RespSendEvent{}, nil
}

// Below MSNP18 the circle commands say that circles need MSNP18 and which
// version the login uses.
func TestCircleCommandsNeedMSNP18(t *testing.T) {
	_, c := testServer(t)
	c.Config.Servers[0].ProtocolVersions = []int{15}
	m, states := testClient(t, c, testPassword)
	m.Connect(context.Background())
	expectState(t, states, status.StateConnected, "")
	bot := &replyRecorder{}
	log := zerolog.Nop()
	ce := &commands.Event{Bot: bot, Ctx: context.Background(), Log: &log}
	if _, ok := circlesClient(ce, m); ok {
		t.Fatal("circles offered on MSNP15")
	}
	if len(bot.replies) != 1 || !strings.Contains(bot.replies[0], "need MSNP18") || !strings.Contains(bot.replies[0], "MSNP15") {
		t.Errorf("replies = %q", bot.replies)
	}
}
