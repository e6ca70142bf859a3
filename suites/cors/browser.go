package cors

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/pace"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/webapp"
)

// pageScript is what the browser application does, as auth0-spa-js's myAccount
// client does it: it starts a passkey enrollment with fetch and the user's token
// (with the SDK's Auth0-Client header), reads the 202's Location, then lists the
// methods. Chromium decides what CORS lets it read: a refused answer is a
// TypeError, and the console says why.
const pageScript = `(async () => {
  const api = %s, token = %s, out = {};
  const client = btoa(JSON.stringify({name: "myaccount-conformance", version: "1"}));
  const call = (method, path, body) => {
    const init = {method, headers: {"Authorization": "Bearer " + token, "Auth0-Client": client}};
    if (body) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(api + path, init);
  };
  try {
    const r = await call("POST", "/authentication-methods", {type: "passkey"});
    const b = await r.json().catch(() => ({}));
    out.start = {status: r.status, location: r.headers.get("Location") || "", session: !!b.auth_session};
  } catch (e) { out.start = {error: String(e)}; }
  try {
    const r = await call("GET", "/authentication-methods");
    const b = await r.json().catch(() => ({}));
    out.list = {status: r.status, count: (b.authentication_methods || []).length};
  } catch (e) { out.list = {error: String(e)}; }
  return out;
})()`

// pageResult is what the page's script saw.
type pageResult struct {
	Start struct {
		Status   int    `json:"status"`
		Location string `json:"location"`
		Session  bool   `json:"session"`
		Error    string `json:"error"`
	} `json:"start"`
	List struct {
		Status int    `json:"status"`
		Count  int    `json:"count"`
		Error  string `json:"error"`
	} `json:"list"`
}

// The real judge: headless Chromium loads a page of the allowed origin (served by
// the suite on loopback, its host mapped there) whose script calls the API.
var _ = framework.AreaOf("cors", "browser").Describe("CORS in headless Chromium: a page of the allowed origin calls the API with fetch", Ordered, ContinueOnFailure, func() {
	var (
		res     pageResult
		console string
	)
	BeforeAll(func(ctx SpecContext) {
		origin := requireOrigin()
		host := framework.RequireCustomDomain()
		if framework.F.Target.DPoPFor("native") == config.DPoPRequired {
			Skip("the user's tokens must be DPoP-bound (dpop: required), and the page makes no DPoP proofs")
		}
		app, err := webapp.Start(ctx, framework.F.Target, origin)
		if errors.Is(err, login.ErrNoChromium) {
			if os.Getenv("CI") == "true" {
				Fail("the browser specs are mandatory in CI: " + err.Error())
			}
			Skip("browser specs skipped: " + err.Error())
		}
		Expect(err).NotTo(HaveOccurred(), "starting the browser application at %s", origin)
		DeferCleanup(app.Close)

		u := framework.NewUser(ctx)
		token := u.Signup.AccessToken
		// The page's requests go around the client: wait for the user's budget here.
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			Expect(framework.F.Client.Pacer.MyAccount(ctx, pace.UserKey(token), method, nil)).To(Succeed())
		}
		api, _ := json.Marshal(config.MeURL(host, ""))
		tok, _ := json.Marshal(token)
		lines, err := app.Run(ctx, fmt.Sprintf(pageScript, api, tok), &res, time.Duration(framework.F.Target.Login.Timeout))
		console = framework.F.Redactor.Text(strings.Join(lines, "\n"))
		AddReportEntry("the page's console", console, ReportEntryVisibilityFailureOrVerbose)
		Expect(err).NotTo(HaveOccurred(), "running the page's script; console:\n%s", console)
	})

	It("lets the page start a passkey enrollment and list the methods: the browser lets it read both answers", framework.Req("MA-CORS-007"), func() {
		var failures []string
		switch s := res.Start; {
		case s.Error != "":
			failures = append(failures, "POST /me/v1/authentication-methods: the browser kept the answer from the page: "+s.Error)
		case s.Status != http.StatusAccepted || !s.Session:
			failures = append(failures, fmt.Sprintf("POST /me/v1/authentication-methods answered %d (auth_session read: %v), want 202 with an auth_session", s.Status, s.Session))
		}
		switch l := res.List; {
		case l.Error != "":
			failures = append(failures, "GET /me/v1/authentication-methods: the browser kept the answer from the page: "+l.Error)
		case l.Status != http.StatusOK || l.Count == 0:
			failures = append(failures, fmt.Sprintf("GET /me/v1/authentication-methods answered %d listing %d methods, want 200 and the user's passkey", l.Status, l.Count))
		}
		if len(failures) > 0 {
			failures = append(failures, "the browser's console:\n"+console)
		}
		framework.ExpectNoFailures(failures)
	})

	It("lets the page read the Location of the enrollment's 202, as the vendor's browser SDK does", framework.Req("MA-CORS-008"), func() {
		s := res.Start
		if s.Error != "" {
			Fail("the browser kept the whole answer from the page (see MA-CORS-007): " + s.Error + "\nconsole:\n" + console)
		}
		Expect(s.Location).To(ContainSubstring("/authentication-methods/"),
			"the page read no Location of the 202 (status %d): a browser shows a script only the headers Access-Control-Expose-Headers lists", s.Status)
	})
})
