// Command mautrix-msn is a Matrix puppeting bridge to MSN Messenger.
package main

import (
	"fmt"
	"os"

	"maunium.net/go/mautrix/bridgev2/matrix/mxmain"

	"github.com/mautrix-msn/mautrix-msn/bridge"
)

// Set by the build (-ldflags "-X main.Tag=... -X main.Commit=... -X main.BuildTime=...").
var (
	Tag       = "unknown"
	Commit    = "unknown"
	BuildTime = "unknown"
)

func main() {
	limitMallocArenas()
	connector := bridge.NewConnector()
	connector.ReleaseCMemory = trimMalloc
	m := mxmain.BridgeMain{
		Name:        "mautrix-msn",
		URL:         "https://github.com/mautrix-msn/mautrix-msn",
		Description: "A Matrix-MSN Messenger puppeting bridge.",
		Version:     "0.1.0",
		Connector:   connector,
	}
	m.PostInit = func() {
		connector.InstallCommandProcessor(m.Bridge)
		connector.ConfigPath = m.ConfigPath
		// The homeserver version check can be skipped for servers that
		// advertise an old spec version but work (e.g. some Dendrite builds).
		if os.Getenv("MAUTRIX_MSN_IGNORE_UNSUPPORTED_SERVER") == "true" {
			m.Matrix.IgnoreUnsupportedServer = true
		}
	}
	m.InitVersion(Tag, Commit, BuildTime)
	// m.Run(), with the SQLite tuning applied between loading the config
	// and opening the database.
	m.PreInit()
	m.Config.Database.URI = bridge.TuneDatabaseURI(m.Config.Database.Type, m.Config.Database.URI)
	bridge.KeepSQLiteConnections(&m.Config.Database)
	if dbType, err := bridge.SerializeSQLiteWrites(m.Config.Database.Type); err != nil {
		// The logger is made by Init, after the database type is final.
		fmt.Fprintln(os.Stderr, "SQLite writes are not serialized in Go:", err)
	} else {
		m.Config.Database.Type = dbType
	}
	m.Init()
	m.Start()
	exitCode := m.WaitForInterrupt()
	m.Stop()
	os.Exit(exitCode)
}
