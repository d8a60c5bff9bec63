package msnp

import (
	"crypto/rand"
	"encoding/hex"
)

// The random identifiers of the protocol: machine GUIDs, contact and
// group ids, cookies, nonces. One implementation for the client, the fake
// server and the bridge. crypto/rand.Read never fails.

// NewUUID returns a random version 4 UUID in lower case,
// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// NewGUID returns a new UUID in braces, the form of MSNP16+ machine GUIDs
// (endpoint ids): "{xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx}".
func NewGUID() string { return "{" + NewUUID() + "}" }

// RandomHex returns n random bytes, hex-encoded (2n characters).
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
