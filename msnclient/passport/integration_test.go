package passport_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
	"github.com/mautrix-msn/mautrix-msn/msnclient/passport"
)

// Against the fake MSN server over HTTPS with its generated CA: both
// authentication schemes, success and wrong password.
func TestAgainstFakeServer(t *testing.T) {
	srv := msntest.StartT(t, msntest.Options{TLS: true})
	if err := srv.AddAccount("alice@example.com", "pa,ss=w<rd>&", "Alice"); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := passport.NewHTTPClient(caFile, 30*time.Second)
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := srv.HTTPSURL()

	t.Run("tweener", func(t *testing.T) {
		ticket, err := passport.TweenerLogin(ctx, client, base+"/rdr/pprdr.asp", "", "alice@example.com", "pa,ss=w<rd>&", "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1")
		if err != nil {
			t.Fatalf("TweenerLogin: %v", err)
		}
		if len(ticket) != 20 {
			t.Errorf("Escargot-style ticket has %d characters, want 20", len(ticket))
		}
		_, err = passport.TweenerLogin(ctx, client, base+"/rdr/pprdr.asp", "", "alice@example.com", "wrong", "lc=1")
		if !errors.Is(err, passport.ErrBadCredentials) {
			t.Errorf("wrong password: err = %v, want ErrBadCredentials", err)
		}
	})

	for _, v2 := range []bool{false, true} {
		name, path := "rst", "/RST.srf"
		if v2 {
			name, path = "rst2", "/RST2.srf"
		}
		t.Run(name, func(t *testing.T) {
			tokens, err := passport.RequestSecurityTokens(ctx, client, base+path, v2, "alice@example.com", "pa,ss=w<rd>&", "MBI_KEY_OLD")
			if err != nil {
				t.Fatalf("RequestSecurityTokens: %v", err)
			}
			mc := tokens.MessengerClear()
			if !strings.HasPrefix(mc.Ticket, "t=") || !strings.HasSuffix(mc.Ticket, "&p=") {
				t.Errorf("messengerclear ticket is not a compact ticket: %v", mc)
			}
			if secret, err := base64.StdEncoding.DecodeString(mc.BinarySecret); err != nil || len(secret) != 24 {
				t.Fatalf("binary secret is not 24 bytes of base64: %v", err)
			}
			nonce := strings.Repeat("A", 64)
			blob, err := msnp.MBIResponse(mc.BinarySecret, nonce, make([]byte, 8))
			if err != nil || !msnp.VerifyMBIResponse(mc.BinarySecret, nonce, blob) {
				t.Errorf("MBI response from the issued secret does not verify: %v", err)
			}
			if tokens.Contacts().Ticket == "" {
				t.Errorf("no contacts.msn.com ticket; have %v", tokens.Addresses())
			}
			_, err = passport.RequestSecurityTokens(ctx, client, base+path, v2, "alice@example.com", "wrong", "MBI_KEY_OLD")
			if !errors.Is(err, passport.ErrBadCredentials) {
				t.Errorf("wrong password: err = %v, want ErrBadCredentials", err)
			}
		})
	}

	t.Run("untrusted without CA", func(t *testing.T) {
		plain, err := passport.NewHTTPClient("", 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, err = passport.RequestSecurityTokens(ctx, plain, base+"/RST.srf", false, "alice@example.com", "pa,ss=w<rd>&", "MBI_KEY_OLD")
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("err = %v, want a certificate error", err)
		}
	})
}
