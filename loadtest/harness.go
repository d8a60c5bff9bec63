// Package loadtest is the load harness of mautrix-msn: it runs the real
// bridge binary between the fake MSN server (msntest, with generated
// accounts, contact lists and online contacts) and a homeserver (Dendrite,
// or the sink homeserver of loadtest/sinkhs), logs Matrix users in through
// the provisioning API, drives traffic and measures the bridge from the
// outside: /proc, its Prometheus metrics, the debug (pprof) API and what
// the homeserver and the MSN contacts received.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
	"github.com/mautrix-msn/mautrix-msn/loadtest/sinkhs"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Homeserver modes.
const (
	HomeserverSink     = "sink"
	HomeserverDendrite = "dendrite"
)

// Options configures one run.
type Options struct {
	Dir         string // working directory (bridge config, database, logs, profiles)
	BridgeBin   string // mautrix-msn binary; built into Dir when empty
	DendriteBin string // for HomeserverDendrite
	Homeserver  string // HomeserverSink (default) or HomeserverDendrite
	DB          stack.Database

	// Steps are the login counts at which memory is measured, ascending;
	// the last one is the number of logins for everything after.
	Steps    []int
	Contacts int // contacts per login, half of them online (default 20)

	Conversations   int           // conversations used for traffic (default min(logins, 200))
	Messages        int           // MSN -> Matrix messages of the throughput phase
	ReverseMessages int           // Matrix -> MSN messages (sink mode only)
	LatencyProbes   int           // sequential messages of the idle latency phase
	PresenceStorm   time.Duration // length of the presence storm (0: skip)
	FlapEvery       time.Duration // each online contact's status change period in the storm
	Storm           bool          // restart the MSN server under all logins

	// PacedShare is the share of the measured MSN -> Matrix rate offered,
	// evenly spaced, in the paced phase that measures the latency under a
	// load the bridge carries (0: skip); PacedFor is its length (default
	// 10 s).
	PacedShare float64
	PacedFor   time.Duration

	PresenceInterval int     // network.presence.min_interval_seconds
	LoginRate        float64 // network.login_rate.max_per_second (negative: config default)
	LoginWorkers     int     // parallel provisioning logins (default 4)

	// Verify records every message body and checks each arrived exactly
	// once (small runs, CI).
	Verify bool
	// Profile saves heap and CPU profiles of the bridge into Dir.
	Profile bool
	// Edits are extra bridge config edits (dotted paths), applied last.
	Edits map[string]any
	// DebugLog keeps the bridge's debug logging (slow; for finding faults).
	DebugLog bool
	// MemoryGCs is how many garbage collections (a second apart) precede
	// each memory reading (default 1). Each one also halves the stacks of
	// goroutines that use less than a quarter of theirs, so a few of them
	// show the idle bridge as it is after a few minutes (the runtime forces
	// a collection every 2 minutes), not the stacks just grown by signing
	// in; 1 shows the state right after the logins.
	MemoryGCs int
	Progress  io.Writer
}

func (o *Options) defaults() {
	if o.Homeserver == "" {
		o.Homeserver = HomeserverSink
	}
	if o.DB.Type == "" {
		o.DB = stack.SQLite()
	}
	if len(o.Steps) == 0 {
		o.Steps = []int{20}
	}
	if o.Contacts == 0 {
		o.Contacts = 20
	}
	if o.Conversations == 0 {
		o.Conversations = min(o.logins(), 200)
	}
	if o.LoginWorkers == 0 {
		o.LoginWorkers = 4
	}
	if o.FlapEvery == 0 {
		o.FlapEvery = time.Second
	}
	if o.PacedFor == 0 {
		o.PacedFor = 10 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

func (o *Options) memoryGCs() int {
	if o.MemoryGCs <= 0 {
		return 1
	}
	return o.MemoryGCs
}

func (o *Options) logins() int { return o.Steps[len(o.Steps)-1] }

// harness is one run in progress.
type harness struct {
	opts   Options
	start  time.Time
	msn    *msnWorld
	sink   *sinkhs.Server
	hs     *stack.Dendrite
	br     *stack.Bridge
	api    *bridgeAPI
	server string // homeserver domain
	report *Report
	logged int // logins done so far
	seq    atomic.Int64
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.opts.Progress, "[%6.1fs] %s\n", time.Since(h.start).Seconds(), fmt.Sprintf(format, args...))
}

// matrixUser is the Matrix user of login i.
func (h *harness) matrixUser(i int) id.UserID {
	return id.NewUserID(fmt.Sprintf("load%05d", i), h.server)
}

// Run performs one run and returns its report. Errors in a phase are
// recorded in the report and stop the run.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	for i := 1; i < len(opts.Steps); i++ {
		if opts.Steps[i] < opts.Steps[i-1] {
			return nil, errors.New("login steps must be ascending")
		}
	}
	h := &harness{opts: opts, start: time.Now(), server: "localhost"}
	h.report = newReport(opts)
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	defer h.stop()
	defer h.report.finish()
	if err := h.setup(ctx); err != nil {
		return h.report, err
	}
	phases := []struct {
		name string
		run  func(context.Context) error
		skip bool
	}{
		{"memory", h.memoryPhase, false},
		{"latency", h.latencyPhase, opts.LatencyProbes == 0},
		{"throughput", h.throughputPhase, opts.Messages == 0},
		{"paced", h.pacedPhase, opts.Messages == 0 || opts.PacedShare <= 0},
		{"reverse", h.reversePhase, opts.ReverseMessages == 0 || h.sink == nil},
		{"presence", h.presencePhase, opts.PresenceStorm == 0 || h.sink == nil},
		{"storm", h.stormPhase, !opts.Storm},
	}
	for _, p := range phases {
		if p.skip {
			continue
		}
		h.logf("phase %s", p.name)
		if err := p.run(ctx); err != nil {
			return h.report, fmt.Errorf("%s phase: %w", p.name, err)
		}
	}
	return h.report, nil
}

