package p2p

import (
	"crypto/sha1" //nolint:gosec // SHA-1 is what the MSNObject format specifies
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
)

// MSNObject types.
const (
	ObjectEmoticon       = 2
	ObjectDisplayPicture = 3
	ObjectBackground     = 5
	ObjectWink           = 8
	ObjectVoiceClip      = 11
)

// maxMSNObjectLen bounds the MSNObject text we parse.
const maxMSNObjectLen = 8 << 10

// ErrBadMSNObject is wrapped by every MSNObject parse error.
var ErrBadMSNObject = errors.New("p2p: malformed MSNObject")

// MSNObject describes a display picture, emoticon, wink or other object a
// client serves over P2P.
type MSNObject struct {
	Creator  string // owner's email
	Size     int64
	Type     int
	Location string // the owner's file name, "0" when none
	Friendly string // base64 of the UTF-16LE name and a NUL ("AAA=": none)
	SHA1D    string // base64 SHA-1 of the data
	SHA1C    string // base64 SHA-1 of the other fields (see ComputeSHA1C)
	// Extra attributes (stamp, contenttype, avatarid…) kept in order.
	Extra []xml.Attr

	raw string // the text parsed, sent back as is when requesting the object
}

// wire returns the object as its owner sent it, or String for objects we
// built.
func (o *MSNObject) wire() string {
	if o.raw != "" {
		return o.raw
	}
	return o.String()
}

// ParseMSNObject parses an msnobj element (URL-decoded XML).
func ParseMSNObject(s string) (*MSNObject, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxMSNObjectLen {
		return nil, fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrBadMSNObject, len(s), maxMSNObjectLen)
	}
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = false // real clients are not always careful
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: no msnobj element", ErrBadMSNObject)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadMSNObject, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if !strings.EqualFold(se.Name.Local, "msnobj") {
			return nil, fmt.Errorf("%w: element %q", ErrBadMSNObject, truncate(se.Name.Local, 32))
		}
		o, err := msnObjectFromAttrs(se.Attr)
		if err != nil {
			return nil, err
		}
		o.raw = s
		return o, nil
	}
}

func msnObjectFromAttrs(attrs []xml.Attr) (*MSNObject, error) {
	o := &MSNObject{}
	for _, a := range attrs {
		v := a.Value
		switch a.Name.Local {
		case "Creator":
			o.Creator = v
		case "Size":
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: bad Size %q", ErrBadMSNObject, truncate(v, 32))
			}
			o.Size = n
		case "Type":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("%w: bad Type %q", ErrBadMSNObject, truncate(v, 32))
			}
			o.Type = n
		case "Location":
			o.Location = v
		case "Friendly":
			o.Friendly = v
		case "SHA1D":
			o.SHA1D = v
		case "SHA1C":
			o.SHA1C = v
		default:
			o.Extra = append(o.Extra, a)
		}
	}
	if o.SHA1D == "" {
		return nil, fmt.Errorf("%w: no SHA1D", ErrBadMSNObject)
	}
	if d, err := base64.StdEncoding.DecodeString(o.SHA1D); err != nil || len(d) != sha1.Size {
		return nil, fmt.Errorf("%w: SHA1D %q is not a base64 SHA-1", ErrBadMSNObject, truncate(o.SHA1D, 40))
	}
	return o, nil
}

// NewMSNObject describes data owned by creator, with its SHA1D and SHA1C.
func NewMSNObject(creator string, typ int, data []byte, location, friendly string) *MSNObject {
	if location == "" {
		location = "0"
	}
	o := &MSNObject{
		Creator:  creator,
		Size:     int64(len(data)),
		Type:     typ,
		Location: location,
		Friendly: EncodeFriendly(friendly),
		SHA1D:    SHA1D(data),
	}
	o.SHA1C = o.ComputeSHA1C()
	return o
}

// SHA1D returns the base64 SHA-1 of data, as in an MSNObject.
func SHA1D(data []byte) string {
	sum := sha1.Sum(data) //nolint:gosec // format-defined checksum
	return base64.StdEncoding.EncodeToString(sum[:])
}

// ComputeSHA1C returns the checksum of the object's fields: the base64 SHA-1
// of "Creator…Size…Type…Location…Friendly…SHA1D…" with each value as it
// appears in the XML.
func (o *MSNObject) ComputeSHA1C() string {
	s := "Creator" + o.Creator + "Size" + strconv.FormatInt(o.Size, 10) + "Type" + strconv.Itoa(o.Type) +
		"Location" + o.Location + "Friendly" + o.Friendly + "SHA1D" + o.SHA1D
	sum := sha1.Sum([]byte(s)) //nolint:gosec // format-defined checksum
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Verify reports whether data is the object's data (SHA1D matches and,
// when Size is given, the size too).
func (o *MSNObject) Verify(data []byte) error {
	if o.Size > 0 && int64(len(data)) != o.Size {
		return fmt.Errorf("p2p: got %d bytes, the MSNObject announced %d", len(data), o.Size)
	}
	if got := SHA1D(data); got != o.SHA1D {
		return fmt.Errorf("p2p: SHA1D mismatch: data hashes to %s, the MSNObject says %s", got, o.SHA1D)
	}
	return nil
}

// String returns the msnobj element with the attributes in the order real
// clients send them.
func (o *MSNObject) String() string {
	var b strings.Builder
	b.WriteString("<msnobj")
	attr := func(name, value string) {
		b.WriteString(" " + name + "=\"" + html.EscapeString(value) + "\"")
	}
	attr("Creator", o.Creator)
	attr("Size", strconv.FormatInt(o.Size, 10))
	attr("Type", strconv.Itoa(o.Type))
	attr("Location", o.Location)
	attr("Friendly", o.Friendly)
	attr("SHA1D", o.SHA1D)
	if o.SHA1C != "" {
		attr("SHA1C", o.SHA1C)
	}
	for _, a := range o.Extra {
		if a.Name.Space == "" && validAttrName(a.Name.Local) {
			attr(a.Name.Local, a.Value)
		}
	}
	b.WriteString("/>")
	return b.String()
}

func validAttrName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// EncodeFriendly returns the Friendly attribute of a name: base64 of its
// UTF-16LE code units and a NUL.
func EncodeFriendly(name string) string {
	units := utf16.Encode([]rune(name))
	b := make([]byte, 0, 2*len(units)+2)
	for _, u := range append(units, 0) {
		b = append(b, byte(u), byte(u>>8))
	}
	return base64.StdEncoding.EncodeToString(b)
}
