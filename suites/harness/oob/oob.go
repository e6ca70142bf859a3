// Package oob gets the proofs that reach a user out of band: the code an email or
// text message carries, the approval an authenticator app gives when it scans an
// enrollment's barcode, and (on the reference tenant only) a security key or
// platform authenticator enrolled the way Universal Login's MFA enrollment would.
//
// Two sources: the reference tenant's loopback-only hooks (out_of_band.url, see
// fixtures/reftenant/hooks.go), and a command the user provides for a real tenant
// (out_of_band.command), which prints a code or approves a push enrollment.
package oob

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/evidence"
)

// Channels a code goes by.
const (
	Email = "email"
	SMS   = "sms"
	Voice = "voice"
)

// Source delivers out-of-band proofs.
type Source interface {
	// Name says what the source is, for messages.
	Name() string
	// Code is the newest code sent to address over channel.
	Code(ctx context.Context, channel, address string) (string, error)
	// ApprovePush does what the authenticator app does when it scans barcodeURI.
	ApprovePush(ctx context.Context, barcodeURI string) error
	// SeedWebAuthn enrolls a security key (webauthn-roaming) or platform
	// authenticator (webauthn-platform) for the user: answer gets the creation
	// options and returns the attestation. It returns the method the target made.
	// ErrUnsupported when the source cannot (a real tenant enrolls these through
	// Universal Login MFA).
	SeedWebAuthn(ctx context.Context, userID, typ string, answer func(options []byte) ([]byte, error)) (map[string]any, error)
}

// ErrUnsupported says a source cannot deliver this kind of proof.
var ErrUnsupported = errors.New("the out-of-band source cannot do this")

// New is the source the target config names: the command when given, else the
// hooks at url; nil when it names neither.
func New(t *config.Target, c *harness.Client) Source {
	switch {
	case len(t.OutOfBand.Command) > 0:
		return &Command{Argv: t.OutOfBand.Command, Timeout: commandTimeout, Redactor: c.Redactor}
	case t.OutOfBand.URL != "":
		return &Hooks{Base: strings.TrimSuffix(t.OutOfBand.URL, "/"), Client: c}
	}
	return nil
}

// Bounds of waiting for a code: a real mailbox or phone may take a while.
const (
	codePolls      = 20
	codePollEvery  = 500 * time.Millisecond
	commandTimeout = 60 * time.Second
)

// Hooks speaks the reference tenant's hook protocol:
//
//	GET  {Base}/outbox?to=<address>                 → {"messages":[{to, channel, code, sent_at}]}, newest first
//	POST {Base}/push/enroll {"barcode_uri"}         → 204
//	GET  {Base}/webauthn/options?user_id=…          → {auth_session, authn_params_public_key}
//	POST {Base}/webauthn {user_id, type, auth_session, credential} → 201 the method
//
// Requests go through the harness client, so they are recorded (redacted) with the
// spec's other exchanges; they are not part of the API description.
type Hooks struct {
	Base   string
	Client *harness.Client
	// Polls and Every bound waiting for a code (defaults 20 and 500 ms).
	Polls int
	Every time.Duration
}

// Name implements Source.
func (h *Hooks) Name() string { return "the hooks at " + h.Base }

// do sends a hook request; the hooks are not part of the API description.
func (h *Hooks) do(ctx context.Context, r *harness.Request) (*harness.Response, error) {
	r.Deliberate = true
	return h.Client.Do(ctx, r)
}

// Code implements Source: it polls the outbox, a bounded number of times.
func (h *Hooks) Code(ctx context.Context, channel, address string) (string, error) {
	u := h.Base + "/outbox?" + url.Values{"to": {address}}.Encode()
	polls, every := cmp.Or(h.Polls, codePolls), cmp.Or(h.Every, codePollEvery)
	for i := 0; ; i++ {
		resp, err := h.do(ctx, &harness.Request{Method: http.MethodGet, URL: u})
		if err != nil {
			return "", err
		}
		if resp.Status != http.StatusOK {
			return "", fmt.Errorf("GET %s/outbox answered %d: %.200s", h.Base, resp.Status, resp.Body)
		}
		var out struct {
			Messages []struct {
				Channel string `json:"channel"`
				Code    string `json:"code"`
			} `json:"messages"`
		}
		if err := resp.JSON(&out); err != nil {
			return "", err
		}
		for _, m := range out.Messages {
			if m.Channel == channel && m.Code != "" {
				h.Client.Redactor.Add(m.Code, "OTP_CODE")
				return m.Code, nil
			}
		}
		if i+1 == polls {
			return "", fmt.Errorf("no %s code reached %s within %s", channel, address, time.Duration(polls)*every)
		}
		if err := sleep(ctx, every); err != nil {
			return "", err
		}
	}
}

