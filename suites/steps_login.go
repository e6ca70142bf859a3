package suites

// Universal Login: authorization requests through the configured driver, and the token requests after them.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// requireLoginConfig skips without a code-flow client and a password user.
func requireLoginConfig() {
	GinkgoHelper()
	if len(F.Target.LoginClients()) == 0 {
		Skip("the target config has no clients.spa or clients.web: the authorization code flow needs one")
	}
	if F.Target.User.Username == "" {
		Skip("the target config has no user (username and password) to log in with")
	}
	F.Redactor.Add(F.Target.User.Password, "PASSWORD")
	F.Redactor.Add(F.Target.Clients.Web.ClientSecret, "CLIENT_SECRET")
}

// loginHost is where the login specs log in: the custom domain if any.
func loginHost() string {
	if F.Target.CustomDomain != "" {
		return F.Target.CustomDomain
	}
	return F.Target.Domain
}

func publicClient() harness.NamedClient {
	GinkgoHelper()
	for _, c := range F.Target.LoginClients() {
		if c.Public {
			return c
		}
	}
	Skip("needs clients.spa (a public client with PKCE) in the target config")
	return harness.NamedClient{}
}

func confidentialClient() harness.NamedClient {
	GinkgoHelper()
	for _, c := range F.Target.LoginClients() {
		if !c.Public {
			return c
		}
	}
	Skip("needs clients.web (a confidential client) in the target config")
	return harness.NamedClient{}
}

// loginDriver starts a driver for the container and closes it after. A browser that
// is missing skips locally and fails in CI (CI=true), where it is mandatory.
func loginDriver(ctx context.Context, name string) login.Driver {
	GinkgoHelper()
	var (
		d   login.Driver
		err error
	)
	if name == harness.DriverBrowser {
		d, err = login.NewBrowserDriver(ctx, F.Target)
		if errors.Is(err, login.ErrNoChromium) {
			if os.Getenv("CI") == "true" {
				Fail("the browser specs are mandatory in CI: " + err.Error())
			}
			Skip("browser specs skipped: " + err.Error())
		}
	} else {
		d, err = login.New(ctx, F)
	}
	Expect(err).NotTo(HaveOccurred(), "starting the %s login driver", name)
	DeferCleanup(d.Close)
	return d
}

func userAs() login.As {
	return login.As{Username: F.Target.User.Username, Password: F.Target.User.Password}
}

// newAuth is an authorization request; confidential clients send no PKCE, so the
// secret alone is tested.
func newAuth(host string, c harness.NamedClient, scopes ...string) login.Request {
	a := login.NewRequest(host, c, scopes...)
	if !c.Public {
		a.Verifier = ""
	}
	return a
}

// codeLogin logs the password user in and returns the callback, which must carry a
// code and the request's state.
func codeLogin(ctx context.Context, d login.Driver, a login.Request) login.Callback {
	GinkgoHelper()
	u, err := d.Login(ctx, a.URL(), a.Client.RedirectURI, userAs())
	if err != nil {
		var ue *harness.UnreachableError
		if errors.As(err, &ue) {
			Fail(verdict.InconclusivePrefix + ue.Error())
		}
		Fail("the login through the " + d.Name() + " driver failed: " + F.Redactor.Text(err.Error()))
	}
	return checkCallback(u, a)
}

func checkCallback(u string, a login.Request) login.Callback {
	GinkgoHelper()
	cb, err := login.ParseCallback(u)
	Expect(err).NotTo(HaveOccurred())
	Expect(cb.Error).To(BeEmpty(), "the login ended with error=%s: %s", cb.Error, cb.ErrorDesc)
	Expect(cb.Code).NotTo(BeEmpty(), "the callback %s carries no code", F.Redactor.Text(u))
	Expect(cb.State).To(Equal(a.State), "the callback's state differs from the request's")
	F.Redactor.Add(cb.Code, "CODE")
	return cb
}

// redeem sends the authorization_code grant; set replaces parameters (nil removes one)
// and mods change the request (a DPoP proof).
func redeem(ctx context.Context, a login.Request, code string, asJSON bool, set url.Values, mods ...func(*harness.Request)) *harness.Response {
	GinkgoHelper()
	p := url.Values{
		"grant_type": {"authorization_code"}, "client_id": {a.Client.ClientID},
		"code": {code}, "redirect_uri": {a.Client.RedirectURI},
	}
	if a.Verifier != "" {
		p.Set("code_verifier", a.Verifier)
	}
	if a.Client.ClientSecret != "" {
		p.Set("client_secret", a.Client.ClientSecret)
	}
	for k, v := range set {
		if v == nil {
			p.Del(k)
		} else {
			p[k] = v
		}
	}
	return tokenRequest(ctx, a.Host, p, asJSON, mods...)
}

func refresh(ctx context.Context, host string, c harness.NamedClient, rt string, mods ...func(*harness.Request)) *harness.Response {
	GinkgoHelper()
	p := url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ClientID}, "refresh_token": {rt}}
	if c.ClientSecret != "" {
		p.Set("client_secret", c.ClientSecret)
	}
	return tokenRequest(ctx, host, p, false, mods...)
}

func tokenRequest(ctx context.Context, host string, p url.Values, asJSON bool, mods ...func(*harness.Request)) *harness.Response {
	GinkgoHelper()
	r := &harness.Request{Method: http.MethodPost, URL: F.Target.BaseURL(host) + "/oauth/token"}
	if asJSON {
		m := map[string]string{}
		for k := range p {
			m[k] = p.Get(k)
		}
		r.JSON = m
	} else {
		r.Form = p
	}
	for _, m := range mods {
		m(r)
	}
	return send(ctx, r)
}

// tokensOf expects a successful token response.
func tokensOf(resp *harness.Response) harness.Tokens {
	GinkgoHelper()
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /oauth/token")
	var t harness.Tokens
	Expect(resp.JSON(&t)).To(Succeed())
	Expect(t.AccessToken).NotTo(BeEmpty(), "access_token")
	expectTokenType(resp, t)
	return t
}
