package msnclient

import (
	"context"
)

// circleControl is a non-text SDG message kind.
type circleControl int

const (
	circleTyping circleControl = iota
	circleNudge
)

func (c *Client) circleList() []Circle { return nil }

func (c *Client) circleByID(id CircleID) (Circle, bool) { return Circle{}, false }

func (c *Client) circleMembers(ctx context.Context, id CircleID) ([]CircleMember, error) {
	return nil, ErrCirclesUnsupported
}

func (c *Client) sendCircleText(ctx context.Context, id CircleID, msg TextMessage) error {
	return ErrCirclesUnsupported
}

func (c *Client) sendCircleControl(ctx context.Context, id CircleID, kind circleControl) error {
	return ErrCirclesUnsupported
}

func (c *Client) createCircle(ctx context.Context, name string, invite []string) (Circle, error) {
	return Circle{}, ErrCirclesUnsupported
}

func (c *Client) inviteToCircle(ctx context.Context, id CircleID, email, message string) error {
	return ErrCirclesUnsupported
}

func (c *Client) answerCircleInvitation(ctx context.Context, id CircleID, accept bool) error {
	return ErrCirclesUnsupported
}

func (c *Client) leaveCircle(ctx context.Context, id CircleID) error {
	return ErrCirclesUnsupported
}
