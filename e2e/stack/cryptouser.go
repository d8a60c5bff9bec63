package stack

import (
	"context"
	"fmt"
	"net/http"
	"time"

	_ "github.com/mattn/go-sqlite3" // the crypto helper's store
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// EncryptingUser is a Matrix client that encrypts and decrypts like Element:
// a new device of an account with mautrix's crypto helper (goolm with
// -tags goolm), syncing with mautrix's syncer. It joins rooms it is
// invited to and keeps every event it sees, decrypted ones included (they
// keep the encrypted event's ID), for the Wait* helpers.
type EncryptingUser struct {
	*User
	Crypto *cryptohelper.CryptoHelper
}

// NewEncryptingUser logs in a new device of username (password login) with
// its crypto store in dbPath, and starts syncing. Stop it with Close.
func NewEncryptingUser(ctx context.Context, hsURL, username, password, dbPath string) (*EncryptingUser, error) {
	cli, err := mautrix.NewClient(hsURL, "", "")
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	cli.Client = &http.Client{Timeout: 60 * time.Second}
	_, err = cli.Login(ctx, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: username},
		Password:                 password,
		InitialDeviceDisplayName: "mautrix-msn e2e (encrypting)",
		StoreCredentials:         true,
	})
	if err != nil {
		return nil, fmt.Errorf("log in %s: %w", username, err)
	}
	helper, err := cryptohelper.NewCryptoHelper(cli, []byte("mautrix-msn e2e pickle key"), dbPath)
	if err != nil {
		return nil, fmt.Errorf("crypto helper: %w", err)
	}
	if err := helper.Init(ctx); err != nil {
		return nil, fmt.Errorf("init crypto: %w", err)
	}
	cli.Crypto = helper

	syncCtx, cancel := context.WithCancel(context.Background())
	u := &User{Client: cli, changed: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	syncer := cli.Syncer.(*mautrix.DefaultSyncer)
	syncer.OnEvent(func(_ context.Context, evt *event.Event) { u.recordEvent(evt) })
	syncer.OnEventType(event.StateMember, func(ctx context.Context, evt *event.Event) {
		if evt.GetStateKey() == cli.UserID.String() && evt.Content.AsMember().Membership == event.MembershipInvite {
			go u.join(syncCtx, evt.RoomID)
		}
	})
	go func() {
		defer close(u.done)
		defer helper.Close()
		for syncCtx.Err() == nil {
			if err := cli.SyncWithContext(syncCtx); err != nil && syncCtx.Err() == nil {
				select {
				case <-syncCtx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
		}
	}()
	return &EncryptingUser{User: u, Crypto: helper}, nil
}

func (u *User) join(ctx context.Context, room id.RoomID) {
	if _, err := u.JoinRoomByID(ctx, room); err != nil && ctx.Err() == nil {
		u.mu.Lock()
		u.joinErrs = append(u.joinErrs, fmt.Errorf("join %s: %w", room, err))
		u.mu.Unlock()
	}
}

// CreateEncryptedDM creates a direct chat with invitee that is encrypted
// from its first event, as Element does, and returns at once.
func (u *EncryptingUser) CreateEncryptedDM(ctx context.Context, invitee id.UserID) (id.RoomID, error) {
	content := &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}
	resp, err := u.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset:   "trusted_private_chat",
		IsDirect: true,
		Invite:   []id.UserID{invitee},
		InitialState: []*event.Event{{
			Type:    event.StateEncryption,
			Content: event.Content{Parsed: content},
		}},
	})
	if err != nil {
		return "", fmt.Errorf("create encrypted DM with %s: %w", invitee, err)
	}
	// The client knows the room is encrypted before its sync says so.
	if err := u.StateStore.SetEncryptionEvent(ctx, resp.RoomID, content); err != nil {
		return "", err
	}
	return resp.RoomID, nil
}
