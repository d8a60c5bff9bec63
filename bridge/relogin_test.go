package bridge

import (
	"context"
	"errors"
	"testing"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
)

// relogin renews the login it was started for: another account's email is
// refused before anything is sent to MSN; the same account (in any case)
// signs in.
func TestReloginRefusesDifferentAccount(t *testing.T) {
	srv, c := testServer(t)
	if err := srv.AddAccount("other@example.com", "pw", "Other"); err != nil {
		t.Fatal(err)
	}
	existing := &bridgev2.UserLogin{
		UserLogin: &database.UserLogin{ID: makeUserLoginID(testEmail), Metadata: &UserLoginMetadata{Email: testEmail}},
		Log:       zerolog.Nop(),
	}
	pl := &PasswordLogin{connector: c}
	if _, err := pl.StartWithOverride(context.Background(), existing); err != nil {
		t.Fatal(err)
	}
	_, err := pl.SubmitUserInput(context.Background(), map[string]string{"email": "other@example.com", "password": "pw"})
	if !errors.Is(err, ErrReloginDifferentAccount) {
		t.Fatalf("relogin as another account: %v, want ErrReloginDifferentAccount", err)
	}
	if srv.IsOnline("other@example.com") {
		t.Error("the other account was signed in to MSN")
	}
	if err := pl.checkRelogin(makeUserLoginID("ME@Example.com")); err != nil {
		t.Errorf("same account in other case refused: %v", err)
	}
}
