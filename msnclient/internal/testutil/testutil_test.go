package testutil

import (
	"encoding/xml"
	"strings"
	"sync"
	"testing"
)

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var buf SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = buf.Write([]byte("x"))
				_ = buf.String()
			}
		}()
	}
	wg.Wait()
	if got := buf.String(); got != strings.Repeat("x", 800) {
		t.Errorf("got %d bytes, want 800", len(got))
	}
}

func TestWalkXML(t *testing.T) {
	var starts, ends []string
	err := WalkXML([]byte(`<s:Envelope xmlns:s="x"><s:Body><Act a="1"><v>one</v><v>two &amp; more</v></Act></s:Body></s:Envelope>`),
		func(el xml.StartElement, parent string) { starts = append(starts, parent+">"+el.Name.Local) },
		func(local, text string) { ends = append(ends, local+"="+text) })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(starts, " "), ">Envelope Envelope>Body Body>Act Act>v Act>v"; got != want {
		t.Errorf("starts %q, want %q", got, want)
	}
	if got, want := strings.Join(ends, " "), "v=one v=two & more Act= Body= Envelope="; got != want {
		t.Errorf("ends %q, want %q", got, want)
	}
	if err := WalkXML([]byte("<a><b></a>"), nil, nil); err == nil {
		t.Error("malformed XML accepted")
	}
}
