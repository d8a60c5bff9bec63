package bridge

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// fakeGC records what a gcPacer does to the garbage collector.
type fakeGC struct {
	mu      sync.Mutex
	percent int
	frees   int
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
