package bridge

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2/status"
)

// fakeGC records what a gcPacer does to the garbage collector.
type fakeGC struct {
	mu      sync.Mutex
	percent int
	frees   int
	history []int // every percentage set
}

func newTestPacer(percent, processPercent int) (*gcPacer, *fakeGC) {
	f := &fakeGC{percent: processPercent}
	p := newGCPacer(percent, nil)
	p.settle = 30 * time.Millisecond
	p.setPercent = func(v int) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		prev := f.percent
		f.percent = v
		f.history = append(f.history, v)
		return prev
	}
	p.freeOS = func() {
		f.mu.Lock()
		f.frees++
		f.mu.Unlock()
	}
	return p, f
}

func (f *fakeGC) state() (percent, frees int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.percent, f.frees
}

func waitGC(t *testing.T, f *fakeGC, percent, frees int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		p, n := f.state()
		if p == percent && n == frees {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GC percent %d, %d frees; want %d, %d", p, n, percent, frees)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestGCPacerLowersWhileSigningIn(t *testing.T) {
	p, f := newTestPacer(20, 100)
	end := p.begin()
	if got, _ := f.state(); got != 20 {
		t.Fatalf("GC percent %d during a sign-in, want 20", got)
	}
	end()
	end() // idempotent
	// Restored after the settle time; one sign-in is no burst to free.
	waitGC(t, f, 100, 0)
	if p.active != 0 {
		t.Fatalf("%d sign-ins still counted", p.active)
	}
}

func TestGCPacerBurstIsOneWindowAndFreesMemory(t *testing.T) {
	p, f := newTestPacer(20, 100)
	// Logins reconnecting one after another, each starting before the
	// settle time of the previous one has passed: one burst.
	for range gcFreeAfter + 5 {
		end := p.begin()
		end()
		if got, _ := f.state(); got != 20 {
			t.Fatalf("GC percent %d inside the burst, want 20", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	waitGC(t, f, 100, 1)
	// Overlapping sign-ins: the percentage stays low until the last ends.
	a, b := p.begin(), p.begin()
	a()
	time.Sleep(60 * time.Millisecond)
	if got, _ := f.state(); got != 20 {
		t.Fatalf("GC percent %d while a sign-in still runs, want 20", got)
	}
	b()
	waitGC(t, f, 100, 1)
}

func TestGCPacerLeavesAdminSettingAlone(t *testing.T) {
	for _, process := range []int{-1, 10, 20} { // GOGC=off, and lower than ours
		p, f := newTestPacer(20, process)
		end := p.begin()
		if got, _ := f.state(); got != process {
			t.Fatalf("process GOGC %d: %d during a sign-in", process, got)
		}
		end()
		time.Sleep(60 * time.Millisecond)
		if got, frees := f.state(); got != process || frees != 0 {
			t.Fatalf("process GOGC %d: %d after, %d frees", process, got, frees)
		}
	}
	// Off in the config: nothing is touched.
	p, f := newTestPacer(0, 100)
	p.begin()()
	var nilPacer *gcPacer
	nilPacer.begin()()
	nilPacer.stop()
	if got, _ := f.state(); got != 100 {
		t.Fatalf("disabled pacer set GC percent %d", got)
	}
}

func TestGCPacerStopRestores(t *testing.T) {
	p, f := newTestPacer(20, 100)
	end := p.begin()
	p.stop()
	if got, _ := f.state(); got != 100 {
		t.Fatalf("GC percent %d after stop, want 100", got)
	}
	end()
	time.Sleep(60 * time.Millisecond)
	if got, frees := f.state(); got != 100 || frees != 0 {
		t.Fatalf("after stop and end: %d, %d frees", got, frees)
	}
}

// TestGCPacerRealRuntime checks the pacer against the runtime itself.
func TestGCPacerRealRuntime(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	p := newGCPacer(20, nil)
	p.settle = 10 * time.Millisecond
	end := p.begin()
	if got := runtimeGOGC(); got != 20 {
		t.Fatalf("runtime GC percent %d during a sign-in, want 20", got)
	}
	end()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := runtimeGOGC()
		if got == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runtime GC percent %d after the sign-in, want 100", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runtimeGOGC() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestSignInIsOneGCWindow checks the connect loop's use of the pacer: the
// percentage is lowered while a login signs in and syncs its contacts,
// and every window it opened is closed again, so that the process does
// not stay at the low percentage; a sign-in that fails closes its window
// too.
func TestSignInIsOneGCWindow(t *testing.T) {
	_, c := testServer(t)
	p, f := newTestPacer(20, 100)
	c.gc = p
	m, states := testClient(t, c, testPassword)
	m.Connect(context.Background())
	expectState(t, states, status.StateConnected, "")
	waitGC(t, f, 100, 0)
	f.mu.Lock()
	history := append([]int(nil), f.history...)
	f.mu.Unlock()
	if len(history) < 2 || history[0] != 20 || history[len(history)-1] != 100 {
		t.Fatalf("GC percentages set: %v, want 20 first and 100 last", history)
	}
	p.mu.Lock()
	active := p.active
	p.mu.Unlock()
	if active != 0 {
		t.Fatalf("%d sign-in windows left open", active)
	}

	_, c2 := testServer(t)
	p2, f2 := newTestPacer(20, 100)
	c2.gc = p2
	m2, states2 := testClient(t, c2, "wrong password")
	m2.Connect(context.Background())
	expectState(t, states2, status.StateBadCredentials, "")
	waitGC(t, f2, 100, 0)
	p2.mu.Lock()
	active = p2.active
	p2.mu.Unlock()
	if active != 0 {
		t.Fatalf("%d sign-in windows left open after a failed sign-in", active)
	}
}
