package msnclient

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

func TestTransferToSwitchboard(t *testing.T) {
	srv, err := msntest.Start(msntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.AddAccount("alice@example.com", "pw", "Alice"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := NewClient(Config{}, nil)
	if _, _, err := c.transferToSwitchboard(ctx); !errors.Is(err, ErrNotConnected) {
		t.Errorf("before login: %v", err)
	}
	for _, v := range []int{8, 13, 18} {
		base := srv.HTTPURL()
		c := NewClient(Config{
			Email: "alice@example.com", Password: "pw", Server: srv.NSAddr(), Versions: []int{v},
			LoginURL: base + "/login", RSTURL: base + "/RST.srf", RST2URL: base + "/RST2.srf",
			ABServiceURL: base + "/abservice/abservice.asmx", SharingServiceURL: base + "/abservice/SharingService.asmx",
			AllowPlainHTTP: true,
		}, nil)
		if err := c.Connect(ctx); err != nil {
			t.Fatalf("MSNP%d: %v", v, err)
		}
		addr, cookie, err := c.transferToSwitchboard(ctx)
		if err != nil || addr != srv.SBAddr() || cookie == "" || strings.Contains(cookie, " ") {
			t.Errorf("MSNP%d: got %q %q %v", v, addr, cookie, err)
		}
		srv.FailNext("XFR", 913)
		_, _, err = c.transferToSwitchboard(ctx)
		if !errors.Is(err, &msnp.ServerError{Code: 913}) {
			t.Errorf("MSNP%d: refused XFR: %v", v, err)
		}
		if v := c.dialect(); v == nil || v.sbMPOP != (v.version >= 16) {
			t.Errorf("dialect() = %+v", v)
		}
		_ = c.Close()
	}
}
