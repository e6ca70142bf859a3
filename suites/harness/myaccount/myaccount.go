// Package myaccount is a typed client of the My Account API over the operations our
// OpenAPI description lists (spec.Operations): it fills path templates, presents
// the session's credential, and keeps track of what it creates so that all of it
// can be deleted afterwards, newest first (csi-sanity's resources.go is the model).
package myaccount

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// Operation IDs of our description (spec/myaccount.yaml), for the typed calls.
const (
	ListFactors            = "listFactors"
	ListMethods            = "listAuthenticationMethods"
	StartEnrollment        = "startAuthenticationMethodEnrollment"
	GetMethod              = "getAuthenticationMethod"
	UpdateMethod           = "updateAuthenticationMethod"
	DeleteMethod           = "deleteAuthenticationMethod"
	VerifyEnrollment       = "verifyAuthenticationMethodEnrollment"
	Connect                = "startAccountConnection"
	Complete               = "completeAccountConnection"
	ListConnectedAccounts  = "listConnectedAccounts"
	ListConnections        = "listConnectableConnections"
	DeleteConnectedAccount = "deleteConnectedAccount"
)

// Client calls the My Account API of one domain as one user.
type Client struct {
	HTTP    *harness.Client
	Host    string
	Session *harness.Session

	mu      sync.Mutex
	created []Resource // oldest first
}

// Resource is something a client created and has not deleted.
type Resource struct {
	Kind string // "authentication method" or "connected account"
	ID   string
}

// Resource kinds.
const (
	KindMethod  = "authentication method"
	KindAccount = "connected account"
)

// New is a client for host's My Account API acting with s.
func New(h *harness.Client, host string, s *harness.Session) *Client {
	return &Client{HTTP: h, Host: host, Session: s}
}

// Call is one call of an operation.
type Call struct {
	// Path fills the operation's path template; values are percent-encoded.
	Path map[string]string
	// URL replaces the filled template when set: a Location as the server gave it.
	URL   string
	Query url.Values
	// Body is sent as JSON; Raw is sent as it is with ContentType ("" = none) instead.
	Body        any
	Raw         []byte
	ContentType string
	Header      http.Header
	// Bearer presents this token instead of the session's; NoAuth sends no
	// Authorization at all.
	Bearer string
	NoAuth bool
	// Deliberate marks a request that breaks the description on purpose.
	Deliberate bool
}

// Request builds the harness request of a call, without sending it.
func (c *Client) Request(opID string, in Call) (*harness.Request, error) {
	op, ok := spec.OperationByID(opID)
	if !ok {
		return nil, fmt.Errorf("myaccount: no operation %q in the description", opID)
	}
	u := in.URL
	if u == "" {
		p, err := op.Fill(in.Path)
		if err != nil {
			return nil, err
		}
		u = config.MeURL(c.Host, p)
	}
	if len(in.Query) > 0 {
		u += "?" + in.Query.Encode()
	}
	r := &harness.Request{Method: op.Method, URL: u, Header: in.Header.Clone(), Deliberate: in.Deliberate}
	switch {
	case in.Raw != nil:
		r.Body = in.Raw
		if in.ContentType != "" {
			if r.Header == nil {
				r.Header = http.Header{}
			}
			r.Header.Set("Content-Type", in.ContentType)
		}
	case in.Body != nil:
		r.JSON = in.Body
	}
	switch {
	case in.NoAuth:
	case in.Bearer != "":
		r.Bearer = in.Bearer
	default:
		r.Session = c.Session
	}
	return r, nil
}

// Do calls an operation and notes what the answer created or deleted.
func (c *Client) Do(ctx context.Context, opID string, in Call) (*harness.Response, error) {
	r, err := c.Request(opID, in)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(ctx, r)
	if err != nil {
		return nil, err
	}
	c.note(opID, in, resp)
	return resp, nil
}

// note keeps the created list in step with what the server said it did.
func (c *Client) note(opID string, in Call, resp *harness.Response) {
	switch {
	case opID == VerifyEnrollment && resp.Status == http.StatusCreated:
		if id, _ := resp.Object()["id"].(string); id != "" {
			c.Track(KindMethod, id)
		}
	case opID == Complete && resp.Status == http.StatusCreated:
		if id, _ := resp.Object()["id"].(string); id != "" {
			c.Track(KindAccount, id)
		}
	case opID == DeleteMethod && resp.Status == http.StatusNoContent:
		c.Forget(KindMethod, c.pathID(in, "authentication_method_id"))
	case opID == DeleteConnectedAccount && resp.Status == http.StatusNoContent:
		c.Forget(KindAccount, c.pathID(in, "id"))
	}
}

