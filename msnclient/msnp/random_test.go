package msnp

import (
	"regexp"
	"testing"
)

func TestRandomIdentifiers(t *testing.T) {
	guid := regexp.MustCompile(`^\{[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\}$`)
	g := NewGUID()
	if !guid.MatchString(g) {
		t.Errorf("machine GUID %q is not a braced version 4 UUID", g)
	}
	if g == NewGUID() {
		t.Error("GUIDs repeat")
	}
	if h := RandomHex(10); len(h) != 20 || !regexp.MustCompile(`^[0-9a-f]+$`).MatchString(h) || h == RandomHex(10) {
		t.Errorf("RandomHex(10) = %q", h)
	}
}
