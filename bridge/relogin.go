package bridge

import (
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

// ErrReloginDifferentAccount refuses a relogin with another account's
// email: relogin renews the credentials of one login and must not create a
// second one (as in mautrix-signal and mautrix-whatsapp). `login` adds
// another account.
var ErrReloginDifferentAccount = bridgev2.RespError(mautrix.MInvalidParam.WithMessage(
	"That is a different MSN account than the one being logged in again. " +
		"Use the same email address, or use `login` to add another account."))

// checkRelogin refuses input for another account during a relogin.
func (pl *PasswordLogin) checkRelogin(loginID networkid.UserLoginID) error {
	if pl.override != nil && pl.override.ID != loginID {
		return ErrReloginDifferentAccount
	}
	return nil
}
