package loadtest

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestSmallRun is the harness' CI run: 20 logins with 20 contacts each on
// the sink homeserver, a few hundred messages each way, two seconds of
// paced messages, a presence storm and an MSN server restart. It asserts
// that everything sent arrived exactly once, the presence cap held and
// every login came back, never speed (figures come from `make bench`).
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the bridge binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := Run(ctx, Options{
		Dir:              t.TempDir(),
		Steps:            []int{10, 20},
		Contacts:         20,
		Conversations:    20,
		Messages:         300,
		ReverseMessages:  200,
		LatencyProbes:    20,
		PacedShare:       0.5,
		PacedFor:         2 * time.Second,
		PresenceStorm:    3 * time.Second,
		FlapEvery:        500 * time.Millisecond,
		PresenceInterval: 2,
		LoginRate:        20,
		Storm:            true,
		Verify:           true,
		Progress:         &progress,
	})
	var out bytes.Buffer
	if rep != nil {
		rep.Print(&out)
	}
	t.Logf("progress:\n%s\nreport:\n%s", progress.String(), out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Verified) != 4 {
		t.Errorf("verified %q, want both directions, the paced messages and the reconnect", rep.Verified)
	}
	if rep.Paced.Messages == 0 || rep.Paced.Latency.Samples != uint64(rep.Paced.Messages) {
		t.Errorf("paced phase: %d messages, %d latency samples; want every message timed once", rep.Paced.Messages, rep.Paced.Latency.Samples)
	}
	if len(rep.Memory) != 3 || rep.Memory[2].Logins != 20 {
		t.Errorf("memory points %+v", rep.Memory)
	}
	if rep.Storm.LeftBehind != 0 || rep.Storm.Reconnected != 20 {
		t.Errorf("storm %+v", rep.Storm)
	}
	if rep.Storm.PassportLogins < 20 {
		t.Errorf("only %d Passport logins counted in the storm", rep.Storm.PassportLogins)
	}
	if !rep.Presence.WithinConfiguredCap || rep.Presence.Requests == 0 {
		t.Errorf("presence %+v", rep.Presence)
	}
}
