package bridge

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	bdb "maunium.net/go/mautrix/bridgev2/database"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// BenchmarkMessageAfterPresenceBurst measures how long the MSN event
// goroutine takes to get a message to bridgev2 after the presence burst of
// a sign-in (200 contacts, each with a name), with a homeserver that needs
// 5 ms per ghost profile update. The profile updates run on the side-work
// goroutine, so the message does not wait for the 200 × 5 ms = 1 s of
// homeserver calls.
func BenchmarkMessageAfterPresenceBurst(b *testing.B) {
	const contacts = 200
	for b.Loop() {
		b.StopTimer()
		m := benchClient(b)
		queued := make(chan bridgev2.RemoteEvent, 1)
		m.queueRemote = func(evt bridgev2.RemoteEvent) { queued <- evt }
		m.side.applyName = func(ctx context.Context, _, _ string) {
			select {
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		m.side.start(ctx, &m.bg)
		b.StartTimer()
		for i := range contacts {
			m.handleEvent(ctx, nil, &msnclient.ContactPresence{
				Email: fmt.Sprintf("c%d@x.com", i), FriendlyName: fmt.Sprintf("Contact %d", i),
				Status: msnclient.StatusOnline, Initial: true,
			})
		}
		m.handleEvent(ctx, nil, &msnclient.MessageReceived{
			ConversationEvent: msnclient.ConversationEvent{Participants: []string{"c1@x.com"}},
			From:              "c1@x.com",
			Message:           msnclient.TextMessage{Text: "hello"},
		})
		<-queued
		b.StopTimer()
		cancel()
		m.bg.Wait(time.Minute)
		b.StartTimer()
	}
}

// benchClient is an MSNClient outside a bridge and without a database.
func benchClient(b *testing.B) *MSNClient {
	b.Helper()
	login := &bridgev2.UserLogin{UserLogin: &bdb.UserLogin{ID: "me@x.com"}, Log: zerolog.Nop()}
	return newMSNClient(&Connector{}, login, &UserLoginMetadata{Email: "me@x.com"})
}
