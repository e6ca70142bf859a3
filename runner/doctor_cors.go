package runner

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// settingCORS is the setting behind a browser application's origin that the My
// Account API does not allow.
func settingCORS(t *config.Target) string {
	app := "your browser application"
	if id := t.Clients.SPA.ClientID; id != "" {
		app = "the spa application (clients.spa " + id + ")"
	}
	return fmt.Sprintf("the browser client's Allowed Origins (CORS) must hold %s, and Allow Cross-Origin Authentication must be on: Applications > %s > Settings (Cross-Origin Authentication; Allowed Origins (CORS))", t.CORS.Origin, app)
}

// cors sends, on each domain, the preflight a browser application at cors.origin
// sends before it starts an enrollment, and checks that the API allows the origin,
// the method and the headers of the vendor's browser SDK.
func (d *doctor) cors(ctx context.Context) {
	origin := d.t.CORS.Origin
	if origin == "" {
		d.add(check{Name: "CORS", Skip: "no cors.origin in the config (an origin of a browser application): the cors specs skip"})
		return
	}
	for _, host := range d.t.Domains() {
		name := fmt.Sprintf("CORS for %s on %s", origin, host)
		h := http.Header{}
		h.Set("Origin", origin)
		h.Set("Access-Control-Request-Method", http.MethodPost)
		h.Set("Access-Control-Request-Headers", "authorization,content-type,dpop,auth0-client")
		resp, err := d.fw.Client.Do(ctx, &harness.Request{Method: http.MethodOptions, URL: config.MeURL(host, "/authentication-methods"),
			Header: h, Deliberate: true, Paced: true})
		if err != nil {
			d.add(check{Name: name, Detail: err.Error()})
			continue
		}
		seen := fmt.Sprintf("the preflight of POST /me/v1/authentication-methods from %s answered %d with Access-Control-Allow-Origin %q, -Methods %q, -Headers %q",
			origin, resp.Status, resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Methods"), resp.Header.Get("Access-Control-Allow-Headers"))
		switch {
		case resp.Status < 200 || resp.Status > 299 || resp.Header.Get("Access-Control-Allow-Origin") != origin:
			d.add(check{Name: name, Detail: seen, Setting: settingCORS(d.t)})
		case !slices.Contains(strings.Fields(strings.ToLower(strings.ReplaceAll(resp.Header.Get("Access-Control-Allow-Headers"), ",", " "))), "authorization"):
			d.add(check{Name: name, Detail: seen + ": Authorization is not allowed"})
		default:
			d.add(check{Name: name, OK: true})
		}
	}
}
