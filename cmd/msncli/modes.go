package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// login logs in, prints the dialect and the contact list, and signs out.
func (a *app) login(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return usageError("login takes no arguments")
	}
	c, err := a.connect(ctx, func(any) {})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(a.stdout, "Logged in as %s with MSNP%d\n", c.Email(), c.Version())
	contacts := c.Contacts()
	sort.Slice(contacts, func(i, j int) bool { return contacts[i].Email < contacts[j].Email })
	fmt.Fprintf(a.stdout, "%d contacts\n", len(contacts))
	tw := tabwriter.NewWriter(a.stdout, 2, 8, 2, ' ', 0)
	for _, ct := range contacts {
		status := ct.Status
		if status == "" {
			status = msnclient.StatusOffline
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ct.Email, status, listNames(ct.Lists), ct.FriendlyName)
	}
	return tw.Flush()
}

func listNames(l msnclient.Lists) string {
	var names []string
	for _, x := range []struct {
		bit  msnclient.Lists
		name string
	}{{msnclient.ListForward, "FL"}, {msnclient.ListAllow, "AL"}, {msnclient.ListBlock, "BL"}, {msnclient.ListReverse, "RL"}, {msnclient.ListPending, "PL"}} {
		if l&x.bit != 0 {
			names = append(names, x.name)
		}
	}
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ",")
}

// send sends one message and succeeds only when it was acknowledged.
func (a *app) send(ctx context.Context, args []string) error {
	if len(args) < 2 {
		return usageError("usage: msncli send <email> <text>")
	}
	to, text := args[0], strings.Join(args[1:], " ")
	c, err := a.connect(ctx, func(any) {})
	if err != nil {
		return err
	}
	defer c.Close()
	sctx, cancel := context.WithTimeout(ctx, a.opts.timeout)
	defer cancel()
	if err := c.Conversation(to).SendText(sctx, msnclient.TextMessage{Text: text}); err != nil {
		return fmt.Errorf("message to %s not delivered: %w", to, err)
	}
	fmt.Fprintf(a.stdout, "Message to %s acknowledged\n", to)
	return nil
}

// listen prints every event as a JSON line until interrupted or
// disconnected.
func (a *app) listen(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return usageError("listen takes no arguments")
	}
	p := newJSONPrinter(a.stdout)
	lost := make(chan *msnclient.Disconnected, 1)
	c, err := a.connect(ctx, func(evt any) {
		p.print(evt)
		if d, ok := evt.(*msnclient.Disconnected); ok {
			select {
			case lost <- d:
			default:
			}
		}
	})
	if err != nil {
		return err
	}
	defer c.Close()
	select {
	case <-ctx.Done():
		return nil
	case d := <-lost:
		return fmt.Errorf("disconnected: %v", d.Err)
	}
}

// chat is an interactive conversation with one contact.
func (a *app) chat(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return usageError("usage: msncli chat <email>")
	}
	peer := strings.ToLower(args[0])
	var mu sync.Mutex
	printf := func(format string, v ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(a.stdout, format, v...)
	}
	lost := make(chan error, 1)
	c, err := a.connect(ctx, func(evt any) {
		switch e := evt.(type) {
		case *msnclient.MessageReceived:
			if e.FromSelf {
				printf("[me, elsewhere] %s\n", e.Message.Text)
			} else {
				printf("<%s> %s\n", e.From, e.Message.Text)
			}
		case *msnclient.Nudge:
			printf("* %s sent a nudge\n", e.From)
		case *msnclient.ParticipantJoined:
			printf("* %s joined\n", e.Email)
		case *msnclient.ParticipantLeft:
			printf("* %s left\n", e.Email)
		case *msnclient.ContactPresence:
			if e.Email == peer {
				printf("* %s is now %s\n", e.Email, e.Status)
			}
		case *msnclient.Disconnected:
			select {
			case lost <- fmt.Errorf("disconnected: %v", e.Err):
			default:
			}
		}
	})
	if err != nil {
		return err
	}
	defer c.Close()
	printf("* chatting with %s; type a line and press Enter, /nudge to nudge, Ctrl-D to quit\n", peer)
	conv := c.Conversation(peer)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(a.stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-lost:
			return err
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, a.opts.timeout)
			if line == "/nudge" {
				err = conv.SendNudge(sctx)
			} else {
				err = conv.SendText(sctx, msnclient.TextMessage{Text: line})
			}
			cancel()
			if err != nil {
				printf("! not delivered: %v\n", err)
			}
		}
	}
}

// picture fetches a contact's display picture over P2P (through a
// switchboard) and writes it to a file.
func (a *app) picture(ctx context.Context, args []string) error {
	if len(args) != 2 {
		return usageError("usage: msncli picture <email> <file>")
	}
	who, file := strings.ToLower(args[0]), args[1]
	objects := make(chan string, 16)
	c, err := a.connect(ctx, func(evt any) {
		if p, ok := evt.(*msnclient.ContactPresence); ok && p.Email == who && p.MSNObject != "" {
			select {
			case objects <- p.MSNObject:
			default:
			}
		}
	})
	if err != nil {
		return err
	}
	defer c.Close()
	fctx, cancel := context.WithTimeout(ctx, a.opts.timeout)
	defer cancel()
	// The contact's presence may come just after the login.
	obj := ""
	if ct, ok := c.Contact(who); ok {
		obj = ct.MSNObject
	}
	if obj == "" {
		select {
		case obj = <-objects:
		case <-time.After(min(a.opts.timeout, 10*time.Second)):
			return fmt.Errorf("%s is not an online contact with a display picture", who)
		case <-fctx.Done():
			return fctx.Err()
		}
	}
	data, err := c.FetchDisplayPicture(fctx, who, obj)
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	fmt.Fprintf(a.stdout, "Display picture of %s: %d bytes written to %s\n", who, len(data), file)
	return nil
}
