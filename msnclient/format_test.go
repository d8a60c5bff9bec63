package msnclient

import "testing"

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
	}{
		{"FN=Segoe%20UI; EF=; CO=0; CS=1; PF=0", Format{Font: "Segoe UI", Charset: 1}},
		{"FN=Arial; EF=BI; CO=ff; CS=0; PF=22", Format{Font: "Arial", Bold: true, Italic: true, Color: 0xff0000, PitchFamily: 22}},
		{"FN=Arial; EF=US; CO=ff0000; CS=86; PF=0; RL=1", Format{Font: "Arial", Underline: true, Strike: true, Color: 0x0000ff, Charset: 0x86, RightToLeft: true}},
		{"CO=ff00", Format{Color: 0x00ff00}},
		{"CO=123456", Format{Color: 0x563412}},
		{"fn=MS%20Sans%20Serif;ef=b;co=zz;cs=;pf=x", Format{Font: "MS Sans Serif", Bold: true}},
		{"FN=Bad%0D%0AInjected: 1", Format{Font: "Bad  Injected: 1"}},
		{"FN=%ZZ", Format{Font: "%ZZ"}},
		{"", Format{}},
		{";;;=;garbage", Format{}},
	}
	for _, tt := range tests {
		if got := parseFormat(tt.in); got != tt.want {
			t.Errorf("parseFormat(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestFormatHeader(t *testing.T) {
	tests := []struct {
		in   Format
		want string
	}{
		{Format{}, "FN=; EF=; CO=0; CS=0; PF=0"},
		{Format{Font: "Segoe UI", Charset: 1}, "FN=Segoe%20UI; EF=; CO=0; CS=1; PF=0"},
		{Format{Font: "Arial", Bold: true, Italic: true, Underline: true, Strike: true, Color: 0xff0000, PitchFamily: 22}, "FN=Arial; EF=BIUS; CO=ff; CS=0; PF=22"},
		{Format{Color: 0x0000ff, Charset: 0x86, RightToLeft: true}, "FN=; EF=; CO=ff0000; CS=86; PF=0; RL=1"},
		{Format{Font: "x;\r\nCO=1"}, "FN=x%3B%20%20CO=1; EF=; CO=0; CS=0; PF=0"},
	}
	for _, tt := range tests {
		if got := formatHeader(tt.in); got != tt.want {
			t.Errorf("formatHeader(%+v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	formats := []Format{
		{Font: "Comic Sans MS", Bold: true, Color: 0x123456, Charset: 0xCC, PitchFamily: 49},
		{Font: "Ünïcødé 字体 100%", Italic: true, Strike: true, Color: 0xffffff, Charset: 0xFF, RightToLeft: true},
		{Font: "a=b; c", Underline: true, Color: 1},
	}
	for _, f := range formats {
		if got := parseFormat(formatHeader(f)); got != f {
			t.Errorf("round trip of %+v gave %+v (header %q)", f, got, formatHeader(f))
		}
	}
}
