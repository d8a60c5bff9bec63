package sinkhs

import (
	"sync"
	"time"
)

// Timeline counts events per second of wall-clock time.
type Timeline struct {
	start   time.Time
	buckets []int64
	total   int64
	first   time.Time
	last    time.Time
}

func (t *Timeline) add(now time.Time) {
	if t.start.IsZero() {
		t.start = now.Truncate(time.Second)
		t.first = now
	}
	i := int(now.Sub(t.start) / time.Second)
	for len(t.buckets) <= i {
		t.buckets = append(t.buckets, 0)
	}
	t.buckets[i]++
	t.total++
	t.last = now
}

func (t *Timeline) clone() Timeline {
	c := *t
	c.buckets = append([]int64(nil), t.buckets...)
	return c
}

// Total is the number of events.
func (t Timeline) Total() int64 { return t.total }

// Last is the time of the last event (zero if none).
func (t Timeline) Last() time.Time { return t.last }

// Between counts events in whole seconds overlapping [from, to).
func (t Timeline) Between(from, to time.Time) int64 {
	var n int64
	for i, c := range t.buckets {
		sec := t.start.Add(time.Duration(i) * time.Second)
		if !sec.Add(time.Second).After(from) || !sec.Before(to) {
			continue
		}
		n += c
	}
	return n
}

// PeakPerSecond is the highest one-second count in [from, to).
func (t Timeline) PeakPerSecond(from, to time.Time) int64 {
	var peak int64
	for i, c := range t.buckets {
		sec := t.start.Add(time.Duration(i) * time.Second)
		if !sec.Add(time.Second).After(from) || !sec.Before(to) {
			continue
		}
		peak = max(peak, c)
	}
	return peak
}

// Counter is a Timeline safe for concurrent use.
type Counter struct {
	mu sync.Mutex
	t  Timeline
}

// Add counts one event at now.
func (c *Counter) Add(now time.Time) {
	c.mu.Lock()
	c.t.add(now)
	c.mu.Unlock()
}

// Snapshot returns a copy of the timeline so far.
func (c *Counter) Snapshot() Timeline {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t.clone()
}
