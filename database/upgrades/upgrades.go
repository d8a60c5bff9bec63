// Package upgrades holds the schema upgrades of the bridge's own tables.
package upgrades

import (
	"embed"

	"go.mau.fi/util/dbutil"
)

//go:embed *.sql
var rawUpgrades embed.FS

// Table is the upgrade table of the msn_* tables.
var Table = dbutil.BuildUpgradeTable().WithFS(rawUpgrades).Finish()
