package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/mautrix-msn/mautrix-msn/msnclient"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Login flow and step IDs. They are part of the provisioning API.
const (
	LoginFlowPassword    = "password"
	LoginStepCredentials = "net.mautrix-msn.login.credentials"
	LoginStepComplete    = "net.mautrix-msn.login.complete"
	loginFieldEmail      = "email"
	loginFieldPassword   = "password"
	loginFieldServer     = "server"
)

// Login errors shown to users (bot replies and provisioning API).
var (
	ErrLoginWrongPassword = bridgev2.RespError(mautrix.MForbidden.WithMessage("Wrong email or password"))
	ErrLoginInvalidEmail  = bridgev2.RespError(mautrix.MInvalidParam.WithMessage("That is not a valid MSN email address"))
	ErrLoginNoPassword    = bridgev2.RespError(mautrix.MInvalidParam.WithMessage("The password is empty"))
	ErrLoginUnknownServer = bridgev2.RespError(mautrix.MInvalidParam.WithMessage("Unknown MSN server"))
)

// GetLoginFlows implements bridgev2.NetworkConnector.
func (c *Connector) GetLoginFlows() []bridgev2.LoginFlow {
	return []bridgev2.LoginFlow{{
		Name:        "Email and password",
		Description: "Log in with your MSN (Passport) email address and password",
		ID:          LoginFlowPassword,
	}}
}

// CreateLogin implements bridgev2.NetworkConnector.
func (c *Connector) CreateLogin(_ context.Context, user *bridgev2.User, flowID string) (bridgev2.LoginProcess, error) {
	if flowID != LoginFlowPassword {
		return nil, bridgev2.ErrInvalidLoginFlowID
	}
	return &PasswordLogin{connector: c, user: user}, nil
}

// PasswordLogin is the email + password login process.
type PasswordLogin struct {
	connector *Connector
	user      *bridgev2.User
	override  *bridgev2.UserLogin
}

var (
	_ bridgev2.LoginProcessUserInput    = (*PasswordLogin)(nil)
	_ bridgev2.LoginProcessWithOverride = (*PasswordLogin)(nil)
)

// Start implements bridgev2.LoginProcess.
func (pl *PasswordLogin) Start(_ context.Context) (*bridgev2.LoginStep, error) {
	return pl.credentialsStep(""), nil
}

// StartWithOverride implements bridgev2.LoginProcessWithOverride (relogin).
func (pl *PasswordLogin) StartWithOverride(_ context.Context, override *bridgev2.UserLogin) (*bridgev2.LoginStep, error) {
	pl.override = override
	email := string(override.ID)
	if meta, ok := override.Metadata.(*UserLoginMetadata); ok && meta.Email != "" {
		email = meta.Email
	}
	return pl.credentialsStep(email), nil
}

// Cancel implements bridgev2.LoginProcess.
func (pl *PasswordLogin) Cancel() {}

func (pl *PasswordLogin) credentialsStep(defaultEmail string) *bridgev2.LoginStep {
	fields := []bridgev2.LoginInputDataField{{
		Type:         bridgev2.LoginInputFieldTypeEmail,
		ID:           loginFieldEmail,
		Name:         "Email address",
		Description:  "Your MSN (Passport) email address, e.g. alice@hotmail.com",
		DefaultValue: defaultEmail,
		Validate:     pl.validateEmailField,
	}, {
		Type:        bridgev2.LoginInputFieldTypePassword,
		ID:          loginFieldPassword,
		Name:        "Password",
		Description: "Your MSN password",
	}}
	if names := pl.connector.Config.ServerNames(); len(names) > 1 {
		fields = append(fields, bridgev2.LoginInputDataField{
			Type:         bridgev2.LoginInputFieldTypeSelect,
			ID:           loginFieldServer,
			Name:         "Server",
			Description:  "The MSN server to log in to: " + strings.Join(names, ", "),
			DefaultValue: names[0],
			Options:      names,
			Validate:     pl.validateServerField,
		})
	}
	return &bridgev2.LoginStep{
		Type:         bridgev2.LoginStepTypeUserInput,
		StepID:       LoginStepCredentials,
		Instructions: "Enter your MSN email address and password.",
		UserInputParams: &bridgev2.LoginUserInputParams{
			Fields: fields,
		},
	}
}

