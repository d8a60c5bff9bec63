// Package stack runs the local mautrix-msn stacks used by the end-to-end
// tests and the demo: a Dendrite homeserver on loopback, the fake MSN server
// and the real mautrix-msn binary, wired together, plus a Matrix client that
// acts as a person would.
package stack

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// Options configures a Stack.
type Options struct {
	Dir         string // state directory; "dendrite" and "bridge" are made in it
	DendriteBin string
	BridgeBin   string
	MSN         *msntest.Server // the bridge's only MSN server
	DB          Database        // default SQLite in the bridge directory
	HSPort      int             // 0 picks a free port
	BridgePort  int             // 0 picks a free port
	Edits       map[string]any  // extra bridge config edits
}

// Stack is a running Dendrite with the bridge registered and started.
type Stack struct {
	HS     *Dendrite
	Bridge *Bridge
}

// Start prepares the bridge, starts Dendrite with its registration (and a
// double-puppeting one), then starts the bridge, in that order.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.HSPort == 0 {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		opts.HSPort = port
	}
	edits := NetworkEdits(opts.MSN)
	for k, v := range opts.Edits {
		edits[k] = v
	}
	dpToken := NewDoublePuppetToken()
	br, err := PrepareBridge(ctx, BridgeOptions{
		Bin:               opts.BridgeBin,
		Dir:               filepath.Join(opts.Dir, "bridge"),
		HomeserverURL:     DendriteURL(opts.HSPort),
		Port:              opts.BridgePort,
		DB:                opts.DB,
		DoublePuppetToken: dpToken,
		Edits:             edits,
	})
	if err != nil {
		return nil, fmt.Errorf("prepare bridge: %w", err)
	}
	reg, err := br.Registration()
	if err != nil {
		return nil, err
	}
	hs, err := StartDendrite(ctx, DendriteOptions{
		Bin:         opts.DendriteBin,
		Dir:         filepath.Join(opts.Dir, "dendrite"),
		Port:        opts.HSPort,
		AppServices: [][]byte{reg},
	}, dpToken)
	if err != nil {
		return nil, fmt.Errorf("start dendrite: %w", err)
	}
	if err := br.Start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("start bridge: %w", err), hs.Stop())
	}
	return &Stack{HS: hs, Bridge: br}, nil
}

// Stop stops the bridge, then Dendrite.
func (s *Stack) Stop() error {
	return errors.Join(s.Bridge.Stop(), s.HS.Stop())
}

// NetworkEdits points the bridge's network config section at srv.
func NetworkEdits(srv *msntest.Server) map[string]any {
	base := srv.HTTPURL()
	return map[string]any{
		"network.servers": []any{map[string]any{
			"name":                "test",
			"notification_server": srv.NSAddr(),
			"nexus_url":           base + "/rdr/pprdr.asp",
			"login_url":           base + "/login",
			"rst_url":             base + "/RST.srf",
			"rst2_url":            base + "/RST2.srf",
			"abservice_url":       base + "/abservice/abservice.asmx",
			"sharing_service_url": base + "/abservice/SharingService.asmx",
			"rsi_url":             base + "/rsi/rsi.asmx",
			"oim_url":             base + "/OimWS/oim.asmx",
			"protocol_versions":   []any{18, 15, 13, 12, 11, 9, 8},
			"ca_file":             "",
			"allow_plain_http":    true, // msntest's plain HTTP on loopback
		}},
		"network.presence.enabled":              true,
		"network.presence.min_interval_seconds": 0,
		// Follow group changes made by other clients quickly.
		"network.contact_groups.refresh_interval_seconds": 2,
	}
}
