package bridge

import (
	"maunium.net/go/mautrix/bridgev2/database"
)

// UserLoginMetadata is the connector's data of one login.
type UserLoginMetadata struct {
	Email string `json:"email"`
	// Server is the name of the configured server the login uses.
	Server string `json:"server"`
	// EncryptedPassword is the AES-GCM sealed password (see credentials.go);
	// empty after a remote logout.
	EncryptedPassword string `json:"encrypted_password,omitempty"`
	// MachineGUID is the MSNP16+ endpoint ID, generated once and kept.
	MachineGUID string `json:"machine_guid"`
	// PictureMXC is the image chosen with set-picture as the MSN display
	// picture; empty: the user's Matrix avatar is used.
	PictureMXC string `json:"picture_mxc,omitempty"`
	// Profile is the status, personal message and name the user set from
	// Matrix, restored at every sign-in (profile.go).
	Profile OwnProfile `json:"profile,omitzero"`
}

// PortalMetadata is the connector's data of one portal.
type PortalMetadata struct {
	// Participants is the participant set of a group portal when it became
	// multi-party (sorted, lower-cased, without the user).
	Participants []string `json:"participants,omitempty"`
}

// GhostMetadata is the connector's data of one ghost.
type GhostMetadata struct {
	FriendlyName string `json:"friendly_name,omitempty"`
}

// MessageMetadata is the connector's data of one message: nothing yet, MSN
// messages carry no extra data worth keeping.
type MessageMetadata struct{}

// GetDBMetaTypes implements bridgev2.NetworkConnector.
func (c *Connector) GetDBMetaTypes() database.MetaTypes {
	return database.MetaTypes{
		Portal:    func() any { return &PortalMetadata{} },
		Ghost:     func() any { return &GhostMetadata{} },
		Message:   func() any { return &MessageMetadata{} },
		Reaction:  func() any { return &MessageMetadata{} },
		UserLogin: func() any { return &UserLoginMetadata{} },
	}
}