func (h *harness) setup(ctx context.Context) error {
	o := h.opts
	if o.BridgeBin == "" {
		mod, err := stack.ModuleDir()
		if err != nil {
			return err
		}
		h.logf("building the bridge")
		if o.BridgeBin, err = stack.BuildBridge(ctx, mod, o.Dir); err != nil {
			return err
		}
		h.opts.BridgeBin = o.BridgeBin
	}
	h.logf("starting the fake MSN server: %d logins x %d contacts", o.logins(), o.Contacts)
	msn, err := startMSNWorld(ctx, o.logins(), o.Contacts, o.Verify)
	if err != nil {
		return err
	}
	h.msn = msn
	h.report.OnlinePeers = msn.peers

	hsPort, err := stack.FreePort()
	if err != nil {
		return err
	}
	metricsPort, err := stack.FreePort()
	if err != nil {
		return err
	}
	hsURL := fmt.Sprintf("http://127.0.0.1:%d", hsPort)
	edits := map[string]any{
		"network.servers":                       []any{msn.serverConfig()},
		"network.presence.enabled":              true,
		"network.presence.min_interval_seconds": o.PresenceInterval,
		"network.metrics.enabled":               true,
		"network.metrics.listen":                fmt.Sprintf("127.0.0.1:%d", metricsPort),
		"provisioning.debug_endpoints":          true,
		// Production-like logging: debug logs of thousands of logins
		// would be what is measured.
		"logging.min_level": "info",
	}
	if o.DebugLog {
		edits["logging.min_level"] = "debug"
	}
	if o.LoginRate >= 0 {
		edits["network.login_rate.max_per_second"] = o.LoginRate
	}
	for k, v := range o.Edits {
		edits[k] = v
	}
	var dpToken string
	if o.Homeserver == HomeserverDendrite {
		dpToken = stack.NewDoublePuppetToken()
	}
	br, err := stack.PrepareBridge(ctx, stack.BridgeOptions{
		Bin:               o.BridgeBin,
		Dir:               filepath.Join(o.Dir, "bridge"),
		HomeserverURL:     hsURL,
		DB:                o.DB,
		DoublePuppetToken: dpToken,
		Edits:             edits,
	})
	if err != nil {
		return fmt.Errorf("prepare bridge: %w", err)
	}
	h.br = br
	reg, err := br.Registration()
	if err != nil {
		return err
	}
	var tokens struct {
		AS string `yaml:"as_token"`
		HS string `yaml:"hs_token"`
	}
	if err := yaml.Unmarshal(reg, &tokens); err != nil {
		return fmt.Errorf("parse registration: %w", err)
	}
	secret, err := readSharedSecret(br.ConfigPath)
	if err != nil {
		return err
	}
	switch o.Homeserver {
	case HomeserverSink:
		h.sink, err = sinkhs.Start(sinkhs.Options{
			ServerName: h.server, ASToken: tokens.AS, HSToken: tokens.HS, ASURL: br.URL,
			BotMXID: br.BotMXID, Listen: fmt.Sprintf("127.0.0.1:%d", hsPort), KeepBodies: o.Verify,
		})
	case HomeserverDendrite:
		h.logf("starting Dendrite")
		h.hs, err = stack.StartDendrite(ctx, stack.DendriteOptions{
			Bin: o.DendriteBin, Dir: filepath.Join(o.Dir, "dendrite"), Port: hsPort, AppServices: [][]byte{reg},
		}, dpToken)
	default:
		err = fmt.Errorf("unknown homeserver mode %q", o.Homeserver)
	}
	if err != nil {
		return err
	}
	h.logf("starting the bridge")
	if err := br.Start(ctx); err != nil {
		return err
	}
	h.api = &bridgeAPI{
		asURL:      br.URL,
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort),
		secret:     secret,
		pid:        br.Process().PID(),
		http:       &http.Client{Timeout: 5 * time.Minute},
	}
	return nil
}

