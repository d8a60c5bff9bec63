package msnclient_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// BenchmarkLoginTenCircles measures the library's part of a login with 10
// circles of 20 members each (5 of them online in every circle): from
// Connect until every circle is joined (CircleJoined with its member
// list, circle ADL and roster PUT done) and the online members' presence
// in each circle has arrived. The same login without circles is the
// baseline. The fake server runs in the same process.
//
//	go test -tags goolm -run '^$' -bench LoginTenCircles -benchtime 20x -count 3 ./msnclient/
func BenchmarkLoginTenCircles(b *testing.B) {
	for _, n := range []int{0, 10} {
		b.Run(fmt.Sprintf("circles=%d", n), func(b *testing.B) { benchLoginCircles(b, n) })
	}
}

func benchLoginCircles(b *testing.B, circles int) {
	const members, online = 20, 5
	srv := startServer(b, msntest.Options{})
	addAccount(b, srv, "alice@example.com", "Alice")
	for m := range members {
		addAccount(b, srv, fmt.Sprintf("m%02d@example.com", m), fmt.Sprintf("Member %d", m))
	}
	for i := range circles {
		id, err := srv.CreateCircle(fmt.Sprintf("Circle %d", i), "alice@example.com")
		if err != nil {
			b.Fatal(err)
		}
		for m := range members {
			if err := srv.AddCircleMember(id, fmt.Sprintf("m%02d@example.com", m), msntest.CircleMember); err != nil {
				b.Fatal(err)
			}
		}
	}
	for m := range online {
		c := nsConnect(b, config(srv, fmt.Sprintf("m%02d@example.com", m), 18))
		if err := c.SetStatus(context.Background(), msnclient.StatusOnline); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		rec := newRecorder()
		c := msnclient.NewClient(config(srv, "alice@example.com", 18), rec.handle)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := c.Connect(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		if circles == 0 {
			b.StopTimer()
			_ = c.Close()
			b.StartTimer()
			continue
		}
		waitNth[*msnclient.CircleJoined](b, rec, 0, circles, testTimeout, "all circles joined", nil)
		waitNth(b, rec, 0, circles*online, testTimeout, "members' presence", func(e *msnclient.CircleMemberPresence) bool {
			return e.Status == msnclient.StatusOnline
		})
		b.StopTimer()
		_ = c.Close()
		b.StartTimer()
	}
}
