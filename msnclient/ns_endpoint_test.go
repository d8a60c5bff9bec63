package msnclient_test

import (
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// MSNP18: the bridge's sign-in has a name the user's other clients show in
// their list of places, and its state follows our status.
func TestEndpointNameAnnounced(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com")
	other := chatConnect(t, srv, "alice@example.com", 18, func(c *msnclient.Config) { c.EndpointName = `Kitchen <PC> & "co"` })
	bridge := chatConnect(t, srv, "alice@example.com", 18, nil)
	want := map[string]msntest.Endpoint{
		normGUID(other.MachineGUID()):  {Name: `Kitchen <PC> & "co"`, Idle: "false", ClientType: "1", State: "NLN"},
		normGUID(bridge.MachineGUID()): {Name: "Matrix bridge", Idle: "false", ClientType: "1", State: "NLN"},
	}
	check := func(when string) {
		t.Helper()
		eps := srv.Endpoints("alice@example.com")
		if len(eps) != len(want) {
			t.Fatalf("%s: endpoints %+v", when, eps)
		}
		for _, ep := range eps {
			w := want[ep.MachineGUID]
			w.MachineGUID = ep.MachineGUID
			if ep != w {
				t.Errorf("%s: endpoint %+v, want %+v", when, ep, w)
			}
		}
	}
	check("after login")
	if err := bridge.SetStatus(chatCtx(t), msnclient.StatusBusy); err != nil {
		t.Fatal(err)
	}
	want[normGUID(bridge.MachineGUID())] = msntest.Endpoint{Name: "Matrix bridge", Idle: "false", ClientType: "1", State: "BSY"}
	check("after going busy")
}

func normGUID(g string) string {
	out := make([]byte, 0, len(g))
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch {
		case c == '{' || c == '}':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return string(out)
}
