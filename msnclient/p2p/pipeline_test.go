package p2p

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// pipeServer accepts chunks like a switchboard whose acceptances come
// only when released, recording the order chunks were written in and how
// many awaited acceptance at once.
type pipeServer struct {
	mu          sync.Mutex
	offsets     []uint64
	outstanding int
	most        int
	fail        uint64 // the chunk at this offset is refused (0: none)
}

func (s *pipeServer) start(_ context.Context, _ string, payload []byte) (func() error, error) {
	env, err := ParseEnvelope(payload)
	if err != nil {
		return nil, err
	}
	pkt, err := ParsePacket(env.Body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.offsets = append(s.offsets, pkt.Offset)
	s.outstanding++
	s.most = max(s.most, s.outstanding)
	s.mu.Unlock()
	off := pkt.Offset
	return func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.outstanding--
		if s.fail != 0 && off == s.fail {
			return errors.New("NAK")
		}
		return nil
	}, nil
}

// TestPipelinedChunks: with Start, the chunks of a message are written in
// order without waiting for each to be accepted, at most Window awaiting
// acceptance at once; a chunk the server refuses fails the message.
func TestPipelinedChunks(t *testing.T) {
	srv := &pipeServer{}
	m := NewManager(Config{Self: me, ChunkSize: 100, Window: 4, Start: srv.start,
		Send: func(context.Context, string, []byte) error { t.Error("Send used with Start set"); return nil }})
	defer m.Stop()
	data := make([]byte, 1000)
	if err := m.sendMessage(context.Background(), buddy, 7, FlagFileData, AppIDFile, data, false); err != nil {
		t.Fatal(err)
	}
	if len(srv.offsets) != 10 || srv.most != 4 || srv.outstanding != 0 {
		t.Fatalf("chunks at %v, at most %d awaiting acceptance, %d left", srv.offsets, srv.most, srv.outstanding)
	}
	for i, off := range srv.offsets {
		if off != uint64(i*100) {
			t.Fatalf("chunks written out of order: %v", srv.offsets)
		}
	}
	srv.offsets, srv.most, srv.fail = nil, 0, 300
	err := m.sendMessage(context.Background(), buddy, 7, FlagFileData, AppIDFile, data, false)
	if err == nil || len(srv.offsets) > 300/100+4 {
		t.Fatalf("refused chunk: %v after %d chunks written", err, len(srv.offsets))
	}
}
