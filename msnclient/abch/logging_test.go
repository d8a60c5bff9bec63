package abch

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestLogsHaveNoTicket(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf).Level(zerolog.TraceLevel)
	ctx := log.WithContext(testCtx(t))
	c, _ := newTestClient(t, map[string]reply{
		"FindMembership": {200, findMembershipResponse},
		"ABFindAll":      {200, abFault("ABFindAll", FaultFullSyncRequired, "Full sync required")},
	})
	if _, err := c.FindMembership(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ABFindAll(ctx); !IsFault(err, FaultFullSyncRequired) {
		t.Fatalf("err = %v", err)
	}
	out := buf.String()
	if !strings.Contains(out, "Calling ABCH") || !strings.Contains(out, "FullSyncRequired") {
		t.Errorf("expected debug logs, got:\n%s", out)
	}
	if strings.Contains(out, "0123456789abcdef0123") {
		t.Errorf("log contains the ticket:\n%s", out)
	}
}
