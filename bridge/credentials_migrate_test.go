package bridge

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/bridgev2"
	bdb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

// legacySeal seals as the bridge did before passwords were bound to their
// login (constant additional data, no prefix).
func legacySeal(t *testing.T, key []byte, password string) string {
	t.Helper()
	aead, err := newAEAD(key)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(password), []byte(legacyAD)))
}

// A stored password only decrypts for the login it was sealed for: values
// swapped between two logins' rows are refused.
func TestPasswordBoundToLogin(t *testing.T) {
	key := testKey(t)
	sealed, err := encryptPassword(key, "alice@x.com", "alice's password")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decryptPassword(key, "alice@x.com", sealed); err != nil || got != "alice's password" {
		t.Fatalf("decrypt for its login: %q, %v", got, err)
	}
	if _, err := decryptPassword(key, "bob@x.com", sealed); err == nil {
		t.Error("alice's stored password decrypted as bob's")
	}
	if _, err := decryptPassword(key, "alice@x.com", legacySeal(t, key, "pw")); !errors.Is(err, errLegacyPassword) {
		t.Errorf("old-format value: %v, want errLegacyPassword (it must be migrated, not used as is)", err)
	}
}

// Stored passwords of existing logins are converted at startup to the
// login-bound format and still work; new-format ones are left alone.
func TestMigrateCredentials(t *testing.T) {
	ctx := context.Background()
	raw, err := dbutil.NewWithDialect("file:"+filepath.Join(t.TempDir(), "bridge.db")+"?_txlock=immediate", "sqlite3")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	c := &Connector{}
	bridgeDB := bdb.New("msn", c.GetDBMetaTypes(), raw)
	if err := bridgeDB.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	key := testKey(t)
	c.Config.credentialsKey = key
	c.Bridge = &bridgev2.Bridge{DB: bridgeDB, Log: zerolog.Nop()}

	if err := bridgeDB.User.Insert(ctx, &bdb.User{MXID: "@u:hs"}); err != nil {
		t.Fatal(err)
	}
	current, _ := encryptPassword(key, "new@x.com", "new password")
	rows := map[networkid.UserLoginID]string{
		"old@x.com": legacySeal(t, key, "old password"),
		"new@x.com": current,
	}
	for id, sealed := range rows {
		err := bridgeDB.UserLogin.Insert(ctx, &bdb.UserLogin{UserMXID: "@u:hs", ID: id,
			Metadata: &UserLoginMetadata{Email: string(id), EncryptedPassword: sealed}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.migrateCredentials(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[networkid.UserLoginID]string{"old@x.com": "old password", "new@x.com": "new password"}
	for id, password := range want {
		login, err := bridgeDB.UserLogin.GetByID(ctx, id)
		if err != nil || login == nil {
			t.Fatalf("login %s: %v", id, err)
		}
		sealed := login.Metadata.(*UserLoginMetadata).EncryptedPassword
		if got, err := decryptPassword(key, id, sealed); err != nil || got != password {
			t.Errorf("login %s after migration: %q, %v", id, got, err)
		}
		if id == "new@x.com" && sealed != current {
			t.Error("an already converted password was rewritten")
		}
	}
}