func readSharedSecret(configPath string) (string, error) {
	data, err := os.ReadFile(configPath)
	if err != nil {
		return "", err
	}
	var cfg struct {
		Provisioning struct {
			SharedSecret string `yaml:"shared_secret"`
		} `yaml:"provisioning"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("parse bridge config: %w", err)
	}
	return cfg.Provisioning.SharedSecret, nil
}

func (h *harness) stop() {
	if h.br != nil {
		_ = h.br.Stop()
	}
	if h.sink != nil {
		_ = h.sink.Close()
	}
	if h.hs != nil {
		_ = h.hs.Stop()
	}
	if h.msn != nil {
		h.msn.close()
	}
}

// loginUpTo logs Matrix users in until n logins exist, then waits until
// all are CONNECTED and the bridge has finished the follow-up work
// (contact sync, ghosts).
func (h *harness) loginUpTo(ctx context.Context, n int) error {
	if n <= h.logged {
		return nil
	}
	from := h.logged
	h.logf("logging in %d..%d through the provisioning API", from, n-1)
	if h.hs != nil {
		if err := h.registerMatrixUsers(ctx, from, n); err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(h.opts.LoginWorkers)
	for i := from; i < n; i++ {
		g.Go(func() error {
			return h.api.login(gctx, h.matrixUser(i), loginEmail(i), accountPassword)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	h.logged = n
	if err := h.waitConnected(ctx, n, 5*time.Minute); err != nil {
		return err
	}
	h.settle(ctx)
	return nil
}

func (h *harness) registerMatrixUsers(ctx context.Context, from, to int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := from; i < to; i++ {
		g.Go(func() error {
			_, err := stack.RegisterUser(gctx, h.hs.URL, h.hs.SharedSecret, h.matrixUser(i).Localpart(), accountPassword)
			return err
		})
	}
	return g.Wait()
}

// waitConnected waits until the bridge reports n logins CONNECTED.
func (h *harness) waitConnected(ctx context.Context, n int, timeout time.Duration) error {
	return h.waitConnectedObserving(ctx, n, timeout, nil)
}

// waitConnectedObserving is waitConnected, passing each scrape to observe.
func (h *harness) waitConnectedObserving(ctx context.Context, n int, timeout time.Duration, observe func(time.Time, metrics)) error {
	deadline := time.Now().Add(timeout)
	for {
		ms, err := h.api.scrape(ctx)
		if err == nil && observe != nil {
			observe(time.Now(), ms)
		}
		if err == nil && int(ms.value("mautrix_msn_logins", "state", "CONNECTED")) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			got := 0.0
			if ms != nil {
				got = ms.value("mautrix_msn_logins", "state", "CONNECTED")
			}
			return fmt.Errorf("%v of %d logins CONNECTED after %s", got, n, timeout)
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// settle waits until the homeserver has seen no request for a second (sink
// mode) or a fixed pause (Dendrite), so background work after logins
// (contact sync, ghost profiles, presence) is done before measuring.
func (h *harness) settle(ctx context.Context) {
	if h.sink == nil {
		sleep(ctx, 10*time.Second)
		return
	}
	total := func() int64 {
		var n int64
		for _, v := range h.sink.Stats().Endpoints {
			n += v
		}
		return n
	}
	last, quiet := total(), 0
	for quiet < 2 && ctx.Err() == nil {
		sleep(ctx, time.Second)
		now := total()
		if now == last {
			quiet++
		} else {
			quiet = 0
		}
		last = now
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// memory measures the bridge after a GC (asked through the debug API).
func (h *harness) memory(ctx context.Context) (MemoryPoint, error) {
	for range h.opts.memoryGCs() {
		if err := h.api.gc(ctx); err != nil {
			return MemoryPoint{}, err
		}
		sleep(ctx, time.Second)
	}
	ps, err := readProcStats(h.api.pid)
	if err != nil {
		return MemoryPoint{}, err
	}
	ms, err := h.api.scrape(ctx)
	if err != nil {
		return MemoryPoint{}, err
	}
	return MemoryPoint{
		Logins:       h.logged,
		RSSKiB:       ps.RSSKiB,
		HeapInuseKiB: int64(ms.value("go_memstats_heap_inuse_bytes", "", "") / 1024),
		StackKiB:     int64(ms.value("go_memstats_stack_inuse_bytes", "", "") / 1024),
		GoHeldKiB:    int64((ms.value("go_memstats_sys_bytes", "", "") - ms.value("go_memstats_heap_released_bytes", "", "")) / 1024),
		Goroutines:   int(ms.value("go_goroutines", "", "")),
	}, nil
}

func (h *harness) memoryPhase(ctx context.Context) error {
	h.settle(ctx)
	steps := append([]int{0}, h.opts.Steps...)
	for _, n := range steps {
		if err := h.loginUpTo(ctx, n); err != nil {
			return err
		}
		p, err := h.memory(ctx)
		if err != nil {
			return err
		}
		h.logf("memory at %d logins: RSS %d KiB, heap in use %d KiB, %d goroutines", p.Logins, p.RSSKiB, p.HeapInuseKiB, p.Goroutines)
		h.report.Memory = append(h.report.Memory, p)
	}
	if h.opts.Profile {
		path := filepath.Join(h.opts.Dir, fmt.Sprintf("heap-%d-logins.pprof", h.logged))
		if err := h.api.saveProfile(ctx, "heap", path); err != nil {
			return err
		}
		h.report.Profiles = append(h.report.Profiles, path)
		path = filepath.Join(h.opts.Dir, fmt.Sprintf("goroutine-%d-logins.txt", h.logged))
		if err := h.api.saveProfile(ctx, "goroutine?debug=1", path); err != nil {
			return err
		}
		h.report.Profiles = append(h.report.Profiles, path)
	}
	return nil
}

// conversation is a pair (online contact, bridge login) used for traffic.
type conversation struct {
	peer  *peer
	login int
}

// conversations picks the traffic pairs: login i with its first online
// contact, spread over the logins.
func (h *harness) conversations() []conversation {
	n := min(h.opts.Conversations, h.logged)
	out := make([]conversation, 0, n)
	for k := range n {
		i := k * h.logged / n
		email := h.msn.onlineContactsOf(i)[0]
		var num int
		_, _ = fmt.Sscanf(email, "peer%d@", &num)
		if p := h.msn.peer(num); p != nil {
			out = append(out, conversation{peer: p, login: i})
		}
	}
	return out
}

// arrived is how many MSN->Matrix messages reached the homeserver: the
// sink's own count, or the bridge's counter of messages the homeserver
// accepted (Dendrite).
func (h *harness) arrived(ctx context.Context) (int64, error) {
	if h.sink != nil {
		return h.sink.Stats().Messages, nil
	}
	ms, err := h.api.scrape(ctx)
	if err != nil {
		return 0, err
	}
	return int64(ms.value("mautrix_msn_messages_bridged_total", "direction", "msn_to_matrix")), nil
}

func (h *harness) waitArrived(ctx context.Context, want int64, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		got, err := h.arrived(ctx)
		if err == nil && got >= want {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%d of %d messages arrived within %s", got, want, timeout)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

func (h *harness) body(dir string, c conversation) string {
	return fmt.Sprintf("%s %s %s %d", dir, c.peer.email, loginEmail(c.login), h.seq.Add(1))
}

// send sends one MSN->Matrix message and remembers its body.
func (h *harness) send(ctx context.Context, c conversation, sent *[]string) error {
	body := h.body("m2x", c)
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.peer.client.Conversation(loginEmail(c.login)).SendText(sctx, msnclient.TextMessage{Text: body}); err != nil {
		return fmt.Errorf("%s to %s: %w", c.peer.email, loginEmail(c.login), err)
	}
	if sent != nil {
		*sent = append(*sent, body)
	}
	return nil
}

// warmUp sends one message in each conversation and waits for all, so the
// portal rooms exist before anything is timed.
func (h *harness) warmUp(ctx context.Context, convs []conversation) error {
	before, err := h.arrived(ctx)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, c := range convs {
		g.Go(func() error { return h.send(gctx, c, nil) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err = h.waitArrived(ctx, before+int64(len(convs)), 5*time.Minute)
	h.settle(ctx)
	return err
}

// latencyHistograms reads the MSN -> Matrix latency (until the send
// request is issued) and end-to-end (until answered and stored) histograms.
func (h *harness) latencyHistograms(ctx context.Context) (issued, delivered histogram, err error) {
	ms, err := h.api.scrape(ctx)
	if err != nil {
		return histogram{}, histogram{}, err
	}
	return ms.histogram("mautrix_msn_bridge_latency_seconds", "direction", "msn_to_matrix"),
		ms.histogram("mautrix_msn_message_delivered_seconds", "", ""), nil
}

// startMark is where a timed phase starts: the bridge's latency
// histograms and the messages arrived so far.
type startMark struct {
	latency, delivered histogram
	arrived            int64
}

func (h *harness) mark(ctx context.Context) (startMark, error) {
	lat, del, err := h.latencyHistograms(ctx)
	if err != nil {
		return startMark{}, err
	}
	arrived, err := h.arrived(ctx)
	if err != nil {
		return startMark{}, err
	}
	return startMark{latency: lat, delivered: del, arrived: arrived}, nil
}

func latencyOf(h histogram) Latency {
	return Latency{Samples: h.count, P50: h.quantile(0.5), P99: h.quantile(0.99)}
}

// latencyPhase sends probes one at a time (idle bridge) and reads the
// latency the bridge added from its histogram.
func (h *harness) latencyPhase(ctx context.Context) error {
	convs := h.conversations()
	if len(convs) == 0 {
		return errors.New("no conversations")
	}
	convs = convs[:min(len(convs), 10)]
	if err := h.warmUp(ctx, convs); err != nil {
		return err
	}
	begin, err := h.mark(ctx)
	if err != nil {
		return err
	}
	arrived := begin.arrived
	for i := range h.opts.LatencyProbes {
		if err := h.send(ctx, convs[i%len(convs)], nil); err != nil {
			return err
		}
		arrived++
		if _, err := h.waitArrived(ctx, arrived, time.Minute); err != nil {
			return err
		}
		sleep(ctx, 20*time.Millisecond)
	}
	after, afterDel, err := h.latencyHistograms(ctx)
	if err != nil {
		return err
	}
	d := after.sub(begin.latency)
	h.report.LatencyIdle = latencyOf(d)
	h.report.LatencyIdle.WithinGoal = d.shareAtMost(h.report.LatencyGoalP99.Seconds())
	h.report.DeliveredIdle = latencyOf(afterDel.sub(begin.delivered))
	h.logf("latency idle: p50 %s p99 %s (%d samples); end to end p50 %s p99 %s", h.report.LatencyIdle.P50, h.report.LatencyIdle.P99, d.count,
		h.report.DeliveredIdle.P50, h.report.DeliveredIdle.P99)
	return nil
}

// throughputPhase sends Messages MSN->Matrix over the conversations, all
// at once, and measures the sustained rate into the homeserver, the CPU
// time the bridge used and the latency under that load.
func (h *harness) throughputPhase(ctx context.Context) error {
	convs := h.conversations()
	if len(convs) == 0 {
		return errors.New("no conversations")
	}
	if err := h.warmUp(ctx, convs); err != nil {
		return err
	}
	per := (h.opts.Messages + len(convs) - 1) / len(convs)
	total := per * len(convs)
	begin, err := h.mark(ctx)
	if err != nil {
		return err
	}
	cpu0, err := readProcStats(h.api.pid)
	if err != nil {
		return err
	}
	profiled := make(chan string, 1)
	if h.opts.Profile {
		// A CPU profile of the bridge while it carries the load.
		go func() {
			defer close(profiled)
			sleep(ctx, time.Second)
			path := filepath.Join(h.opts.Dir, "cpu-throughput.pprof")
			if err := h.api.saveProfile(ctx, "profile?seconds=10", path); err == nil {
				profiled <- path
			}
		}()
	} else {
		close(profiled)
	}
	h.logf("sending %d messages over %d conversations", total, len(convs))
	sent := make([][]string, len(convs))
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for k, c := range convs {
		g.Go(func() error {
			for range per {
				if err := h.send(gctx, c, &sent[k]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	sendDone := time.Now()
	end, err := h.waitArrived(ctx, begin.arrived+int64(total), 10*time.Minute)
	if err != nil {
		return err
	}
	if h.sink != nil {
		end = h.sink.MessageTimeline().Last()
	}
	cpu1, err := readProcStats(h.api.pid)
	if err != nil {
		return err
	}
	after, afterDel, err := h.latencyHistograms(ctx)
	if err != nil {
		return err
	}
	if path, ok := <-profiled; ok {
		h.report.Profiles = append(h.report.Profiles, path)
	}
	elapsed := end.Sub(start)
	d := after.sub(begin.latency)
	tp := Throughput{
		Messages:      total,
		Conversations: len(convs),
		Seconds:       elapsed.Seconds(),
		PerSecond:     float64(total) / elapsed.Seconds(),
		SendSeconds:   sendDone.Sub(start).Seconds(),
		CPUPerMessage: (cpu1.CPU - cpu0.CPU) / time.Duration(total),
		CPUCores:      (cpu1.CPU - cpu0.CPU).Seconds() / elapsed.Seconds(),
	}
	h.report.ToMatrix = tp
	h.report.LatencyLoaded = latencyOf(d)
	h.report.DeliveredLoaded = latencyOf(afterDel.sub(begin.delivered))
	h.logf("MSN->Matrix: %d messages in %.2fs = %.0f/s, %s CPU per message; latency under load p50 %s p99 %s",
		total, tp.Seconds, tp.PerSecond, tp.CPUPerMessage, h.report.LatencyLoaded.P50, h.report.LatencyLoaded.P99)
	if h.opts.Verify && h.sink != nil {
		return h.verifyArrived("MSN->Matrix", sent, total)
	}
	return nil
}

// verifyArrived checks that the sink received each sent body exactly
// once and records it in the report.
func (h *harness) verifyArrived(what string, sent [][]string, total int) error {
	var missing, dup []string
	for _, list := range sent {
		for _, b := range list {
			switch n := h.sink.BodyCount(b); {
			case n == 0:
				missing = append(missing, b)
			case n > 1:
				dup = append(dup, b)
			}
		}
	}
	if len(missing)+len(dup) > 0 {
		return fmt.Errorf("%s: %d messages missing (e.g. %q), %d duplicated", what, len(missing), first(missing), len(dup))
	}
	h.report.Verified = append(h.report.Verified, fmt.Sprintf("%d %s messages arrived exactly once", total, what))
	return nil
}

// pacedPhase offers MSN->Matrix messages at PacedShare of the rate the
// throughput phase measured, evenly spaced over the conversations for
// PacedFor, and reads the latency the bridge added from its histogram: the
// latency under a load it carries, where the throughput phase's is the
// wait in a backlog.
func (h *harness) pacedPhase(ctx context.Context) error {
	convs := h.conversations()
	rate := h.opts.PacedShare * h.report.ToMatrix.PerSecond
	if len(convs) == 0 || rate <= 0 {
		return errors.New("no conversations or no measured rate")
	}
	// Each conversation sends every interval, the conversations spread
	// evenly over it.
	interval := time.Duration(float64(len(convs)) / rate * float64(time.Second))
	per := max(1, int(h.opts.PacedFor/interval))
	total := per * len(convs)
	begin, err := h.mark(ctx)
	if err != nil {
		return err
	}
	h.logf("offering %d messages at %.0f/s (%.0f%% of the measured rate) over %d conversations", total, rate, 100*h.opts.PacedShare, len(convs))
	sent := make([][]string, len(convs))
	var lateSends atomic.Int64
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for k, c := range convs {
		offset := interval * time.Duration(k) / time.Duration(len(convs))
		g.Go(func() error {
			for i := range per {
				due := start.Add(offset + interval*time.Duration(i))
				if wait := time.Until(due); wait > 0 {
					sleep(gctx, wait)
				} else if wait < -interval {
					lateSends.Add(1)
				}
				if err := h.send(gctx, c, &sent[k]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	offeredFor := time.Since(start)
	if _, err := h.waitArrived(ctx, begin.arrived+int64(total), 5*time.Minute); err != nil {
		return err
	}
	after, afterDel, err := h.latencyHistograms(ctx)
	if err != nil {
		return err
	}
	d := after.sub(begin.latency)
	h.report.Paced = PacedLoad{
		Share:            h.opts.PacedShare,
		OfferedPerSecond: float64(total) / offeredFor.Seconds(),
		Messages:         total,
		LateSends:        lateSends.Load(),
		Latency:          latencyOf(d),
		Delivered:        latencyOf(afterDel.sub(begin.delivered)),
	}
	h.report.Paced.Latency.WithinGoal = d.shareAtMost(h.report.LatencyGoalP99.Seconds())
	h.logf("paced: %.0f msg/s offered, latency p50 %s p99 %s (%d samples)", h.report.Paced.OfferedPerSecond,
		h.report.Paced.Latency.P50, h.report.Paced.Latency.P99, d.count)
	if h.opts.Verify && h.sink != nil {
		if err := h.verifyArrived("paced MSN->Matrix", sent, total); err != nil {
			return err
		}
	}
	return nil
}

func first(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

// reversePhase pushes Matrix->MSN messages into the portal rooms as the
// homeserver would (transactions of up to 50 events) and waits until the
// MSN contacts received them all.
func (h *harness) reversePhase(ctx context.Context) error {
	convs := h.conversations()
	type target struct {
		c    conversation
		room id.RoomID
	}
	var targets []target
	for _, c := range convs {
		ghost := h.br.GhostMXID(c.peer.email)
		room := h.sink.FindRoom(h.matrixUser(c.login), ghost)
		if room != "" {
			targets = append(targets, target{c, room})
		}
	}
	if len(targets) == 0 {
		return errors.New("no portal rooms (run the throughput or latency phase first)")
	}
	per := (h.opts.ReverseMessages + len(targets) - 1) / len(targets)
	total := per * len(targets)
	var events []sinkhs.Event
	for round := range per {
		_ = round
		for _, t := range targets {
			events = append(events, h.sink.TextEvent(t.room, h.matrixUser(t.c.login), h.body("x2m", t.c)))
		}
	}
	before := h.msn.received.Load()
	cpu0, err := readProcStats(h.api.pid)
	if err != nil {
		return err
	}
	h.logf("pushing %d Matrix->MSN messages into %d rooms", total, len(targets))
	start := time.Now()
	const batch = 50
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := 0; i < len(events); i += batch {
		chunk := events[i:min(i+batch, len(events))]
		g.Go(func() error { return h.sink.Push(gctx, chunk) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute + time.Duration(total)*10*time.Millisecond)
	for h.msn.received.Load()-before < int64(total) {
		if time.Now().After(deadline) {
			return fmt.Errorf("Matrix->MSN: %d of %d messages reached the MSN contacts; the bridge reported %q",
				h.msn.received.Load()-before, total, h.sink.Failures())
		}
		sleep(ctx, 10*time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu1, err := readProcStats(h.api.pid)
	if err != nil {
		return err
	}
	h.report.ToMSN = Throughput{
		Messages:      total,
		Conversations: len(targets),
		Seconds:       elapsed.Seconds(),
		PerSecond:     float64(total) / elapsed.Seconds(),
		CPUPerMessage: (cpu1.CPU - cpu0.CPU) / time.Duration(total),
		CPUCores:      (cpu1.CPU - cpu0.CPU).Seconds() / elapsed.Seconds(),
	}
	h.logf("Matrix->MSN: %d messages in %.2fs = %.0f/s", total, elapsed.Seconds(), h.report.ToMSN.PerSecond)
	if h.opts.Verify {
		bad := 0
		for _, e := range events {
			if h.msn.bodyCount(e.Content["body"].(string)) != 1 {
				bad++
			}
		}
		if bad > 0 {
			return fmt.Errorf("Matrix->MSN: %d messages not received exactly once", bad)
		}
		h.report.Verified = append(h.report.Verified, fmt.Sprintf("%d Matrix->MSN messages arrived exactly once", total))
	}
	return nil
}

// presencePhase makes every online contact flap its status for the storm
// duration and checks the presence requests the homeserver got against
// the configured per-contact rate.
func (h *harness) presencePhase(ctx context.Context) error {
	h.settle(ctx)
	interval := time.Duration(h.opts.PresenceInterval) * time.Second
	sharing := map[string]int{}
	for i := range h.logged {
		for _, c := range h.msn.onlineContactsOf(i) {
			sharing[c]++
		}
	}
	pairs := 0
	for _, n := range sharing {
		pairs += n
	}
	before := h.sink.PresenceByUser()
	statuses := []msnclient.Status{msnclient.StatusAway, msnclient.StatusBusy, msnclient.StatusOnline}
	h.logf("presence storm: %d contacts flapping every %s for %s (%d login-contact pairs)", len(sharing), h.opts.FlapEvery, h.opts.PresenceStorm, pairs)
	start := time.Now()
	stormCtx, cancel := context.WithTimeout(ctx, h.opts.PresenceStorm)
	defer cancel()
	var changes atomic.Int64
	g, gctx := errgroup.WithContext(stormCtx)
	h.msn.mu.Lock()
	peers := slices.Clone(h.msn.clnts)
	h.msn.mu.Unlock()
	for k, p := range peers {
		if sharing[p.email] == 0 {
			continue
		}
		g.Go(func() error {
			// Spread the contacts' changes over the period.
			sleep(gctx, time.Duration(k)*h.opts.FlapEvery/time.Duration(len(peers)))
			for n := 0; gctx.Err() == nil; n++ {
				if err := p.client.SetStatus(gctx, statuses[n%len(statuses)]); err != nil && gctx.Err() == nil {
					return fmt.Errorf("%s set status: %w", p.email, err)
				}
				changes.Add(1)
				sleep(gctx, h.opts.FlapEvery)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	end := time.Now()
	// The last coalesced updates go out up to one interval later.
	sleep(ctx, interval+2*time.Second)
	window := end.Sub(start) + interval
	after := h.sink.PresenceByUser()
	tl := h.sink.PresenceTimeline()
	var worst float64
	var worstGhost id.UserID
	var total int64
	for c, n := range sharing {
		ghost := h.br.GhostMXID(c)
		got := after[ghost] - before[ghost]
		total += got
		// The config allows one update per contact per login per interval,
		// plus the first one at once.
		allowed := float64(n) * (window.Seconds()/max(interval.Seconds(), 1) + 1)
		if ratio := float64(got) / allowed; ratio > worst {
			worst, worstGhost = ratio, ghost
		}
	}
	ps := PresenceStorm{
		Contacts:            len(sharing),
		Pairs:               pairs,
		StatusChanges:       changes.Load(),
		Seconds:             end.Sub(start).Seconds(),
		IntervalSeconds:     h.opts.PresenceInterval,
		Requests:            total,
		RequestsPerSecond:   float64(total) / window.Seconds(),
		PeakPerSecond:       tl.PeakPerSecond(start, end.Add(interval)),
		AllowedPerSecond:    float64(pairs) / max(interval.Seconds(), 1),
		WorstContactShare:   worst,
		WorstContact:        string(worstGhost),
		WithinConfiguredCap: worst <= 1,
	}
	h.report.Presence = ps
	h.logf("presence: %d requests (%.0f/s, peak %d/s) for %d status changes; allowed %.0f/s; worst contact at %.0f%% of its cap",
		total, ps.RequestsPerSecond, ps.PeakPerSecond, ps.StatusChanges, ps.AllowedPerSecond, worst*100)
	if !ps.WithinConfiguredCap {
		return fmt.Errorf("presence of %s sent above the configured rate (%.2f of the cap)", worstGhost, worst)
	}
	return nil
}

// effectiveLoginRate is the bridge's sign-in cap in this run, as its
// config file says (0: none, -1: unreadable).
func (h *harness) effectiveLoginRate() float64 {
	data, err := os.ReadFile(h.br.ConfigPath)
	if err != nil {
		return -1
	}
	var cfg struct {
		Network struct {
			LoginRate struct {
				MaxPerSecond float64 `yaml:"max_per_second"`
			} `yaml:"login_rate"`
		} `yaml:"network"`
	}
	if yaml.Unmarshal(data, &cfg) != nil {
		return -1
	}
	return cfg.Network.LoginRate.MaxPerSecond
}

// stormPhase restarts the fake MSN server under every login and measures
// how long until all are CONNECTED again and how fast the bridge signed
// in meanwhile.
func (h *harness) stormPhase(ctx context.Context) error {
	n := h.logged
	h.logf("reconnect storm: restarting the MSN server under %d logins", n)
	cpu0, err := readProcStats(h.api.pid)
	if err != nil {
		return err
	}
	var profiled chan string
	if h.opts.Profile {
		// A CPU profile of the bridge while the logins come back.
		profiled = make(chan string, 1)
		go func() {
			defer close(profiled)
			path := filepath.Join(h.opts.Dir, "cpu-storm.pprof")
			secs := min(60, n/50+5) // the backoff, then the logins at the default cap
			if err := h.api.saveProfile(ctx, fmt.Sprintf("profile?seconds=%d", secs), path); err == nil {
				profiled <- path
			}
		}()
	}
	down := time.Now()
	if err := h.msn.restart(ctx, time.Second); err != nil {
		return err
	}
	// Timed from the moment the server accepts connections again (it was
	// down for a second: every connection dropped, reconnections refused).
	start := time.Now()
	const timeout = 5 * time.Minute
	// The bridge's own count of sign-ins started, sampled with each scrape
	// (every 200 ms): the rate the login_rate cap governs, as opposed to
	// the Passport requests the fake server saw (which bunch up when the
	// machine stalls the requests between start and arrival).
	var samples []signInSample
	err = h.waitConnectedObserving(ctx, n, timeout, func(at time.Time, ms metrics) {
		samples = append(samples, signInSample{at, ms.value("mautrix_msn_sign_ins_started_total", "", "")})
	})
	// CONNECTED is the bridge's view; also check the server's.
	for err == nil && h.msn.onlineLogins() < n && time.Since(start) < timeout {
		sleep(ctx, 100*time.Millisecond)
	}
	elapsed := time.Since(start)
	online := h.msn.onlineLogins()
	tl := h.msn.http.passportLogins()
	cpu1, cerr := readProcStats(h.api.pid)
	if cerr != nil {
		return cerr
	}
	if profiled != nil {
		if path, ok := <-profiled; ok {
			h.report.Profiles = append(h.report.Profiles, path)
		}
	}
	st := ReconnectStorm{
		Logins:           n,
		Seconds:          elapsed.Seconds(),
		Reconnected:      online,
		LeftBehind:       n - online,
		PassportLogins:   tl.Between(down, time.Now()),
		PeakLoginsPerSec: tl.PeakPerSecond(down, time.Now()),
		CapPerSecond:     h.effectiveLoginRate(),
		PeakStartsPerSec: peakStartsPerSecond(samples),
		// Bridge CPU per sign-in, from the restart until all are back.
		CPUPerLogin: (cpu1.CPU - cpu0.CPU) / time.Duration(max(n, 1)),
	}
	h.report.Storm = st
	h.logf("storm: %d/%d back in %.1fs, %d Passport logins, peak %d/s (sign-ins started by the bridge: peak %.0f in 1 s), bridge CPU %s per sign-in",
		online, n, st.Seconds, st.PassportLogins, st.PeakLoginsPerSec, st.PeakStartsPerSec, st.CPUPerLogin)
	if err != nil {
		return err
	}
	if st.LeftBehind > 0 {
		return fmt.Errorf("%d logins left behind after the restart", st.LeftBehind)
	}
	if h.opts.Verify {
		h.report.Verified = append(h.report.Verified, fmt.Sprintf("all %d logins reconnected after the MSN server restart", n))
	}
	// Memory once everyone is back: every login signed in again inside
	// the bridge (not through the provisioning API), so this shows what a
	// long-running bridge keeps after reconnects.
	h.settle(ctx)
	p, err := h.memory(ctx)
	if err != nil {
		return err
	}
	h.report.MemoryAfterStorm = &p
	if h.opts.Profile {
		for name, file := range map[string]string{
			"goroutine?debug=1": fmt.Sprintf("goroutine-%d-logins-after-storm.txt", n),
			"heap":              fmt.Sprintf("heap-%d-logins-after-storm.pprof", n),
		} {
			path := filepath.Join(h.opts.Dir, file)
			if err := h.api.saveProfile(ctx, name, path); err != nil {
				return err
			}
			h.report.Profiles = append(h.report.Profiles, path)
		}
	}
	h.logf("memory after the storm: RSS %d KiB, heap in use %d KiB, stacks %d KiB, %d goroutines", p.RSSKiB, p.HeapInuseKiB, p.StackKiB, p.Goroutines)
	return nil
}

// signInSample is the bridge's sign-in counter at one scrape.
type signInSample struct {
	at    time.Time
	count float64
}

// peakStartsPerSecond is the most sign-ins the bridge started within any
// second, from counter samples: for each sample, the increase up to the
// last sample at most one second later (a lower bound of the true peak by
// at most the sampling interval's share).
func peakStartsPerSecond(samples []signInSample) float64 {
	var peak float64
	j := 0
	for i := range samples {
		if j < i {
			j = i
		}
		for j+1 < len(samples) && samples[j+1].at.Sub(samples[i].at) <= time.Second {
			j++
		}
		peak = max(peak, samples[j].count-samples[i].count)
	}
	return peak
}
