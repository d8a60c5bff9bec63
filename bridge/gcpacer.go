package bridge

import (
	"runtime/debug"
	"sync"
	"time"
)

// SignInGCExampleConfig is the example YAML of Config.SignInGCPercent, for
// the network section of example-config.yaml.
const SignInGCExampleConfig = `# While logins sign in, Go's garbage collector runs more often: at this
# GOGC percentage instead of the process's own (100 unless GOGC is set),
# and once a burst of sign-ins is over, the memory its garbage took is
# given back to the system. What a sign-in keeps (contact list, presence,
# connection) is then packed densely instead of spread among the
# sign-in's garbage: an idle login takes about a quarter less memory, for
# a third to a half more CPU per sign-in (docs/performance.md). 0 leaves
# the garbage collector alone.
sign_in_gc_percent: 20
`

// gcSettle is how long no sign-in must run before the GC percentage goes
// back: logins reconnecting one after another at the login rate form one
// burst.
const gcSettle = time.Second

// gcFreeAfter is how many sign-ins a burst must have had for its end to
// return memory to the system (a forced collection, worth it only after
// many).
const gcFreeAfter = 10

// gcPacer lowers the garbage collector's target while sign-ins run.
//
// A sign-in allocates about 1.5 MB that it drops (SOAP and XML, HTTP) and
// a few tens of KiB that stay for the session. Go does not move objects:
// a span of the heap stays in use while one object in it lives, so with
// the usual target (collect when the heap has doubled) the kept objects
// end up spread over twice their size of spans. Collecting more often
// while sign-ins run packs them. The GC percentage is the process's, so
// the pacer is the connector's one owner of it.
type gcPacer struct {
	percent int // while sign-ins run; 0: off

	setPercent func(int) int // debug.SetGCPercent (tests replace it)
	freeOS     func()        // debug.FreeOSMemory
	settle     time.Duration

	mu      sync.Mutex
	active  int  // sign-ins running
	begun   int  // sign-ins begun since the percentage was lowered
	lowered bool // the percentage is ours
	saved   int  // the percentage to restore
	timer   *time.Timer
}

// newGCPacer returns a pacer that collects at percent while sign-ins run;
// after a burst it returns Go's free memory to the system and calls
// releaseC (if not nil) for the C side's.
func newGCPacer(percent int, releaseC func()) *gcPacer {
	return &gcPacer{
		percent:    percent,
		setPercent: debug.SetGCPercent,
		freeOS: func() {
			debug.FreeOSMemory()
			if releaseC != nil {
				releaseC()
			}
		},
		settle: gcSettle,
	}
}

// begin marks a sign-in (or the contact sync after it) as running and
// returns the function that ends it (idempotent). A nil pacer does
// nothing.
func (p *gcPacer) begin() (end func()) {
	if p == nil || p.percent <= 0 {
		return func() {}
	}
	p.mu.Lock()
	p.active++
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if !p.lowered {
		prev := p.setPercent(p.percent)
		if prev < 0 || prev <= p.percent {
			// GC off, or already collecting at least this often: the
			// admin's setting stands.
			p.setPercent(prev)
		} else {
			p.lowered, p.saved, p.begun = true, prev, 0
		}
	}
	if p.lowered {
		p.begun++
	}
	p.mu.Unlock()
	var once sync.Once
	return func() { once.Do(p.end) }
}

func (p *gcPacer) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active--
	if p.active == 0 && p.lowered && p.timer == nil {
		p.timer = time.AfterFunc(p.settle, p.restore)
	}
}

// restore puts the GC percentage back once no sign-in has run for the
// settle time, and gives the burst's memory back after a large burst.
func (p *gcPacer) restore() {
	p.mu.Lock()
	p.timer = nil
	if p.active > 0 || !p.lowered {
		p.mu.Unlock()
		return
	}
	p.setPercent(p.saved)
	p.lowered = false
	free := p.begun >= gcFreeAfter
	p.begun = 0
	p.mu.Unlock()
	if free {
		p.freeOS()
	}
}

// stop restores the GC percentage at once (on shutdown).
func (p *gcPacer) stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if p.lowered {
		p.setPercent(p.saved)
		p.lowered = false
	}
}
