// Command msn-load is the load harness of mautrix-msn: it runs the real
// bridge binary between the fake MSN server and a homeserver (the sink
// homeserver, or Dendrite), logs users in through the provisioning API,
// drives traffic and prints a report (and writes it as JSON). See
// docs/performance.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
	"github.com/mautrix-msn/mautrix-msn/loadtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "msn-load:", err)
		os.Exit(1)
	}
}

func parseSteps(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-logins: %q is not a login count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run() error {
	var (
		hs        = flag.String("homeserver", loadtest.HomeserverSink, "homeserver: sink (the harness' own, for the bridge's ceiling) or dendrite")
		db        = flag.String("db", "sqlite", "bridge database: sqlite, or a postgres:// URI (an empty database)")
		logins    = flag.String("logins", "100", "login counts at which memory is measured, ascending; the last is used for everything after")
		contacts  = flag.Int("contacts", 20, "contacts per login (half of them online)")
		convs     = flag.Int("conversations", 200, "conversations carrying the traffic")
		messages  = flag.Int("messages", 20000, "MSN -> Matrix messages of the throughput phase (0: skip)")
		reverse   = flag.Int("reverse", 5000, "Matrix -> MSN messages (sink only; 0: skip)")
		probes    = flag.Int("probes", 1000, "sequential messages of the idle latency phase; its p99 is the 10th slowest of 1,000 (0: skip)")
		paced     = flag.Float64("paced", 0.5, "share of the measured MSN -> Matrix rate offered evenly in the paced latency phase (0: skip)")
		pacedFor  = flag.Duration("paced-for", 10*time.Second, "length of the paced latency phase")
		presence  = flag.Duration("presence-storm", 30*time.Second, "length of the presence storm (sink only; 0: skip)")
		flap      = flag.Duration("flap-every", time.Second, "each online contact changes status this often during the presence storm")
		interval  = flag.Int("presence-interval", 10, "bridge config network.presence.min_interval_seconds")
		loginRate = flag.Float64("login-rate", -1, "bridge config network.login_rate.max_per_second (-1: the config default)")
		storm     = flag.Bool("storm", true, "restart the MSN server under all logins and time the reconnection")
		runs      = flag.Int("runs", 1, "runs; figures are their medians")
		dir       = flag.String("dir", "", "working directory (default: a new temporary one)")
		out       = flag.String("json", "load-report.json", "write the report as JSON here (empty: don't)")
		profile   = flag.Bool("profile", false, "save the bridge's heap and CPU profiles (pprof) into the working directory")
		gcs       = flag.Int("memory-gcs", 1, "garbage collections (a second apart) before each memory reading")
		verify    = flag.Bool("verify", false, "check that every message arrived exactly once (costs memory at large runs)")
		debugLog  = flag.Bool("debug-log", false, "keep the bridge's debug log (slow; for finding faults)")
		bridgeBin = flag.String("bridge", "", "mautrix-msn binary (default: build ./cmd/mautrix-msn)")
	)
	edits := map[string]any{}
	flag.Func("set", "extra bridge config edit, dotted.path=yaml-value (repeatable), e.g. -set database.max_idle_conns=5", func(s string) error {
		key, raw, ok := strings.Cut(s, "=")
		if !ok || key == "" {
			return fmt.Errorf("want dotted.path=value, got %q", s)
		}
		var v any
		if err := yaml.Unmarshal([]byte(raw), &v); err != nil {
			return fmt.Errorf("value of %s: %w", key, err)
		}
		edits[key] = v
		return nil
	})
	flag.Parse()
	steps, err := parseSteps(*logins)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if *dir == "" {
		if *dir, err = os.MkdirTemp("", "msn-load-"); err != nil {
			return err
		}
	}
	database := stack.SQLite()
	if *db != "sqlite" {
		database = stack.Database{Type: "postgres", URI: *db}
	}
	opts := loadtest.Options{
		Homeserver:       *hs,
		DB:               database,
		Steps:            steps,
		Contacts:         *contacts,
		Conversations:    *convs,
		Messages:         *messages,
		ReverseMessages:  *reverse,
		LatencyProbes:    *probes,
		PacedShare:       *paced,
		PacedFor:         *pacedFor,
		PresenceStorm:    *presence,
		FlapEvery:        *flap,
		PresenceInterval: *interval,
		LoginRate:        *loginRate,
		Storm:            *storm,
		Verify:           *verify,
		MemoryGCs:        *gcs,
		Profile:          *profile,
		Progress:         os.Stderr,
		BridgeBin:        *bridgeBin,
		DebugLog:         *debugLog,
		Edits:            edits,
	}
	if *hs == loadtest.HomeserverDendrite {
		if opts.DendriteBin, err = stack.FindDendrite(); err != nil {
			return err
		}
	}
	if opts.BridgeBin == "" {
		mod, err := stack.ModuleDir()
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "building the bridge")
		if opts.BridgeBin, err = stack.BuildBridge(ctx, mod, *dir); err != nil {
			return err
		}
	}
	var reports []*loadtest.Report
	for i := range *runs {
		opts.Dir = filepath.Join(*dir, fmt.Sprintf("run%d", i+1))
		if database.Type == "postgres" && i > 0 {
			fmt.Fprintln(os.Stderr, "note: PostgreSQL runs reuse the database; give each run a fresh one for clean figures")
		}
		rep, err := loadtest.Run(ctx, opts)
		if rep != nil {
			if err != nil {
				rep.Error = err.Error()
			}
			rep.Print(os.Stderr)
			reports = append(reports, rep)
		}
		if err != nil {
			return writeAndPrint(reports, *out, err)
		}
	}
	return writeAndPrint(reports, *out, nil)
}

func writeAndPrint(reports []*loadtest.Report, path string, runErr error) error {
	if len(reports) == 0 {
		return runErr
	}
	med := loadtest.Median(reports)
	if len(reports) > 1 {
		fmt.Println()
		med.Print(os.Stdout)
	} else {
		med.Print(os.Stdout)
	}
	if path != "" {
		data, err := json.MarshalIndent(map[string]any{"median": med, "runs": reports}, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "report written to", path)
	}
	return runErr
}
