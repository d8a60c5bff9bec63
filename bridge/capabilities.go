package bridge

import (
	"context"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/event"
)

// defaultMaxMessageLength is used when the config leaves max_message_length at 0.
const defaultMaxMessageLength = 7000

// GetCapabilities implements bridgev2.NetworkConnector.
func (c *Connector) GetCapabilities() *bridgev2.NetworkGeneralCapabilities {
	return &bridgev2.NetworkGeneralCapabilities{
		Provisioning: bridgev2.ProvisioningCapabilities{
			ResolveIdentifier: bridgev2.ResolveIdentifierCapabilities{
				CreateDM:    true,
				LookupEmail: true,
				ContactList: true,
			},
			GroupCreation: map[string]bridgev2.GroupTypeCapabilities{
				groupTypeSwitchboard: {
					TypeDescription: "an MSN group conversation (switchboard), which lasts while people are in it",
					Participants:    bridgev2.GroupFieldCapability{Allowed: true, Required: true, MinLength: 2, MaxLength: maxSwitchboardInvitees},
				},
				groupTypeCircle: {
					TypeDescription: "an MSN group (Windows Live group, MSNP18 circle): persistent, people join once they accept",
					Name:            bridgev2.GroupFieldCapability{Allowed: true, MaxLength: maxCircleNameLength},
					Participants:    bridgev2.GroupFieldCapability{Allowed: true, Required: true, MinLength: 1, MaxLength: maxCircleInvitees},
				},
			},
		},
	}
}

// maxMessageLength is the longest message accepted from Matrix.
func (c *Connector) maxMessageLength() int {
	if c.Config.MaxMessageLength > 0 {
		return c.Config.MaxMessageLength
	}
	return defaultMaxMessageLength
}

// roomFeatures describes honestly what an MSN conversation supports: plain
// text with whole-message formatting, replies only as quoted text, typing;
// files to one contact; no edits, reactions, redactions or read receipts.
func (c *Connector) roomFeatures() *event.RoomFeatures {
	return &event.RoomFeatures{
		ID: "net.mautrix-msn.capabilities.2026_12_03",
		Formatting: event.FormattingFeatureMap{
			// MSN formats a whole message at once: uniform formatting is kept,
			// mixed formatting becomes plain text.
			event.FmtBold:                event.CapLevelPartialSupport,
			event.FmtItalic:              event.CapLevelPartialSupport,
			event.FmtUnderline:           event.CapLevelPartialSupport,
			event.FmtStrikethrough:       event.CapLevelPartialSupport,
			event.FmtTextForegroundColor: event.CapLevelPartialSupport,
			event.FmtInlineLink:          event.CapLevelPartialSupport,
		},
		File:                c.fileFeatures(),
		MaxTextLength:       c.maxMessageLength(),
		Reply:               event.CapLevelPartialSupport,
		Thread:              event.CapLevelUnsupported,
		Edit:                event.CapLevelUnsupported,
		Delete:              event.CapLevelUnsupported,
		Reaction:            event.CapLevelUnsupported,
		ReadReceipts:        false,
		TypingNotifications: true,
	}
}

// GetCapabilities implements bridgev2.NetworkAPI.
func (m *MSNClient) GetCapabilities(_ context.Context, portal *bridgev2.Portal) *event.RoomFeatures {
	features := m.connector.roomFeatures()
	if portal != nil && isCirclePortalID(portal.ID) {
		// Circles carry text, typing and nudges, no files.
		features.ID += ".circle"
		features.File = nil
	}
	return features
}
