package config

import (
	"net/url"
	"strings"
)

// CORS is the browser application the cors specs act as: an origin the tenant lets
// call the My Account API (Auth0: in the Allowed Origins (CORS) of an application
// with Allow Cross-Origin Authentication on). Without it the cors specs skip.
type CORS struct {
	// Origin is scheme://host[:port], no path, e.g. https://app.example.com. The
	// suite serves a page at it on loopback (headless Chromium maps its host there),
	// so nothing needs to listen at it.
	Origin string `json:"origin,omitempty"`
}

// NotAllowedOrigin is an origin no tenant allows (.invalid is reserved, RFC 2606):
// the cors specs send it to see it refused.
const NotAllowedOrigin = "https://not-allowed.invalid"

// cors: the browser application's origin.
func (v *validation) cors(t *Target) {
	o := t.CORS.Origin
	if o == "" {
		return
	}
	u, err := url.Parse(o)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "":
		v.bad("cors.origin", "%q must be an origin, scheme://host[:port], e.g. https://app.example.com", o)
	case u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#"):
		v.bad("cors.origin", "%q must be an origin without path, query or fragment (not even a trailing /), exactly as in the application's Allowed Origins (CORS)", o)
	case u.Scheme+"://"+strings.ToLower(u.Host) != o:
		v.bad("cors.origin", "%q must be written as browsers send it: lower-case scheme and host", o)
	}
}
