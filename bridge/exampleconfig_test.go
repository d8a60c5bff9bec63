package bridge

import (
	"os"
	"testing"
)

// The repository's top-level example-config.yaml is the network section the
// bridge embeds (bridge/example-config.yaml with the metrics part), so
// whoever reads it reads what the bridge really uses. Set
// MSN_UPDATE_EXAMPLE_CONFIG=1 to rewrite it after changing the embedded one.
func TestTopLevelExampleConfigIsTheEmbeddedOne(t *testing.T) {
	const path = "../example-config.yaml"
	want := fullExampleConfig()
	if os.Getenv("MSN_UPDATE_EXAMPLE_CONFIG") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("top-level example config: %v", err)
	}
	if string(got) != want {
		t.Fatalf("%s differs from the embedded example config; run MSN_UPDATE_EXAMPLE_CONFIG=1 go test -tags goolm -run TestTopLevelExampleConfig ./bridge/", path)
	}
}
