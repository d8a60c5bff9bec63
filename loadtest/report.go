package loadtest

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Report is the result of one run (or the median of several).
type Report struct {
	Date        time.Time `json:"date"`
	Homeserver  string    `json:"homeserver"`
	Database    string    `json:"database"`
	Logins      int       `json:"logins"`
	Contacts    int       `json:"contacts_per_login"`
	OnlinePeers int       `json:"online_contacts"`
	CPUs        int       `json:"cpus"`
	LoadBefore  string    `json:"load_before"` // /proc/loadavg at the start
	LoadAfter   string    `json:"load_after"`
	Runs        int       `json:"runs"`
	RunLoads    []string  `json:"run_loads,omitempty"` // each run's load before and after (medians only)

	Memory             []MemoryPoint  `json:"memory"`
	PerLoginKiB        float64        `json:"rss_per_login_kib"`  // RSS increment per idle login, first to last step
	HeapPerLoginKiB    float64        `json:"heap_per_login_kib"` // Go heap in use, same
	StackPerLoginKiB   float64        `json:"stack_per_login_kib"`
	GoHeldPerLoginKiB  float64        `json:"go_held_per_login_kib"`
	GoroutinesPerLogin float64        `json:"goroutines_per_login"`
	LatencyIdle        Latency        `json:"latency_idle"`       // read off the switchboard -> send request issued
	LatencyLoaded      Latency        `json:"latency_under_load"` // the same under the throughput load
	DeliveredIdle      Latency        `json:"delivered_idle"`     // read off the switchboard -> homeserver answered, row stored
	DeliveredLoaded    Latency        `json:"delivered_under_load"`
	Paced              PacedLoad      `json:"paced_load"`
	ToMatrix           Throughput     `json:"msn_to_matrix"`
	ToMSN              Throughput     `json:"matrix_to_msn"`
	Presence           PresenceStorm  `json:"presence_storm"`
	Storm              ReconnectStorm `json:"reconnect_storm"`
	MemoryAfterStorm   *MemoryPoint   `json:"memory_after_storm,omitempty"`
	Verified           []string       `json:"verified,omitempty"`
	Profiles           []string       `json:"profiles,omitempty"`
	Error              string         `json:"error,omitempty"`
	MemoryGoalKiB      float64        `json:"memory_goal_kib"`
	ThroughputGoal     float64        `json:"throughput_goal_per_second"`
	LatencyGoalP99     time.Duration  `json:"latency_goal_p99_ns"`
	StormGoalDuration  time.Duration  `json:"storm_goal_ns"`
}

// MemoryPoint is the bridge's memory with a number of idle logins.
type MemoryPoint struct {
	Logins       int   `json:"logins"`
	RSSKiB       int64 `json:"rss_kib"`
	HeapInuseKiB int64 `json:"heap_inuse_kib"`
	StackKiB     int64 `json:"stack_inuse_kib"`
	// GoHeldKiB is what the Go runtime holds from the OS (sys minus
	// released); RSS beyond it is C memory (SQLite's page cache) and code.
	GoHeldKiB  int64 `json:"go_held_kib"`
	Goroutines int   `json:"goroutines"`
}

