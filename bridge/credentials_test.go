package bridge

import (
	"encoding/base64"
	"strings"
	"testing"
)

func testKey(t *testing.T) []byte {
	t.Helper()
	key, err := decodeCredentialsKey(generateCredentialsKey())
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestPasswordEncryptionRoundTrip(t *testing.T) {
	key := testKey(t)
	const password = "hunter2 with spaces and ünicode"
	sealed, err := encryptPassword(key, "me@x.com", password)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, password) {
		t.Fatal("ciphertext contains the password")
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, sealedPrefix))
	if strings.Contains(string(raw), password) {
		t.Fatal("decoded ciphertext contains the password")
	}
	again, err := encryptPassword(key, "me@x.com", password)
	if err != nil {
		t.Fatal(err)
	}
	if again == sealed {
		t.Error("two encryptions are identical (nonce reused)")
	}
	got, err := decryptPassword(key, "me@x.com", sealed)
	if err != nil || got != password {
		t.Fatalf("decrypt = %q, %v", got, err)
	}
}

func TestPasswordDecryptionFailures(t *testing.T) {
	key := testKey(t)
	sealed, err := encryptPassword(key, "me@x.com", "secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decryptPassword(testKey(t), "me@x.com", sealed); err == nil {
		t.Error("decrypting with the wrong key worked")
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, sealedPrefix))
	raw[len(raw)-1] ^= 1
	if _, err := decryptPassword(key, "me@x.com", sealedPrefix+base64.StdEncoding.EncodeToString(raw)); err == nil {
		t.Error("decrypting tampered data worked")
	}
	if _, err := decryptPassword(key, "me@x.com", sealedPrefix+"not base64!"); err == nil {
		t.Error("decrypting garbage worked")
	}
	if _, err := decryptPassword(key, "me@x.com", sealedPrefix+"AAAA"); err == nil {
		t.Error("decrypting a too short value worked")
	}
	if _, err := encryptPassword(nil, "me@x.com", "x"); err == nil {
		t.Error("encrypting without a key worked")
	}
}

func TestDecodeCredentialsKey(t *testing.T) {
	for _, bad := range []string{"", "generate", "short", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := decodeCredentialsKey(bad); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
	if a, b := generateCredentialsKey(), generateCredentialsKey(); a == b {
		t.Error("generated keys repeat")
	}
}
