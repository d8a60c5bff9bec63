package msnp

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// MBIResponse computes the MSNP15+ SSO response blob (base64) from the
// messengerclear.live.com binary secret (base64) and the nonce sent in
// "USR t SSO S policy nonce". iv must be 8 bytes.
func MBIResponse(binarySecret, nonce string, iv []byte) (string, error) {
	key1, err := base64.StdEncoding.DecodeString(binarySecret)
	if err != nil {
		return "", fmt.Errorf("decode binary secret: %w", err)
	}
	if len(iv) != 8 {
		return "", errors.New("mbi: iv must be 8 bytes")
	}
	key2 := deriveKey(key1, "WS-SecureConversationSESSION KEY HASH")
	key3 := deriveKey(key1, "WS-SecureConversationSESSION KEY ENCRYPTION")
	mac := hmac.New(sha1.New, key2)
	mac.Write([]byte(nonce))
	hash := mac.Sum(nil)

	pad := 8 - len(nonce)%8
	padded := make([]byte, len(nonce)+pad)
	copy(padded, nonce)
	for i := len(nonce); i < len(padded); i++ {
		padded[i] = byte(pad)
	}
	block, err := des.NewTripleDESCipher(key3)
	if err != nil {
		return "", fmt.Errorf("mbi: 3des key: %w", err)
	}
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)

	blob := make([]byte, 28, 28+8+20+len(ct))
	for i, v := range []uint32{28, 1, 0x6603, 0x8004, 8, 20, uint32(len(ct))} {
		binary.LittleEndian.PutUint32(blob[i*4:], v)
	}
	blob = append(blob, iv...)
	blob = append(blob, hash...)
	blob = append(blob, ct...)
	return base64.StdEncoding.EncodeToString(blob), nil
}

// VerifyMBIResponse checks a client's MBI blob as a server does.
func VerifyMBIResponse(binarySecret, nonce, response string) bool {
	blob, err := base64.StdEncoding.DecodeString(response)
	if err != nil || len(blob) < 56 {
		return false
	}
	want := []uint32{28, 1, 0x6603, 0x8004, 8, 20}
	for i, v := range want {
		if binary.LittleEndian.Uint32(blob[i*4:]) != v {
			return false
		}
	}
	ctLen := binary.LittleEndian.Uint32(blob[24:])
	if uint64(len(blob)) != 56+uint64(ctLen) {
		return false
	}
	expected, err := MBIResponse(binarySecret, nonce, blob[28:36])
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(expected), []byte(response))
}

func deriveKey(key []byte, magic string) []byte {
	sum := func(parts ...[]byte) []byte {
		m := hmac.New(sha1.New, key)
		for _, p := range parts {
			m.Write(p)
		}
		return m.Sum(nil)
	}
	h1 := sum([]byte(magic))
	h2 := sum(h1, []byte(magic))
	h3 := sum(h1)
	h4 := sum(h3, []byte(magic))
	out := make([]byte, 0, 24)
	out = append(out, h2...)
	return append(out, h4[:4]...)
}

// ChallengeMD5 answers a CHL challenge for MSNP8 to MSNP10.
func ChallengeMD5(challenge, productKey string) string {
	sum := md5.Sum([]byte(challenge + productKey))
	return hex.EncodeToString(sum[:])
}

// ChallengeMSNP11 answers a CHL challenge for MSNP11 and later.
func ChallengeMSNP11(challenge, productID, productKey string) string {
	sum := md5.Sum([]byte(challenge + productKey))
	var h, m [4]uint64
	for i := range h {
		h[i] = uint64(binary.LittleEndian.Uint32(sum[i*4:]))
		m[i] = h[i] & 0x7FFFFFFF
	}
	s := []byte(challenge + productID)
	for len(s)%8 != 0 {
		s = append(s, '0')
	}
	const mod = 0x7FFFFFFF
	var high, low uint64
	for i := 0; i+8 <= len(s); i += 8 {
		c0 := uint64(binary.LittleEndian.Uint32(s[i:]))
		c1 := uint64(binary.LittleEndian.Uint32(s[i+4:]))
		t := (0x0E79A9C1 * c0) % mod
		t = (m[0]*(t+high) + m[1]) % mod
		high = (m[2]*((c1+t)%mod) + m[3]) % mod
		low = low + high + t
	}
	high = (high + m[1]) % mod
	low = (low + m[3]) % mod
	var out [16]byte
	binary.LittleEndian.PutUint32(out[0:], uint32(h[0]^high))
	binary.LittleEndian.PutUint32(out[4:], uint32(h[1]^low))
	binary.LittleEndian.PutUint32(out[8:], uint32(h[2]^high))
	binary.LittleEndian.PutUint32(out[12:], uint32(h[3]^low))
	return hex.EncodeToString(out[:])
}

// Product is a client product id and key used for CHL/QRY.
type Product struct {
	ID  string
	Key string
}

// ProductFor returns the product id and key to use in a dialect.
func ProductFor(version int) Product {
	switch {
	case version <= 10:
		return Product{ID: "msmsgs@msnmsgr.com", Key: "Q1P7W2E4J9R8U3S5"}
	case version <= 12:
		return Product{ID: "PROD0090YUAUV{2B", Key: "YMM8C_H7KCQ2S_KL"}
	case version <= 14:
		return Product{ID: "PROD01065C%ZFN6F", Key: "O4BG@C7BWLYQX?5G"}
	default:
		return Product{ID: "PROD0120PW!CCV9@", Key: "C1BX{V4W}Q3*10SM"}
	}
}

// ChallengeResponse answers a challenge for the given dialect.
func ChallengeResponse(version int, challenge string) (productID, response string) {
	p := ProductFor(version)
	if version <= 10 {
		return p.ID, ChallengeMD5(challenge, p.Key)
	}
	return p.ID, ChallengeMSNP11(challenge, p.ID, p.Key)
}
