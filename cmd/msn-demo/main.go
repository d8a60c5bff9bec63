// Command msn-demo runs a complete local mautrix-msn stack on loopback: a
// Dendrite homeserver, the fake MSN server with demo accounts (one of them a
// chatty bot contact) and the bridge with SQLite. It prints how to log in and
// stops everything on Ctrl-C.
//
//	make demo    # or: go run -tags goolm ./cmd/msn-demo
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var opts demoOptions
	flag.StringVar(&opts.Dir, "dir", "", "state directory, kept between runs (default: "+defaultDir+", emptied at start and kept after the demo stops, so its logs can be read)")
	flag.IntVar(&opts.HSPort, "hs-port", 18008, "homeserver port on 127.0.0.1 (0: any free port)")
	flag.StringVar(&opts.BridgeBin, "bridge-bin", "", "mautrix-msn binary (default: build ./cmd/mautrix-msn)")
	flag.StringVar(&opts.DendriteBin, "dendrite-bin", "", "Dendrite binary (default: find it, or go install it)")
	flag.StringVar(&opts.MatrixUser, "matrix-user", "demo", "Matrix username to create")
	flag.StringVar(&opts.MatrixPassword, "matrix-password", "demo-password", "password of the Matrix user")
	flag.DurationVar(&opts.AwayEvery, "away-every", defaultAwayEvery, "how often the chatty contact toggles away/online")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, opts, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "msn-demo:", err)
		os.Exit(1)
	}
}

// say prints a line for the person running the demo.
func say(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}
