package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// errHelp is returned after -h printed the usage.
var errHelp = errors.New("help requested")

// options are the command-line settings shared by every mode.
type options struct {
	server, nexus, login, rst, rst2, abservice, sharing, httpBase string
	versions                                                      string
	caFile, email, password                                       string
	picture                                                       string
	timeout                                                       time.Duration
	debug, allowHTTP                                              bool
}

const usageText = `Usage: msncli [flags] <command> [arguments]

Commands:
  login                 log in, print the dialect and the contact list
  send <email> <text>   send one message; exit 0 only when acknowledged
  listen                print one JSON object per event until interrupted
  chat <email>          interactive chat: stdin lines are sent, messages printed
  picture <email> <file>  fetch a contact's display picture over P2P into file

Flags:
`

func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("msncli", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.server, "server", "", "notification server `host:port` (required)")
	fs.StringVar(&o.httpBase, "http-base", "", "base `URL` of an Escargot-style HTTP server; fills in the URLs below with Escargot's paths")
	fs.StringVar(&o.nexus, "nexus", "", "Passport nexus `URL` (MSNP8-14)")
	fs.StringVar(&o.login, "login", "", "Tweener login `URL` (MSNP8-14)")
	fs.StringVar(&o.rst, "rst", "", "RST.srf `URL` (MSNP15-17)")
	fs.StringVar(&o.rst2, "rst2", "", "RST2.srf `URL` (MSNP18)")
	fs.StringVar(&o.abservice, "abservice", "", "address book service `URL` (MSNP13+)")
	fs.StringVar(&o.sharing, "sharing", "", "sharing service `URL` (MSNP13+)")
	fs.StringVar(&o.versions, "versions", "", "dialects to offer, highest first, e.g. `18,15,11` (default: all)")
	fs.StringVar(&o.caFile, "cafile", "", "PEM `file` of extra root CAs for HTTPS")
	fs.BoolVar(&o.allowHTTP, "allow-http", false, "allow plain http:// login URLs (test servers only: the password is sent unencrypted)")
	fs.StringVar(&o.email, "email", "", "account email (required)")
	fs.StringVar(&o.password, "password", "", "account password (default: $MSN_PASSWORD)")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "time limit for logging in and for each message")
	fs.BoolVar(&o.debug, "debug", false, "log protocol details to stderr (secrets are redacted)")
	fs.StringVar(&o.picture, "picture", "", "PNG `file` announced as our display picture and served to contacts who ask")
	return fs
}

// parseArgs parses flags (before or after the command word) and returns the
// command and its arguments.
func parseArgs(args []string, stderr io.Writer) (*options, string, []string, error) {
	o := &options{}
	fs := newFlagSet(o, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, "", nil, errHelp
		}
		return nil, "", nil, err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return nil, "", nil, errors.New("missing command")
	}
	mode := fs.Arg(0)
	// Flags may also follow the command; positional arguments end at "--"
	// or at the first non-flag.
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return nil, "", nil, err
	}
	if o.password == "" {
		o.password = os.Getenv("MSN_PASSWORD")
	}
	return o, mode, fs.Args(), nil
}

// config builds the client configuration.
func (o *options) config(stderr io.Writer) (msnclient.Config, error) {
	var cfg msnclient.Config
	if o.server == "" {
		return cfg, usageError("-server is required")
	}
	if o.email == "" {
		return cfg, usageError("-email is required")
	}
	if o.password == "" {
		return cfg, usageError("-password or $MSN_PASSWORD is required")
	}
	cfg.Server = o.server
	cfg.Email = o.email
	cfg.Password = o.password
	cfg.CAFile = o.caFile
	cfg.AllowPlainHTTP = o.allowHTTP
	cfg.RequestTimeout = o.timeout
	if o.picture != "" {
		data, err := os.ReadFile(o.picture)
		if err != nil {
			return cfg, fmt.Errorf("-picture: %w", err)
		}
		cfg.DisplayPicture = data
	}
	if o.httpBase != "" {
		cfg.UseEscargotURLs(o.httpBase)
	}
	for _, f := range []struct {
		v   string
		dst *string
	}{
		{o.nexus, &cfg.NexusURL}, {o.login, &cfg.LoginURL}, {o.rst, &cfg.RSTURL},
		{o.rst2, &cfg.RST2URL}, {o.abservice, &cfg.ABServiceURL}, {o.sharing, &cfg.SharingServiceURL},
	} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if o.versions != "" {
		for _, s := range strings.Split(o.versions, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || v < 8 || v > 18 {
				return cfg, usageError(fmt.Sprintf("-versions: %q is not a dialect between 8 and 18", s))
			}
			cfg.Versions = append(cfg.Versions, v)
		}
	}
	if o.debug {
		log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
		cfg.Logger = &log
	}
	return cfg, nil
}