// SubmitUserInput implements bridgev2.LoginProcessUserInput: it signs in to
// MSN, creates (or updates) the login and keeps the session.
func (pl *PasswordLogin) SubmitUserInput(ctx context.Context, input map[string]string) (*bridgev2.LoginStep, error) {
	email, password, srv, err := pl.parseInput(input)
	if err != nil {
		return nil, err
	}
	loginID := makeUserLoginID(email)
	if err := pl.checkRelogin(loginID); err != nil {
		return nil, err
	}
	prev := pl.existingMeta(ctx, loginID)
	machineGUID := prev.MachineGUID
	if machineGUID == "" {
		machineGUID = msnp.NewGUID()
	}
	encrypted, err := encryptPassword(pl.connector.Config.credentialsKey, loginID, password)
	if err != nil {
		return nil, fmt.Errorf("store password: %w", err)
	}

	cfg := pl.connector.loginConfig(srv, email, password, machineGUID)
	cfg.SwitchboardIdleTimeout = pl.connector.Config.switchboardIdleTimeout()
	cfg.InitialStatus = prev.Profile.initialStatus()
	cfg.MaxPictureSize = pl.connector.Config.Pictures.maxSize()
	cfg.EndpointName = pl.connector.Config.EndpointName
	signedIn := pl.connector.gc.begin()
	sess, err := authenticate(ctx, cfg)
	signedIn()
	if errors.Is(err, ErrLoginWrongPassword) {
		// Keep the login going with a new prompt, so that the next message
		// (often the password typed again) is read as a login answer.
		return pl.retryStep(email), nil
	} else if err != nil {
		return nil, err
	}
	name := sess.client.FriendlyName()
	if name == "" {
		name = email
	}
	ul, err := pl.saveLogin(ctx, &database.UserLogin{
		ID:         loginID,
		RemoteName: email,
		RemoteProfile: status.RemoteProfile{
			Email: email,
			Name:  name,
		},
		Metadata: &UserLoginMetadata{
			Email:             email,
			Server:            srv.Name,
			EncryptedPassword: encrypted,
			MachineGUID:       machineGUID,
			Profile:           prev.Profile,
		},
	})
	if err != nil {
		_ = sess.client.Close()
		return nil, fmt.Errorf("save login: %w", err)
	}
	if client, ok := ul.Client.(*MSNClient); ok {
		client.adoptSession(sess)
	} else {
		_ = sess.client.Close()
	}
	go ul.Client.Connect(ul.Log.WithContext(pl.connector.backgroundCtx()))
	return &bridgev2.LoginStep{
		Type:         bridgev2.LoginStepTypeComplete,
		StepID:       LoginStepComplete,
		Instructions: fmt.Sprintf("Successfully logged in as %s", email),
		CompleteParams: &bridgev2.LoginCompleteParams{
			UserLoginID: ul.ID,
			UserLogin:   ul,
		},
	}, nil
}

// parseInput checks the submitted credentials. The email is only trimmed,
// never lower-cased: Escargot compares the address in USR/ANS with the
// account's stored spelling case-sensitively, so it must go out as typed.
// Only IDs (login, ghosts, portals) use the normalised form.
func (pl *PasswordLogin) parseInput(input map[string]string) (email, password string, srv *ServerConfig, err error) {
	email = strings.TrimSpace(input[loginFieldEmail])
	password = input[loginFieldPassword]
	if !plausibleEmail(email) {
		return "", "", nil, ErrLoginInvalidEmail
	}
	if password == "" {
		return "", "", nil, ErrLoginNoPassword
	}
	srv, ok := pl.connector.Config.Server(strings.TrimSpace(input[loginFieldServer]))
	if !ok {
		return "", "", nil, ErrLoginUnknownServer
	}
	return email, password, srv, nil
}

// existingMeta returns the metadata of an earlier login of the same account
// (empty when none): its machine GUID is kept, so MSNP16+ sees the same
// endpoint for ever, and so is the profile set from Matrix.
func (pl *PasswordLogin) existingMeta(ctx context.Context, loginID networkid.UserLoginID) UserLoginMetadata {
	if pl.override != nil && pl.override.ID == loginID {
		if meta, ok := pl.override.Metadata.(*UserLoginMetadata); ok {
			return *meta
		}
	}
	if pl.connector.Bridge == nil {
		return UserLoginMetadata{}
	}
	existing, err := pl.connector.Bridge.GetExistingUserLoginByID(ctx, loginID)
	if err != nil || existing == nil {
		return UserLoginMetadata{}
	}
	if meta, ok := existing.Metadata.(*UserLoginMetadata); ok {
		return *meta
	}
	return UserLoginMetadata{}
}

func (c *Connector) backgroundCtx() context.Context {
	if c.Bridge != nil && c.Bridge.BackgroundCtx != nil {
		return c.Bridge.BackgroundCtx
	}
	return context.Background()
}

// authenticate signs in once and maps failures to errors users understand.
func authenticate(ctx context.Context, cfg msnclient.Config) (*session, error) {
	sess, err := dialSession(ctx, cfg)
	if err == nil {
		return sess, nil
	}
	switch {
	case errors.Is(err, msnclient.ErrBadCredentials):
		return nil, ErrLoginWrongPassword
	case errors.Is(err, context.Canceled):
		return nil, err
	default:
		return nil, bridgev2.RespError(mautrix.RespError{
			ErrCode:    "NET.MAUTRIX_MSN.CONNECT_FAILED",
			Err:        fmt.Sprintf("Could not sign in to the MSN server %s: %v", cfg.Server, err),
			StatusCode: http.StatusBadGateway,
		})
	}
}
