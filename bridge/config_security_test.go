package bridge

import (
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// The hardening settings of a server reach the MSN client: safe defaults
// in the example config, and explicit values passed through.
func TestServerSecuritySettings(t *testing.T) {
	cfg := exampleConfig(t)
	srv, _ := cfg.Server("")
	if srv.AllowPlainHTTP || len(srv.AllowedHosts) != 0 {
		t.Errorf("example server allows plain HTTP or extra hosts: %+v", srv)
	}
	if cfg.EndpointName != "Matrix bridge" {
		t.Errorf("example endpoint_name = %q", cfg.EndpointName)
	}
	var custom ServerConfig
	err := yaml.Unmarshal([]byte("name: test\nnotification_server: 127.0.0.1:1863\nallowed_hosts: [sb.example.org, 127.0.0.2]\nallow_plain_http: true\n"), &custom)
	if err != nil {
		t.Fatal(err)
	}
	mc := custom.clientConfig("me@example.com", "pw", "{guid}")
	if !mc.AllowPlainHTTP || !slices.Equal(mc.AllowedHosts, []string{"sb.example.org", "127.0.0.2"}) {
		t.Errorf("client config got AllowPlainHTTP=%v AllowedHosts=%v", mc.AllowPlainHTTP, mc.AllowedHosts)
	}
}
