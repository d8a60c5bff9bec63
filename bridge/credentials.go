package bridge

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// errNoCredentialsKey is returned when the config has no usable key.
var errNoCredentialsKey = errors.New("network.credentials_key is not set")

// encryptPassword seals password with AES-256-GCM under key. The result is
// base64(nonce || ciphertext) and never contains the plaintext.
func encryptPassword(key []byte, password string) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("generate nonce: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, []byte(password), []byte("mautrix-msn password"))
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// decryptPassword opens a value made by encryptPassword. A wrong key or a
// tampered value gives an error.
func decryptPassword(key []byte, sealed string) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("decode stored password: %w", err)
	}
	if len(raw) < aead.NonceSize() {
		return "", errors.New("decode stored password: too short")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte("mautrix-msn password"))
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
