package runner

import (
	"flag"
	"reflect"
	"strings"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// The reference tenant's switches between behaviours a correct Auth0 tenant may
// have (reftenant.Behaviour), as run flags: the suite is green with each.

// behaviourFlags adds the switches of b to fs.
func behaviourFlags(fs *flag.FlagSet, b *report.ReferenceBehaviour) {
	fs.Func("dpop-algs", "the only DPoP proof algorithms the embedded reference tenant accepts and discovery lists, comma-separated (default: "+strings.Join(reftenant.DPoPAlgs(), ",")+"); Auth0 documents ES256", func(v string) error {
		b.DPoPAlgs = strings.Split(v, ",")
		return nil
	})
	fs.BoolVar(&b.DPoPNoncePublicToken, "dpop-nonce-public", false, "the embedded reference tenant demands DPoP nonces of public clients at the token endpoint only, as Auth0 documents (--dpop-nonce: everywhere)")
	fs.BoolVar(&b.ConnectCodeInFragment, "connect-code-fragment", false, "the embedded reference tenant brings connected accounts back with connect_code in the redirect's fragment, as the vendor's page shows (default: the query, as the OpenAPI description and spa-js read it)")
	fs.BoolVar(&b.AccountsLimitUnstated, "accounts-limit-unstated", false, "the target config written for the embedded reference tenant does not say how connected-accounts operations are rate-limited, as Auth0's pages do not (default: shared, which is what it does)")
	fs.BoolVar(&b.FactorsUnserved, "no-factors", false, "the embedded reference tenant does not serve GET /me/v1/factors (404), as a tenant without that Early Access feature; the target config it writes lists its method types (methods:)")
	fs.BoolVar(&b.ExcludeOnlyWhenAsked, "use-exclude-credentials", false, "the embedded reference tenant names a user's passkeys in a passkey enrollment's excludeCredentials only when the request says use_exclude_credentials: true, as Auth0 documents (default: unless it says false)")
	fs.BoolFunc("as-documented", "start the embedded reference tenant as Auth0 documents each open behaviour: "+strings.Join(asDocumentedArgs, " "), func(string) error {
		*b = asDocumented(*b)
		return nil
	})
	fs.StringVar(&b.PasskeyName, "passkey-name", "", "what the embedded reference tenant does with a PATCH naming a passkey, which has no name: "+strings.Join(reftenant.PasskeyNameBehaviours(), " (the default) or ")+" (200, nothing changed)")
}

// behaviourArgs are the run flags that set b.
func behaviourArgs(b report.ReferenceBehaviour) []string {
	var out []string
	if b.PasskeyName != "" {
		out = append(out, "--passkey-name", b.PasskeyName)
	}
	if len(b.DPoPAlgs) > 0 {
		out = append(out, "--dpop-algs", strings.Join(b.DPoPAlgs, ","))
	}
	if b.DPoPNoncePublicToken {
		out = append(out, "--dpop-nonce-public")
	}
	if b.ConnectCodeInFragment {
		out = append(out, "--connect-code-fragment")
	}
	if b.AccountsLimitUnstated {
		out = append(out, "--accounts-limit-unstated")
	}
	if b.FactorsUnserved {
		out = append(out, "--no-factors")
	}
	if b.ExcludeOnlyWhenAsked {
		out = append(out, "--use-exclude-credentials")
	}
	return out
}

// behaviourSet says b is not the defaults.
func behaviourSet(b report.ReferenceBehaviour) bool {
	return !reflect.DeepEqual(b, report.ReferenceBehaviour{})
}

// behaviourOptions are the reftenant switches b names.
func behaviourOptions(b report.ReferenceBehaviour) reftenant.Behaviour {
	return reftenant.Behaviour{PasskeyName: b.PasskeyName, DPoPAlgs: b.DPoPAlgs, DPoPNoncePublicToken: b.DPoPNoncePublicToken,
		ConnectCodeInFragment: b.ConnectCodeInFragment, AccountsLimitUnstated: b.AccountsLimitUnstated,
		FactorsUnserved: b.FactorsUnserved, ExcludeOnlyWhenAsked: b.ExcludeOnlyWhenAsked}
}

// nonceConfig states where the tenant t demands DPoP nonces (nil: nowhere).
func nonceConfig(t *reftenant.Tenant) *config.DPoPNonce {
	if !t.DPoPNonce() {
		return nil
	}
	n := &config.DPoPNonce{API: t.NonceAtAPI()}
	if t.NonceAtToken(true) {
		n.TokenEndpoint = append(n.TokenEndpoint, config.ClientPublic)
	}
	if t.NonceAtToken(false) {
		n.TokenEndpoint = append(n.TokenEndpoint, config.ClientConfidential)
	}
	return n
}

// asDocumentedArgs are the switches --as-documented sets: the reference behaves as
// Auth0 documents each behaviour the reference's defaults choose otherwise
// (PROTOCOL §10): a PATCH naming a passkey, which has no name, changes nothing;
// DPoP with ES256 only; nonces demanded of public clients at the token endpoint
// only; connect_code in the redirect's fragment; nothing said of how connected
// accounts are rate-limited; GET /factors (Early Access) not served, the method
// types stated in the config; excludeCredentials only when asked for.
var asDocumentedArgs = []string{"--passkey-name", reftenant.PasskeyNameIgnore, "--dpop-algs", "ES256", "--dpop-nonce-public", "--connect-code-fragment",
	"--accounts-limit-unstated", "--no-factors", "--use-exclude-credentials"}

// asDocumented is b with the switches of asDocumentedArgs set.
func asDocumented(b report.ReferenceBehaviour) report.ReferenceBehaviour {
	b.PasskeyName = reftenant.PasskeyNameIgnore
	b.DPoPAlgs = []string{"ES256"}
	b.DPoPNoncePublicToken = true
	b.ConnectCodeInFragment = true
	b.AccountsLimitUnstated = true
	b.FactorsUnserved = true
	b.ExcludeOnlyWhenAsked = true
	return b
}
