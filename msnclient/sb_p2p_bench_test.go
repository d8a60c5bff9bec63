package msnclient_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// BenchmarkP2PThroughput measures P2P data through one switchboard of the
// fake server (which relays as Escargot: ack mode D, one MSG per chunk):
// bob fetches alice's 512 KiB picture over and over. MB/s is data bytes.
func BenchmarkP2PThroughput(b *testing.B) {
	a, c := "alice@example.com", "bob@example.com"
	srv := chatServer(b, a, c)
	const size = 512 << 10
	alice := chatConnect(b, srv, a, 15, nil)
	bob := chatConnect(b, srv, c, 15, nil)
	ctx := context.Background()
	pic := randomPicture(b, size)
	obj, err := alice.SetDisplayPictureData(ctx, pic)
	if err != nil {
		b.Fatal(err)
	}
	if err := bob.Conversation(a).SendText(ctx, msnclient.TextMessage{Text: "hi"}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		got, err := bob.FetchDisplayPicture(ctx, a, obj)
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Equal(got, pic) {
			b.Fatal("picture differs")
		}
	}
}
