package cors

// Steps of the cors area: preflights as a browser sends them, a cheap real request
// of each operation from an origin, users lent by what is left of their per-user
// budget, and the judges of the CORS headers.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/catalogue"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// sdkHeaders are the request headers of the vendor's browser SDK (auth0-spa-js):
// the token, the JSON body, a DPoP proof, and its Auth0-Client telemetry.
var sdkHeaders = []string{"authorization", "content-type", "dpop", "auth0-client"}

// exposed are the answer headers the SDK's myAccount client reads (an
// enrollment's Location, DPoP's WWW-Authenticate and DPoP-Nonce) and those a
// browser application needs to keep to the rate limits.
var exposed = []string{"location", "www-authenticate", "dpop-nonce", "retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}

// Placeholder ids for requests that need not find anything: well-formed ids that
// belong to no one (a DELETE of one changes nothing).
const (
	noMethodID  = "passkey|dev_000000000000000000000000"
	noAccountID = "cac_cors00000000000000000000"
)

// requireOrigin is the configured browser application's origin; it skips without.
func requireOrigin() string {
	GinkgoHelper()
	o := framework.F.Target.CORS.Origin
	if o == "" {
		Skip("the target config has no cors.origin (an origin in the browser client's Allowed Origins (CORS)): the cors specs need one")
	}
	return o
}

// preflight sends the preflight a browser sends before op from origin to host.
func preflight(ctx context.Context, op spec.Operation, host, origin string) *harness.Response {
	GinkgoHelper()
	path, err := op.Fill(placeholders(op))
	Expect(err).NotTo(HaveOccurred())
	h := http.Header{}
	h.Set("Origin", origin)
	h.Set("Access-Control-Request-Method", op.Method)
	h.Set("Access-Control-Request-Headers", strings.Join(sdkHeaders, ","))
	// No operation of the description: the answer is not validated against it. Not
	// paced: a preflight carries no token, so no user's bucket counts it, and the
	// reference's limits count none (an API that counted them at the tenant would
	// meet a few dozen in a run, within the 20% the pacer leaves).
	return framework.Deliver(framework.F.Client.Do(ctx, &harness.Request{Method: http.MethodOptions, URL: config.MeURL(host, path), Header: h, Deliberate: true, Paced: true}))
}

// placeholders fill op's path with ids that belong to no one.
func placeholders(op spec.Operation) map[string]string {
	out := map[string]string{}
	for _, p := range op.PathParams {
		switch p.Name {
		case "authentication_method_id":
			out[p.Name] = noMethodID
		case "id":
			out[p.Name] = noAccountID
		default:
			out[p.Name] = "cors"
		}
	}
	if strings.HasSuffix(op.Path, "/verify") {
		out["authentication_method_id"] = "passkey|new"
	}
	return out
}

// corsUser is a user of the area with its client and the passkey it signed up with.
type corsUser struct {
	*framework.User
	c        *myaccount.Client
	methodID string
}

// newPool lends users with budget left, signing up new ones: a passkey signup, a
// session with every scope of the served operations, one read for its passkey's id.
func newPool(host string) *framework.Pool[*corsUser] {
	var scopes []string
	ops, _ := spec.Operations()
	for _, o := range ops {
		if !o.Planned() && !slices.Contains(scopes, o.Scope()) {
			scopes = append(scopes, o.Scope())
		}
	}
	return framework.NewPool(func(ctx context.Context) (*corsUser, framework.Budget) {
		GinkgoHelper()
		u := &corsUser{User: framework.NewUser(ctx)}
		u.c = myaccount.New(framework.F.Client, host, u.Session(ctx, host, scopes...))
		resp := framework.Call(u.c.Methods(ctx, ""))
		Expect(resp).To(framework.HaveStatus(http.StatusOK), "GET /authentication-methods")
		var body struct {
			Methods []struct {
				ID string `json:"id"`
			} `json:"authentication_methods"`
		}
		Expect(resp.JSON(&body)).To(Succeed())
		Expect(body.Methods).NotTo(BeEmpty(), "a new user lists no authentication method")
		u.methodID = body.Methods[0].ID
		return u, framework.Budget{spec.Read: 1}
	})
}

// realCall is a cheap request of op that changes nothing the user did not ask
// for: reads of what the user has, a passkey enrollment started (a pending one
// changes no list), the user's own passkey renamed, and for the other writes ids
// and bodies that find nothing (a 4xx must carry the CORS headers as well).
func realCall(op spec.Operation, u *corsUser) myaccount.Call {
	in := myaccount.Call{Path: placeholders(op), Deliberate: true}
	if _, ok := in.Path["authentication_method_id"]; ok && (op.Method == http.MethodGet || op.Method == http.MethodPatch) {
		in.Path["authentication_method_id"] = u.methodID
	}
	switch op.ID {
	case myaccount.StartEnrollment:
		in.Body = map[string]any{"type": "passkey"}
	case myaccount.UpdateMethod:
		in.Body = map[string]any{"name": "cors-" + randomHex(4)}
	default:
		if bases := catalogue.BasesOf(op.ID); len(bases) > 0 {
			values := map[string]any{}
			for k, v := range catalogue.Samples {
				values[k] = v
			}
			in.Body = catalogue.Fill(bases[0].Body, values)
		}
	}
	return in
}

// send sends op's cheap request from origin as u.
func send(ctx context.Context, op spec.Operation, u *corsUser, origin string) *harness.Response {
	GinkgoHelper()
	in := realCall(op, u)
	in.Header = http.Header{"Origin": {origin}}
	return framework.Deliver(u.c.Do(ctx, op.ID, in))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// list is a comma-separated header as lower-cased items.
func list(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for _, item := range strings.Split(v, ",") {
			if item = strings.ToLower(strings.TrimSpace(item)); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// what names an answer in a failure: request, status and its CORS headers.
func what(r *harness.Response) string {
	var hs []string
	for name, vs := range r.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "access-control-") || l == "vary" {
			hs = append(hs, name+": "+strings.Join(vs, ", "))
		}
	}
	slices.Sort(hs)
	if len(hs) == 0 {
		hs = []string{"no CORS header"}
	}
	return fmt.Sprintf("%s %s from %s answered %d (%s)", r.Exchange.Method, r.Exchange.URL, r.Exchange.ReqHeader.Get("Origin"), r.Status, strings.Join(hs, "; "))
}

// allowsOrigin says why r does not allow origin ("" when it does): its
// Access-Control-Allow-Origin must be that origin.
func allowsOrigin(r *harness.Response, origin string) string {
	if got := r.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != origin {
		return fmt.Sprintf("%s: Access-Control-Allow-Origin must be %s", what(r), origin)
	}
	return ""
}

// preflightProblems are what is wrong with a preflight answer to origin for
// method that must allow headers.
func preflightProblems(r *harness.Response, origin, method string, headers []string) []string {
	var out []string
	if r.Status < 200 || r.Status > 299 {
		out = append(out, fmt.Sprintf("%s: a preflight must be answered with a 2xx status", what(r)))
	}
	if why := allowsOrigin(r, origin); why != "" {
		out = append(out, why)
	}
	// "*" allows any method and any header but Authorization to requests without
	// cookies (Fetch), which is what the SDK sends.
	if m := list(r.Header, "Access-Control-Allow-Methods"); !slices.Contains(m, strings.ToLower(method)) && !slices.Contains(m, "*") {
		out = append(out, fmt.Sprintf("%s: Access-Control-Allow-Methods must include %s", what(r), method))
	}
	allowed := list(r.Header, "Access-Control-Allow-Headers")
	for _, h := range headers {
		if !slices.Contains(allowed, h) && (h == "authorization" || !slices.Contains(allowed, "*")) {
			out = append(out, fmt.Sprintf("%s: Access-Control-Allow-Headers must include %s", what(r), h))
		}
	}
	return out
}

// exposeProblems are the headers r does not expose.
func exposeProblems(r *harness.Response) []string {
	got := list(r.Header, "Access-Control-Expose-Headers")
	if slices.Contains(got, "*") {
		return nil
	}
	var missing []string
	for _, h := range exposed {
		if !slices.Contains(got, h) {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		return []string{fmt.Sprintf("%s: Access-Control-Expose-Headers lacks %s, which a browser application then cannot read", what(r), strings.Join(missing, ", "))}
	}
	return nil
}

// varyProblems says when r names the request's origin without Vary: Origin.
func varyProblems(r *harness.Response) []string {
	if origin := r.Exchange.ReqHeader.Get("Origin"); r.Header.Get("Access-Control-Allow-Origin") == origin && !slices.Contains(list(r.Header, "Vary"), "origin") {
		return []string{fmt.Sprintf("%s: an answer that names the request's origin must say Vary: Origin", what(r))}
	}
	return nil
}

// refusesOrigin says what r allows an origin not allowed.
func refusesOrigin(r *harness.Response) []string {
	if got := r.Header.Values("Access-Control-Allow-Origin"); len(got) > 0 {
		return []string{fmt.Sprintf("%s: an origin in no application's Allowed Origins must get no Access-Control-Allow-Origin (neither itself nor *)", what(r))}
	}
	return nil
}
