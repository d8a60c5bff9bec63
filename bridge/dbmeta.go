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

// GhostMetadata is the connector's data of one ghost: nothing, the
// friendly name lives in the ghost's own name and the contact snapshot.
// (Rows written by older versions may hold a "friendly_name" that is
// ignored.)
type GhostMetadata struct{}

// MessageMetadata is the connector's data of one message.
type MessageMetadata struct {
	// Snippet is the start of the message text, quoted when a Matrix user
	// replies to it (MSN has no replies; in encrypted rooms the bridge
	// cannot read the replied-to event from the homeserver).
	Snippet string `json:"snippet,omitempty"`
}

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
