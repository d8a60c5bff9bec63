package bridge

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/bridgev2/networkid"
)

// errNoCredentialsKey is returned when the config has no usable key.
var errNoCredentialsKey = errors.New("network.credentials_key is not set")

// errLegacyPassword is returned for a stored password sealed before it was
// bound to its login; migrateStoredPassword converts those.
var errLegacyPassword = errors.New("stored password is in the old format, not bound to its login")

// Stored passwords are "v2:" + base64(nonce || AES-256-GCM ciphertext).
// The additional data binds each ciphertext to its login ID, so a value
// copied to another login's row does not decrypt. Values without the
// prefix are the old format, whose additional data was a constant.
const (
	sealedPrefix   = "v2:"
	legacyAD       = "mautrix-msn password"
	loginADContext = "mautrix-msn password v2\x00"
)

func passwordAD(loginID networkid.UserLoginID) []byte {
	return []byte(loginADContext + string(loginID))
}

// encryptPassword seals the password of loginID with AES-256-GCM under key.
// The result never contains the plaintext.
func encryptPassword(key []byte, loginID networkid.UserLoginID, password string) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("generate nonce: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, []byte(password), passwordAD(loginID))
	return sealedPrefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// decryptPassword opens a value made by encryptPassword for loginID. A
// wrong key, another login's value or a tampered value gives an error.
func decryptPassword(key []byte, loginID networkid.UserLoginID, sealed string) (string, error) {
	raw, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", errLegacyPassword
	}
	return open(key, raw, passwordAD(loginID))
}

// migrateStoredPassword converts a password sealed in the old format to
// one bound to loginID. It reports false (and returns sealed unchanged)
// when there was nothing to convert.
func migrateStoredPassword(key []byte, loginID networkid.UserLoginID, sealed string) (string, bool, error) {
	if sealed == "" || strings.HasPrefix(sealed, sealedPrefix) {
		return sealed, false, nil
	}
	password, err := open(key, sealed, []byte(legacyAD))
	if err != nil {
		return sealed, false, err
	}
	migrated, err := encryptPassword(key, loginID, password)
	if err != nil {
		return sealed, false, err
	}
	return migrated, true, nil
}

func open(key []byte, b64 string, ad []byte) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("decode stored password: %w", err)
	}
	if len(raw) < aead.NonceSize() {
		return "", errors.New("decode stored password: too short")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], ad)
	if err != nil {
		return "", fmt.Errorf("decrypt stored password (was credentials_key changed?): %w", err)
	}
	return string(plain), nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) == 0 {
		return nil, errNoCredentialsKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("credentials key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("credentials key: %w", err)
	}
	return aead, nil
}
