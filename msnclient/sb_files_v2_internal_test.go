package msnclient

import (
	"errors"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// TestV2FileInviteReported: a file the P2P manager declined because it
// came over P2P version 2 is reported as a declined FileFailed naming the
// file, so the application can tell the user; other declined invitations
// (pictures, emoticons) are not.
func TestV2FileInviteReported(t *testing.T) {
	events := make(chan any, 4)
	c := NewClient(Config{Email: "me@example.com"}, func(evt any) { events <- evt })
	defer c.Close()
	c.handleV2Invite("wlm@example.com", &p2p.UnsupportedInvite{Invite: p2p.Invite{EUFGUID: "{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}"}})
	fc := (&p2p.FileContext{Name: "..\\holiday\r\n.jpg", Size: 5000}).Marshal()
	c.handleV2Invite("wlm@example.com", &p2p.UnsupportedInvite{Invite: p2p.Invite{EUFGUID: p2p.EUFGUIDFile, AppID: 2, Context: fc}})
	select {
	case evt := <-events:
		ff, ok := evt.(*FileFailed)
		if !ok || !ff.Declined || !errors.Is(ff.Err, ErrFileNewerTransfer) || ff.Name != "holiday.jpg" || ff.Size != 5000 ||
			ff.From != "wlm@example.com" || len(ff.Participants) != 1 {
			t.Fatalf("reported %#v", evt)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the declined file was not reported")
	}
	select {
	case evt := <-events:
		t.Fatalf("also reported %#v", evt)
	case <-time.After(100 * time.Millisecond):
	}
}