// pathID is the id a call named: from Path, or the last segment of its URL.
func (c *Client) pathID(in Call, name string) string {
	if id := in.Path[name]; id != "" {
		return id
	}
	if u, err := url.Parse(in.URL); err == nil {
		seg := u.EscapedPath()[strings.LastIndex(u.EscapedPath(), "/")+1:]
		if id, err := url.PathUnescape(seg); err == nil {
			return id
		}
	}
	return ""
}

// Track notes a resource the client created (by other means than Do's answers).
func (c *Client) Track(kind, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.created, Resource{kind, id}) {
		c.created = append(c.created, Resource{kind, id})
	}
}

// Forget drops a resource that is gone.
func (c *Client) Forget(kind, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.created = slices.DeleteFunc(c.created, func(r Resource) bool { return r == Resource{kind, id} })
}

// ForgetAll forgets everything the client created: for a user whose deletion (the
// Management API's) takes all of it.
func (c *Client) ForgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.created = nil
}

// Created lists what the client created and has not deleted, oldest first.
func (c *Client) Created() []Resource {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.created)
}

// Cleanup deletes what the client created, newest first. A resource already gone
// (404) counts as removed; it returns the resources it could not remove, each with
// why.
func (c *Client) Cleanup(ctx context.Context) []error {
	var left []error
	created := c.Created()
	for i := len(created) - 1; i >= 0; i-- {
		r := created[i]
		op, param := DeleteMethod, "authentication_method_id"
		if r.Kind == KindAccount {
			op, param = DeleteConnectedAccount, "id"
		}
		resp, err := c.Do(ctx, op, Call{Path: map[string]string{param: r.ID}})
		switch {
		case err != nil:
			left = append(left, fmt.Errorf("%s %s: %w", r.Kind, r.ID, err))
		case resp.Status == http.StatusNoContent || resp.Status == http.StatusNotFound:
			c.Forget(r.Kind, r.ID)
		default:
			left = append(left, fmt.Errorf("%s %s: DELETE answered %d", r.Kind, r.ID, resp.Status))
		}
	}
	return left
}

// ErrNoLocation is returned by VerifyURL for an enrollment answered without Location.
var ErrNoLocation = errors.New("the enrollment was answered without a Location header")

// VerifyURL is where an enrollment is verified: the Location it was answered with,
// resolved against the API, plus /verify, as the vendor's SDKs do.
func (c *Client) VerifyURL(location string) (string, error) {
	if location == "" {
		return "", ErrNoLocation
	}
	base, err := url.Parse(config.MeURL(c.Host, "/authentication-methods"))
	if err != nil {
		return "", err
	}
	loc, err := url.Parse(location)
	if err != nil {
		return "", fmt.Errorf("Location %q is not a URL: %w", location, err)
	}
	return strings.TrimSuffix(base.ResolveReference(loc).String(), "/") + "/verify", nil
}

// Typed calls for the common cases.

// Factors lists the factors the user may enroll.
func (c *Client) Factors(ctx context.Context) (*harness.Response, error) {
	return c.Do(ctx, ListFactors, Call{})
}

// Methods lists the user's authentication methods, of one type when typ is set.
func (c *Client) Methods(ctx context.Context, typ string) (*harness.Response, error) {
	in := Call{}
	if typ != "" {
		in.Query = url.Values{"type": {typ}}
	}
	return c.Do(ctx, ListMethods, in)
}

// Method gets one authentication method.
func (c *Client) Method(ctx context.Context, id string) (*harness.Response, error) {
	return c.Do(ctx, GetMethod, Call{Path: map[string]string{"authentication_method_id": id}})
}

// Start starts an enrollment with body.
func (c *Client) Start(ctx context.Context, body any) (*harness.Response, error) {
	return c.Do(ctx, StartEnrollment, Call{Body: body})
}

// Verify finishes the enrollment answered with location.
func (c *Client) Verify(ctx context.Context, location string, body any) (*harness.Response, error) {
	u, err := c.VerifyURL(location)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, VerifyEnrollment, Call{URL: u, Body: body})
}

// Update patches an authentication method.
func (c *Client) Update(ctx context.Context, id string, body any) (*harness.Response, error) {
	return c.Do(ctx, UpdateMethod, Call{Path: map[string]string{"authentication_method_id": id}, Body: body})
}

// Delete deletes an authentication method.
func (c *Client) Delete(ctx context.Context, id string) (*harness.Response, error) {
	return c.Do(ctx, DeleteMethod, Call{Path: map[string]string{"authentication_method_id": id}})
}