// ApprovePush implements Source.
func (h *Hooks) ApprovePush(ctx context.Context, barcodeURI string) error {
	resp, err := h.do(ctx, &harness.Request{Method: http.MethodPost, URL: h.Base + "/push/enroll", JSON: map[string]string{"barcode_uri": barcodeURI}})
	if err != nil {
		return err
	}
	if resp.Status != http.StatusNoContent {
		return fmt.Errorf("POST %s/push/enroll answered %d: %.200s", h.Base, resp.Status, resp.Body)
	}
	return nil
}

// SeedWebAuthn implements Source.
func (h *Hooks) SeedWebAuthn(ctx context.Context, userID, typ string, answer func([]byte) ([]byte, error)) (map[string]any, error) {
	resp, err := h.do(ctx, &harness.Request{Method: http.MethodGet, URL: h.Base + "/webauthn/options?" + url.Values{"user_id": {userID}}.Encode()})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("GET %s/webauthn/options answered %d: %.200s", h.Base, resp.Status, resp.Body)
	}
	var c struct {
		AuthSession string          `json:"auth_session"`
		Options     json.RawMessage `json:"authn_params_public_key"`
	}
	if err := resp.JSON(&c); err != nil {
		return nil, err
	}
	att, err := answer(c.Options)
	if err != nil {
		return nil, err
	}
	resp, err = h.do(ctx, &harness.Request{Method: http.MethodPost, URL: h.Base + "/webauthn", JSON: map[string]any{
		"user_id": userID, "type": typ, "auth_session": c.AuthSession, "credential": json.RawMessage(att),
	}})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusCreated {
		return nil, fmt.Errorf("POST %s/webauthn answered %d: %.200s", h.Base, resp.Status, resp.Body)
	}
	return resp.Object(), nil
}

// Command runs the user's command: {action} (code | push-approve), {channel},
// {address} and {barcode_uri} in its argv are replaced. For code it prints the
// code on a line of its own (the first non-empty line counts); for push-approve it
// exits 0 once the app has enrolled.
type Command struct {
	Argv     []string
	Timeout  time.Duration
	Redactor *evidence.Redactor
}

// Name implements Source.
func (c *Command) Name() string { return "out_of_band.command" }

// Command actions.
const (
	ActionCode        = "code"
	ActionPushApprove = "push-approve"
)

func (c *Command) run(ctx context.Context, vars map[string]string) (string, error) {
	if len(c.Argv) == 0 {
		return "", errors.New("out_of_band.command is empty")
	}
	argv := make([]string, len(c.Argv))
	for i, a := range c.Argv {
		for k, v := range vars {
			a = strings.ReplaceAll(a, "{"+k+"}", v)
		}
		argv[i] = a
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return "", fmt.Errorf("out_of_band.command (%s) failed: %v: %s", vars["action"], err, msg)
	}
	return stdout.String(), nil
}

// Code implements Source.
func (c *Command) Code(ctx context.Context, channel, address string) (string, error) {
	out, err := c.run(ctx, map[string]string{"action": ActionCode, "channel": channel, "address": address, "barcode_uri": ""})
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if code := strings.TrimSpace(sc.Text()); code != "" {
			if c.Redactor != nil {
				c.Redactor.Add(code, "OTP_CODE")
			}
			return code, nil
		}
	}
	return "", fmt.Errorf("out_of_band.command printed no code for %s %s", channel, address)
}

// ApprovePush implements Source.
func (c *Command) ApprovePush(ctx context.Context, barcodeURI string) error {
	_, err := c.run(ctx, map[string]string{"action": ActionPushApprove, "channel": "", "address": "", "barcode_uri": barcodeURI})
	return err
}

// SeedWebAuthn implements Source: a real tenant enrolls security keys through
// Universal Login MFA, which a command cannot stand in for.
func (c *Command) SeedWebAuthn(context.Context, string, string, func([]byte) ([]byte, error)) (map[string]any, error) {
	return nil, ErrUnsupported
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