// Latency is the latency the bridge added, from its histogram.
type Latency struct {
	Samples uint64        `json:"samples"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	// WithinGoal is the share of samples at or under the idle p99 goal
	// (1 ms, a bucket bound of the histogram, so it is exact).
	WithinGoal float64 `json:"share_within_goal"`
}

// Throughput is one direction's sustained rate.
type Throughput struct {
	Messages      int           `json:"messages"`
	Conversations int           `json:"conversations"`
	Seconds       float64       `json:"seconds"`
	PerSecond     float64       `json:"per_second"`
	SendSeconds   float64       `json:"send_seconds,omitempty"`
	CPUPerMessage time.Duration `json:"cpu_per_message_ns"`
	CPUCores      float64       `json:"cpu_cores"` // bridge CPU time / wall time
}

// PacedLoad is the paced phase's result: the latency under a load the
// bridge carries.
type PacedLoad struct {
	Share            float64 `json:"share_of_measured_rate"`
	OfferedPerSecond float64 `json:"offered_per_second"`
	Messages         int     `json:"messages"`
	// LateSends counts sends the harness made more than one interval after
	// they were due (the harness itself fell behind).
	LateSends int64   `json:"late_sends"`
	Latency   Latency `json:"latency"`   // read off the switchboard -> send request issued
	Delivered Latency `json:"delivered"` // -> homeserver answered, row stored
}

// PresenceStorm is the presence phase's result.
type PresenceStorm struct {
	Contacts            int     `json:"contacts"`
	Pairs               int     `json:"login_contact_pairs"`
	StatusChanges       int64   `json:"status_changes"`
	Seconds             float64 `json:"seconds"`
	IntervalSeconds     int     `json:"interval_seconds"`
	Requests            int64   `json:"requests"`
	RequestsPerSecond   float64 `json:"requests_per_second"`
	PeakPerSecond       int64   `json:"peak_per_second"`
	AllowedPerSecond    float64 `json:"allowed_per_second"`
	WorstContactShare   float64 `json:"worst_contact_share_of_cap"`
	WorstContact        string  `json:"worst_contact"`
	WithinConfiguredCap bool    `json:"within_configured_cap"`
}

// ReconnectStorm is the storm phase's result.
type ReconnectStorm struct {
	Logins           int           `json:"logins"`
	Seconds          float64       `json:"seconds"`
	Reconnected      int           `json:"reconnected"`
	LeftBehind       int           `json:"left_behind"`
	PassportLogins   int64         `json:"passport_logins"`
	PeakLoginsPerSec int64         `json:"peak_passport_logins_per_second"`
	CapPerSecond     float64       `json:"cap_per_second"`
	CPUPerLogin      time.Duration `json:"cpu_per_sign_in_ns"`
	// PeakStartsPerSec is the most sign-ins the bridge itself started in
	// one second (its counter, sampled every 200 ms): what the cap governs.
	PeakStartsPerSec float64 `json:"peak_sign_ins_started_per_second"`
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func newReport(o Options) *Report {
	return &Report{
		Date:              time.Now().UTC(),
		Homeserver:        o.Homeserver,
		Database:          o.DB.Type,
		Logins:            o.logins(),
		Contacts:          o.Contacts,
		CPUs:              runtime.NumCPU(),
		LoadBefore:        loadAvg(),
		Runs:              1,
		MemoryGoalKiB:     64,
		ThroughputGoal:    2000,
		LatencyGoalP99:    time.Millisecond,
		StormGoalDuration: 30 * time.Second,
	}
}

func (r *Report) finish() {
	r.LoadAfter = loadAvg()
	if len(r.Memory) >= 2 {
		a, b := r.Memory[0], r.Memory[len(r.Memory)-1]
		if n := b.Logins - a.Logins; n > 0 {
			r.PerLoginKiB = float64(b.RSSKiB-a.RSSKiB) / float64(n)
			r.HeapPerLoginKiB = float64(b.HeapInuseKiB-a.HeapInuseKiB) / float64(n)
			r.StackPerLoginKiB = float64(b.StackKiB-a.StackKiB) / float64(n)
			r.GoHeldPerLoginKiB = float64(b.GoHeldKiB-a.GoHeldKiB) / float64(n)
			r.GoroutinesPerLogin = float64(b.Goroutines-a.Goroutines) / float64(n)
		}
	}
}

func goal(ok bool) string {
	if ok {
		return "goal met"
	}
	return "GOAL MISSED"
}

// Print writes the report as text.
func (r *Report) Print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("mautrix-msn load report, %s", r.Date.Format(time.RFC3339))
	p("  homeserver %s, database %s, %d logins x %d contacts (half online; %d online contacts), %d CPUs", r.Homeserver, r.Database, r.Logins, r.Contacts, r.OnlinePeers, r.CPUs)
	p("  machine load (1/5/15 min): before %s, after %s; runs: %d (figures are medians)", r.LoadBefore, r.LoadAfter, r.Runs)
	for i, l := range r.RunLoads {
		p("  run %d: load %s", i+1, l)
	}
	if len(r.Memory) > 0 {
		p("Memory (after a GC through the debug API):")
		for _, m := range r.Memory {
			p("  %5d logins: RSS %8.1f MiB (Go runtime %6.1f MiB), Go heap in use %8.1f MiB, stacks %7.1f MiB, %6d goroutines",
				m.Logins, float64(m.RSSKiB)/1024, float64(m.GoHeldKiB)/1024, float64(m.HeapInuseKiB)/1024, float64(m.StackKiB)/1024, m.Goroutines)
		}
		if len(r.Memory) >= 2 {
			p("  per idle login: RSS %.1f KiB (Go runtime %.1f KiB), Go heap %.1f KiB, stacks %.1f KiB, %.2f goroutines (goal <= %.0f KiB RSS: %s)",
				r.PerLoginKiB, r.GoHeldPerLoginKiB, r.HeapPerLoginKiB, r.StackPerLoginKiB, r.GoroutinesPerLogin, r.MemoryGoalKiB, goal(r.PerLoginKiB <= r.MemoryGoalKiB))
		}
	}
	if r.LatencyIdle.Samples > 0 {
		p("Latency added by the bridge, MSN -> Matrix (read off the switchboard -> homeserver send request issued):")
		p("  idle:       p50 %s, p99 %s, %.1f%% within %s (%d samples; goal p99 <= %s: %s)", r.LatencyIdle.P50, r.LatencyIdle.P99,
			100*r.LatencyIdle.WithinGoal, r.LatencyGoalP99, r.LatencyIdle.Samples, r.LatencyGoalP99, goal(r.LatencyIdle.P99 <= r.LatencyGoalP99))
	}
	if r.Paced.Latency.Samples > 0 {
		p("  paced:      p50 %s, p99 %s, %.1f%% within %s (%d samples; %.0f msg/s offered evenly, %.0f%% of the measured rate)", r.Paced.Latency.P50, r.Paced.Latency.P99,
			100*r.Paced.Latency.WithinGoal, r.LatencyGoalP99, r.Paced.Latency.Samples, r.Paced.OfferedPerSecond, 100*r.Paced.Share)
		if r.Paced.LateSends > 0 {
			p("              (the harness sent %d of them more than an interval late)", r.Paced.LateSends)
		}
	}
	if r.LatencyLoaded.Samples > 0 {
		p("  flood:      p50 %s, p99 %s (%d samples, all offered at once: mostly the wait in the backlog)", r.LatencyLoaded.P50, r.LatencyLoaded.P99, r.LatencyLoaded.Samples)
	}
	var e2e []string
	for _, l := range []struct {
		name string
		lat  Latency
	}{{"idle", r.DeliveredIdle}, {"paced", r.Paced.Delivered}, {"flood", r.DeliveredLoaded}} {
		if l.lat.Samples > 0 || l.lat.P50 > 0 {
			e2e = append(e2e, fmt.Sprintf("%s: p50 %s, p99 %s", l.name, l.lat.P50, l.lat.P99))
		}
	}
	if len(e2e) > 0 {
		p("End to end, MSN -> Matrix (read off the switchboard -> homeserver answered and message stored):")
		p("  %s", strings.Join(e2e, "; "))
	}
	if r.ToMatrix.Messages > 0 {
		t := r.ToMatrix
		line := fmt.Sprintf("  MSN -> Matrix: %d messages over %d conversations in %.2f s = %.0f msg/s; bridge CPU %s per message (%.2f cores)",
			t.Messages, t.Conversations, t.Seconds, t.PerSecond, t.CPUPerMessage, t.CPUCores)
		if r.Homeserver == HomeserverSink {
			line += fmt.Sprintf(" (goal >= %.0f/s: %s)", r.ThroughputGoal, goal(t.PerSecond >= r.ThroughputGoal))
		}
		p("Throughput:")
		p("%s", line)
	}
	if r.ToMSN.Messages > 0 {
		t := r.ToMSN
		p("  Matrix -> MSN: %d messages over %d conversations in %.2f s = %.0f msg/s; bridge CPU %s per message (%.2f cores)",
			t.Messages, t.Conversations, t.Seconds, t.PerSecond, t.CPUPerMessage, t.CPUCores)
	}
	if r.Presence.Pairs > 0 {
		ps := r.Presence
		p("Presence storm: %d contacts x their logins (%d pairs) flapping, %d status changes in %.0f s", ps.Contacts, ps.Pairs, ps.StatusChanges, ps.Seconds)
		p("  %d presence requests to the homeserver, %.0f/s (peak %d/s); configured cap %.0f/s (1 per contact per login per %d s); busiest contact at %.0f%% of its cap: %s",
			ps.Requests, ps.RequestsPerSecond, ps.PeakPerSecond, ps.AllowedPerSecond, ps.IntervalSeconds, ps.WorstContactShare*100, goal(ps.WithinConfiguredCap))
	}
	if r.Storm.Logins > 0 {
		s := r.Storm
		p("Reconnect storm (MSN server restarted under %d logins):", s.Logins)
		p("  all CONNECTED again after %.1f s (goal <= %s: %s); %d left behind; %d Passport logins, peak %d/s at the server; sign-ins started by the bridge: peak %.0f in 1 s (cap %v/s); bridge CPU %s per sign-in",
			s.Seconds, r.StormGoalDuration, goal(s.Seconds <= r.StormGoalDuration.Seconds() && s.LeftBehind == 0), s.LeftBehind, s.PassportLogins, s.PeakLoginsPerSec, s.PeakStartsPerSec, s.CapPerSecond, s.CPUPerLogin)
	}
	if m := r.MemoryAfterStorm; m != nil && len(r.Memory) > 0 {
		base := r.Memory[0]
		per := func(a, b int64) float64 { return float64(a-b) / float64(max(m.Logins-base.Logins, 1)) }
		p("  after the storm (%d logins): RSS %.1f MiB, Go heap in use %.1f MiB, stacks %.1f MiB, %d goroutines; per login: RSS %.1f KiB, heap %.1f KiB, stacks %.1f KiB",
			m.Logins, float64(m.RSSKiB)/1024, float64(m.HeapInuseKiB)/1024, float64(m.StackKiB)/1024, m.Goroutines,
			per(m.RSSKiB, base.RSSKiB), per(m.HeapInuseKiB, base.HeapInuseKiB), per(m.StackKiB, base.StackKiB))
	}
	for _, v := range r.Verified {
		p("Verified: %s", v)
	}
	for _, f := range r.Profiles {
		p("Profile: %s", f)
	}
	if r.Error != "" {
		p("ERROR: %s", r.Error)
	}
}

// Median combines runs of the same options: each figure is the median of
// the runs' figures.
func Median(runs []*Report) *Report {
	if len(runs) == 0 {
		return nil
	}
	out := *runs[0]
	out.Runs = len(runs)
	out.LoadAfter = runs[len(runs)-1].LoadAfter
	out.RunLoads = nil
	if len(runs) > 1 {
		for _, r := range runs {
			out.RunLoads = append(out.RunLoads, fmt.Sprintf("before %s, after %s", r.LoadBefore, r.LoadAfter))
		}
	}
	mf := func(get func(*Report) float64) float64 {
		vals := make([]float64, len(runs))
		for i, r := range runs {
			vals[i] = get(r)
		}
		slices.Sort(vals)
		return vals[len(vals)/2]
	}
	md := func(get func(*Report) time.Duration) time.Duration {
		return time.Duration(mf(func(r *Report) float64 { return float64(get(r)) }))
	}
	out.Memory = slices.Clone(runs[0].Memory)
	for i := range out.Memory {
		out.Memory[i].RSSKiB = int64(mf(func(r *Report) float64 { return float64(at(r.Memory, i).RSSKiB) }))
		out.Memory[i].HeapInuseKiB = int64(mf(func(r *Report) float64 { return float64(at(r.Memory, i).HeapInuseKiB) }))
		out.Memory[i].StackKiB = int64(mf(func(r *Report) float64 { return float64(at(r.Memory, i).StackKiB) }))
		out.Memory[i].GoHeldKiB = int64(mf(func(r *Report) float64 { return float64(at(r.Memory, i).GoHeldKiB) }))
		out.Memory[i].Goroutines = int(mf(func(r *Report) float64 { return float64(at(r.Memory, i).Goroutines) }))
	}
	out.StackPerLoginKiB = mf(func(r *Report) float64 { return r.StackPerLoginKiB })
	out.GoHeldPerLoginKiB = mf(func(r *Report) float64 { return r.GoHeldPerLoginKiB })
	out.GoroutinesPerLogin = mf(func(r *Report) float64 { return r.GoroutinesPerLogin })
	out.PerLoginKiB = mf(func(r *Report) float64 { return r.PerLoginKiB })
	out.HeapPerLoginKiB = mf(func(r *Report) float64 { return r.HeapPerLoginKiB })
	out.LatencyIdle.P50 = md(func(r *Report) time.Duration { return r.LatencyIdle.P50 })
	out.LatencyIdle.P99 = md(func(r *Report) time.Duration { return r.LatencyIdle.P99 })
	out.LatencyIdle.WithinGoal = mf(func(r *Report) float64 { return r.LatencyIdle.WithinGoal })
	out.LatencyLoaded.P50 = md(func(r *Report) time.Duration { return r.LatencyLoaded.P50 })
	out.LatencyLoaded.P99 = md(func(r *Report) time.Duration { return r.LatencyLoaded.P99 })
	out.DeliveredIdle.P50 = md(func(r *Report) time.Duration { return r.DeliveredIdle.P50 })
	out.DeliveredIdle.P99 = md(func(r *Report) time.Duration { return r.DeliveredIdle.P99 })
	out.DeliveredLoaded.P50 = md(func(r *Report) time.Duration { return r.DeliveredLoaded.P50 })
	out.DeliveredLoaded.P99 = md(func(r *Report) time.Duration { return r.DeliveredLoaded.P99 })
	out.Paced.OfferedPerSecond = mf(func(r *Report) float64 { return r.Paced.OfferedPerSecond })
	out.Paced.Latency.P50 = md(func(r *Report) time.Duration { return r.Paced.Latency.P50 })
	out.Paced.Latency.P99 = md(func(r *Report) time.Duration { return r.Paced.Latency.P99 })
	out.Paced.Latency.WithinGoal = mf(func(r *Report) float64 { return r.Paced.Latency.WithinGoal })
	out.Paced.Delivered.P50 = md(func(r *Report) time.Duration { return r.Paced.Delivered.P50 })
	out.Paced.Delivered.P99 = md(func(r *Report) time.Duration { return r.Paced.Delivered.P99 })
	if runs[0].MemoryAfterStorm != nil {
		ms := *runs[0].MemoryAfterStorm
		get := func(r *Report) MemoryPoint {
			if r.MemoryAfterStorm == nil {
				return MemoryPoint{}
			}
			return *r.MemoryAfterStorm
		}
		ms.RSSKiB = int64(mf(func(r *Report) float64 { return float64(get(r).RSSKiB) }))
		ms.HeapInuseKiB = int64(mf(func(r *Report) float64 { return float64(get(r).HeapInuseKiB) }))
		ms.StackKiB = int64(mf(func(r *Report) float64 { return float64(get(r).StackKiB) }))
		ms.GoHeldKiB = int64(mf(func(r *Report) float64 { return float64(get(r).GoHeldKiB) }))
		ms.Goroutines = int(mf(func(r *Report) float64 { return float64(get(r).Goroutines) }))
		out.MemoryAfterStorm = &ms
	}
	out.Storm.PeakStartsPerSec = mf(func(r *Report) float64 { return r.Storm.PeakStartsPerSec })
	out.Storm.CPUPerLogin = md(func(r *Report) time.Duration { return r.Storm.CPUPerLogin })
	out.Storm.PassportLogins = int64(mf(func(r *Report) float64 { return float64(r.Storm.PassportLogins) }))
	medThroughput := func(get func(*Report) *Throughput) Throughput {
		t := *get(runs[0])
		t.Seconds = mf(func(r *Report) float64 { return get(r).Seconds })
		t.PerSecond = mf(func(r *Report) float64 { return get(r).PerSecond })
		t.CPUPerMessage = md(func(r *Report) time.Duration { return get(r).CPUPerMessage })
		t.CPUCores = mf(func(r *Report) float64 { return get(r).CPUCores })
		return t
	}
	out.ToMatrix = medThroughput(func(r *Report) *Throughput { return &r.ToMatrix })
	out.ToMSN = medThroughput(func(r *Report) *Throughput { return &r.ToMSN })
	out.Presence.RequestsPerSecond = mf(func(r *Report) float64 { return r.Presence.RequestsPerSecond })
	out.Presence.PeakPerSecond = int64(mf(func(r *Report) float64 { return float64(r.Presence.PeakPerSecond) }))
	out.Presence.WorstContactShare = mf(func(r *Report) float64 { return r.Presence.WorstContactShare })
	out.Storm.Seconds = mf(func(r *Report) float64 { return r.Storm.Seconds })
	out.Storm.PeakLoginsPerSec = int64(mf(func(r *Report) float64 { return float64(r.Storm.PeakLoginsPerSec) }))
	out.Storm.LeftBehind = int(mf(func(r *Report) float64 { return float64(r.Storm.LeftBehind) }))
	return &out
}

func at(list []MemoryPoint, i int) MemoryPoint {
	if i < len(list) {
		return list[i]
	}
	return MemoryPoint{}
}
