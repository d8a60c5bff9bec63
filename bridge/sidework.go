package bridge

import (
	"context"
	"sync"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// maxSideJobs bounds the queued notices of a login.
const maxSideJobs = 256

// sideWork runs the homeserver and database work that follows MSN events
// (ghost profiles, stored presence, our own name, notices) on a goroutine
// of its own, started when work is queued and ended when none is left (an
// idle login keeps no goroutine for it), so that a slow homeserver or the presence burst at sign-in
// never delays message delivery on the event goroutine. Profile and
// presence updates are coalesced per contact (the last value wins), so
// they are bounded by the contact list; notices are a bounded FIFO.
type sideWork struct {
	log zerolog.Logger

	// What the worker calls (tests replace them).
	applyName     func(ctx context.Context, email, name string)
	storePresence func(ctx context.Context, email string, p storedPresence)
	saveOwnName   func(ctx context.Context, name string)

	mu       sync.Mutex
	names    map[string]string
	presence map[string]storedPresence
	ownName  string
	jobs     []func(context.Context)
	maxJobs  int

	ctx     context.Context // set by start; the worker's lifetime
	bg      *background     // tracks the worker
	running bool            // a worker goroutine is running
}

// storedPresence is a contact's presence to store in the snapshot; only
// the parts that are set changed.
type storedPresence struct {
	Status    msnclient.Status
	HasStatus bool
	PSM       string
	HasPSM    bool
}

func newSideWork(log zerolog.Logger) *sideWork {
	sw := &sideWork{log: log, maxJobs: maxSideJobs}
	sw.resetLocked()
	return sw
}

func (sw *sideWork) resetLocked() {
	sw.names = make(map[string]string)
	sw.presence = make(map[string]storedPresence)
	sw.ownName = ""
	sw.jobs = nil
}

// reset drops the queued work (after a logout).
func (sw *sideWork) reset() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.resetLocked()
}

// start lets queued work run until ctx is done, on goroutines tracked by
// bg. Work queued before start waits for it.
func (sw *sideWork) start(ctx context.Context, bg *background) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.ctx, sw.bg = ctx, bg
	if !sw.emptyLocked() {
		sw.kickLocked()
	}
}

// signal starts the worker unless it runs already.
func (sw *sideWork) signal() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.kickLocked()
}

func (sw *sideWork) kickLocked() {
	if sw.running || sw.ctx == nil || sw.ctx.Err() != nil {
		return
	}
	sw.running = true
	ctx := sw.ctx
	sw.bg.Go(func() { sw.work(ctx) })
}

func (sw *sideWork) emptyLocked() bool {
	return len(sw.names) == 0 && len(sw.presence) == 0 && sw.ownName == "" && len(sw.jobs) == 0
}

// work does the queued work until none is left or ctx is done.
func (sw *sideWork) work(ctx context.Context) {
	for {
		if ctx.Err() == nil && sw.runBatch(ctx) {
			continue
		}
		sw.mu.Lock()
		if ctx.Err() != nil || sw.emptyLocked() {
			sw.running = false
			sw.mu.Unlock()
			return
		}
		sw.mu.Unlock()
	}
}

// setName queues pushing a contact's friendly name to its ghost.
func (sw *sideWork) setName(email, name string) {
	sw.mu.Lock()
	sw.names[email] = name
	sw.mu.Unlock()
	sw.signal()
}

// setPresence queues storing a contact's status or personal message.
func (sw *sideWork) setPresence(email string, change storedPresence) {
	sw.mu.Lock()
	p := sw.presence[email]
	if change.HasStatus {
		p.Status, p.HasStatus = change.Status, true
	}
	if change.HasPSM {
		p.PSM, p.HasPSM = change.PSM, true
	}
	sw.presence[email] = p
	sw.mu.Unlock()
	sw.signal()
}

// setOwnName queues saving our own friendly name.
func (sw *sideWork) setOwnName(name string) {
	sw.mu.Lock()
	sw.ownName = name
	sw.mu.Unlock()
	sw.signal()
}

// add queues a job (a notice); it reports false, dropping the job, when
// the queue is full.
func (sw *sideWork) add(job func(context.Context)) bool {
	sw.mu.Lock()
	if len(sw.jobs) >= sw.maxJobs {
		sw.mu.Unlock()
		sw.log.Warn().Int("queued", sw.maxJobs).Msg("Too many queued notices; dropping one")
		return false
	}
	sw.jobs = append(sw.jobs, job)
	sw.mu.Unlock()
	sw.signal()
	return true
}

// runBatch does what was queued so far; it reports false when nothing was.
func (sw *sideWork) runBatch(ctx context.Context) bool {
	sw.mu.Lock()
	names, presence, ownName, jobs := sw.names, sw.presence, sw.ownName, sw.jobs
	if sw.emptyLocked() {
		sw.mu.Unlock()
		return false
	}
	sw.resetLocked()
	sw.mu.Unlock()
	if ownName != "" {
		sw.saveOwnName(ctx, ownName)
	}
	for email, p := range presence {
		sw.storePresence(ctx, email, p)
	}
	for email, name := range names {
		if ctx.Err() != nil {
			return false
		}
		sw.applyName(ctx, email, name)
	}
	for _, job := range jobs {
		if ctx.Err() != nil {
			return false
		}
		job(ctx)
	}
	return true
}
