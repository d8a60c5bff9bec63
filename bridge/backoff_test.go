package bridge

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2/status"
)

// A server that accepts the login and drops the session at once makes the
// connect loop back off longer each time; the count starts again only after
// a session that stayed up.
func TestConnectLoopBacksOffOnFlappingServer(t *testing.T) {
	srv, c := testServer(t)
	m, states := testClient(t, c, testPassword)
	attempts := make(chan int, 100)
	m.backoff = func(n int) time.Duration {
		attempts <- n
		return 10 * time.Millisecond
	}
	m.stableSession = time.Hour // no session here is stable

	m.Connect(context.Background())
	var got []int
	for len(got) < 4 {
		expectState(t, states, status.StateConnected, "")
		srv.DropConnections(testEmail) // flap: up, then dropped at once
		expectState(t, states, status.StateTransientDisconnect, ErrCodeDisconnected)
		select {
		case n := <-attempts:
			got = append(got, n)
		case <-time.After(testTimeout):
			t.Fatalf("no reconnect after drop; backoff attempts so far %v", got)
		}
	}
	for i, n := range got {
		if n != i+1 {
			t.Fatalf("backoff attempts %v, want 1, 2, 3, 4: a session dropped at once must not reset the backoff", got)
		}
	}

	// A session that stayed up long enough resets the count.
	m.Disconnect()
	m.stableSession = 50 * time.Millisecond
	drainStates(states)
	m.Connect(context.Background())
	expectState(t, states, status.StateConnected, "")
	time.Sleep(100 * time.Millisecond)
	srv.DropConnections(testEmail)
	expectState(t, states, status.StateTransientDisconnect, ErrCodeDisconnected)
	select {
	case n := <-attempts:
		if n != 1 {
			t.Errorf("backoff attempt %d after a stable session, want 1", n)
		}
	case <-time.After(testTimeout):
		t.Fatal("no reconnect after drop")
	}
}

func TestReconnectFailures(t *testing.T) {
	f := reconnectFailures{stableFor: time.Minute}
	if f.failed() != 1 || f.failed() != 2 {
		t.Fatal("failed sign-ins must count up")
	}
	if n := f.ended(time.Second); n != 3 {
		t.Errorf("short session after 2 failures: attempt %d, want 3", n)
	}
	if n := f.ended(2 * time.Minute); n != 1 {
		t.Errorf("stable session: attempt %d, want 1", n)
	}
	// The delay is capped, with jitter.
	for range 20 {
		if d := backoffDelay(100); d > backoffMax+backoffMax/5 || d < backoffMax-backoffMax/5 {
			t.Fatalf("backoffDelay(100) = %v, want within 20%% of %v", d, backoffMax)
		}
	}
}

// drainStates empties a state channel.
func drainStates(states chan status.BridgeState) {
	for {
		select {
		case <-states:
		default:
			return
		}
	}
}
