package msnclient

import (
	"strconv"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// defaultPingInterval is used until the server tells another one in QNG.
const defaultPingInterval = 50 * time.Second

// pingInterval returns the interval to the next PNG: the configured one, else
// the server's QNG value, else the default; always well below DeadTimeout so
// that a healthy idle connection is never taken for dead.
func (s *session) pingInterval() time.Duration {
	d := s.c.cfg.PingInterval
	if d <= 0 {
		s.mu.Lock()
		d = s.interval
		s.mu.Unlock()
	}
	if d <= 0 {
		d = defaultPingInterval
	}
	if limit := s.c.cfg.DeadTimeout * 2 / 3; d > limit {
		d = limit
	}
	return d
}

// startKeepalive schedules the first PNG. A timer, not a goroutine, keeps
// idle clients cheap; dead connections are detected by the read deadline.
func (s *session) startKeepalive() {
	d := s.pingInterval()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ping = time.AfterFunc(d, s.sendPing)
}

func (s *session) sendPing() {
	if err := s.conn.write(msnp.New("PNG")); err != nil {
		s.c.log.Debug().Err(err).Msg("Failed to send PNG")
		return
	}
	d := s.pingInterval()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ping.Reset(d)
	}
}

// handleQNG records the server's requested ping interval ("QNG 60"; MSNP8
// sends a bare "QNG").
func (s *session) handleQNG(cmd *msnp.Command) {
	n, err := strconv.Atoi(cmd.Arg(0))
	if err != nil || n <= 0 {
		return
	}
	s.mu.Lock()
	s.interval = time.Duration(n) * time.Second
	s.mu.Unlock()
}
