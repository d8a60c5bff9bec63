package rsi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeRSI answers every request with status and body, recording the last
// request body.
func fakeRSI(t *testing.T, status int, body string, got *string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if got != nil {
			*got = string(b)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{HTTPClient: srv.Client(), URL: srv.URL + "/rsi/rsi.asmx", Ticket: func() string { return "t=0123456789abcdef0123Y6+H&p=prof<" }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func envelope(body string) string {
	return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

func TestClientRequestShape(t *testing.T) {
	var got string
	c := fakeRSI(t, 200, envelope(`<GetMessageResponse xmlns="`+nsRSI+`"><GetMessageResult>`+strings.ReplaceAll(escargotMessage, "<", "&lt;")+`</GetMessageResult></GetMessageResponse>`), &got)
	m, err := c.GetMessage(context.Background(), "8F0A6E2C-5D0B-4C3F-9A53-6B0E0C1D2E3F")
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "Hello Alice, are you there?" {
		t.Errorf("text %q", m.Text)
	}
	// <t> first, without "t=", the p part escaped (oim.md §2.1).
	if !strings.Contains(got, "<PassportCookie xmlns=\""+nsRSI+"\"><t>0123456789abcdef0123Y6+H</t><p>prof&lt;</p></PassportCookie>") {
		t.Errorf("PassportCookie not as Escargot reads it: %s", got)
	}
	if !strings.Contains(got, "<alsoMarkAsRead>false</alsoMarkAsRead>") {
		t.Error("GetMessage must not mark as read")
	}
}

func TestClientMetadataForms(t *testing.T) {
	md := `<MD><M><T>11</T><E>a@b.c</E><I>1</I></M></MD>`
	for name, inner := range map[string]string{"xml": md, "escaped": strings.ReplaceAll(md, "<", "&lt;")} {
		c := fakeRSI(t, 200, envelope(`<GetMetadataResponse xmlns="`+nsRSI+`">`+inner+`</GetMetadataResponse>`), nil)
		list, err := c.GetMetadata(context.Background())
		if err != nil || len(list) != 1 || list[0].ID != "1" {
			t.Errorf("%s: %v, %v", name, list, err)
		}
	}
}

func TestClientErrors(t *testing.T) {
	fault := envelope(`<soap:Fault><faultcode>soap:Client</faultcode><faultstring>bad</faultstring></soap:Fault>`)
	cases := map[string]struct {
		status int
		body   string
		check  func(error) bool
	}{
		"fault":      {500, fault, func(err error) bool { var f *Fault; return errors.As(err, &f) && f.Reason == "bad" }},
		"bare 500":   {500, "", func(err error) bool { var s *StatusError; return errors.As(err, &s) && s.StatusCode == 500 }},
		"html 502":   {502, "<html>oops", func(err error) bool { var s *StatusError; return errors.As(err, &s) }},
		"doctype":    {200, `<!DOCTYPE x [<!ENTITY e "x">]>` + envelope(""), func(err error) bool { return err != nil }},
		"no result":  {200, envelope(`<GetMessageResponse/>`), func(err error) bool { return errors.Is(err, ErrBadMessage) }},
		"bad mime":   {200, envelope(`<GetMessageResponse><GetMessageResult>no headers here</GetMessageResult></GetMessageResponse>`), func(err error) bool { return errors.Is(err, ErrBadMessage) }},
		"huge reply": {200, envelope(strings.Repeat("x", maxBody+10)), func(err error) bool { return err != nil }},
	}
	for name, tc := range cases {
		c := fakeRSI(t, tc.status, tc.body, nil)
		_, err := c.GetMessage(context.Background(), "1")
		if !tc.check(err) {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	}
	c := fakeRSI(t, 200, envelope(""), nil)
	if err := c.DeleteMessages(context.Background(), []string{"ok", "bad id<"}); err == nil {
		t.Error("delete with an invalid id was sent")
	}
	c.cfg.Ticket = func() string { return "" }
	if _, err := c.GetMetadata(context.Background()); !errors.Is(err, ErrNoTicket) {
		t.Errorf("no ticket: %v", err)
	}
}
