package spec

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The My Account API's rate limits as the vendor documents them (rate-limit policy,
// "Rate limit configurations" per plan, My Account API section; PROTOCOL §6): token
// buckets at two levels, the tenant and each user, with reads, writes and filtered
// reads counted apart. The seed's Early-Access sentence, one tenant bucket of 25
// requests per second, is kept as the plan "early-access".

// Bucket is a token bucket: at most Burst requests at once, refilled at Rate per
// second. A zero Rate means no limit.
type Bucket struct {
	Rate  float64 // tokens per second
	Burst int
}

// PerSecond and PerMinute make buckets from the figures the vendor's tables give.
func PerSecond(n float64, burst int) Bucket { return Bucket{Rate: n, Burst: burst} }
func PerMinute(n float64, burst int) Bucket { return Bucket{Rate: n / 60, Burst: burst} }

// Unlimited says the bucket limits nothing.
func (b Bucket) Unlimited() bool { return b.Rate <= 0 || b.Burst <= 0 }

// Interval is the time one token takes to come back.
func (b Bucket) Interval() time.Duration {
	if b.Unlimited() {
		return 0
	}
	return time.Duration(float64(time.Second) / b.Rate)
}

// RefillTime is how long an empty bucket takes to fill.
func (b Bucket) RefillTime() time.Duration {
	if b.Unlimited() {
		return 0
	}
	return time.Duration(float64(b.Burst) / b.Rate * float64(time.Second))
}

// String reads like the vendor's tables: "25/s, burst 25", "5/min, burst 5".
func (b Bucket) String() string {
	switch {
	case b.Unlimited():
		return "unlimited"
	case b.Rate < 1:
		return fmt.Sprintf("%.4g/min, burst %d", b.Rate*60, b.Burst)
	}
	return fmt.Sprintf("%.4g/s, burst %d", b.Rate, b.Burst)
}

// Kind is what a request counts as.
type Kind string

// Request kinds: reads are GET; writes POST, PUT, PATCH and DELETE; filtered reads
// are lists narrowed by a filter parameter (?type=, ?connection=).
const (
	Read         Kind = "read"
	Write        Kind = "write"
	FilteredRead Kind = "filtered_read"
)

// Kinds lists the kinds in report order.
var Kinds = []Kind{Read, Write, FilteredRead}

// filterParams are the query parameters that make a read a filtered read.
var filterParams = []string{"type", "connection"}

// KindOf classifies a My Account request.
func KindOf(method string, query url.Values) Kind {
	switch strings.ToUpper(method) {
	case http.MethodGet, http.MethodHead:
		for _, p := range filterParams {
			if query.Has(p) {
				return FilteredRead
			}
		}
		return Read
	}
	return Write
}

// Level is the limit at one level (the tenant, or each user), per kind.
type Level struct {
	Read, Write, FilteredRead Bucket
	// Shared means one bucket (Read's) counts every kind, as in the seed's
	// Early-Access rule.
	Shared bool
}

// Bucket is the bucket that counts requests of kind k.
func (l Level) Bucket(k Kind) Bucket {
	if l.Shared {
		return l.Read
	}
	switch k {
	case Write:
		return l.Write
	case FilteredRead:
		return l.FilteredRead
	}
	return l.Read
}

// Unlimited says nothing is limited at this level.
func (l Level) Unlimited() bool {
	return l.Read.Unlimited() && (l.Shared || (l.Write.Unlimited() && l.FilteredRead.Unlimited()))
}

// Limits is the whole limit model of a target.
type Limits struct {
	// Plan is the preset the figures come from ("" when every figure was given).
	Plan   string
	Tenant Level
	User   Level
	// LoginPrompts is the Universal Login limit on prompt POSTs per IP address
	// (every plan: burst 10, 5/minute).
	LoginPrompts Bucket
	// Signups is the Suspicious IP Throttling limit on signups from one IP address
	// (default 50/minute, burst 50); native passkey signups count against it.
	Signups Bucket

	// The other Authentication API and Management API limits a run meets (figures and
	// sources at the plan tables below). The suite does not pace by them today; the
	// reference tenant enforces them.

	// LoginPromptViews is the Universal Login limit on prompt GETs per IP address and
	// state value (every plan: burst 20, 10/minute).
	LoginPromptViews Bucket
	// LoginPages is Universal Login's global limit on prompt GETs and POSTs per IP
	// address (every plan: burst 500, 500/minute).
	LoginPages Bucket
	// AuthenticationAPI is the tenant's global Authentication API limit (any request:
	// /authorize, /oauth/token, /passkey/*, /userinfo, discovery ...).
	AuthenticationAPI Bucket
	// TokenEndpoint is the /oauth/token endpoint limit (any request), where the plan
	// documents one apart from the global limit (the free plan only).
	TokenEndpoint Bucket
	// UserInfo is /userinfo's limit per user ID (every plan: burst 10, 5/minute).
	UserInfo Bucket
	// ManagementAPI is the limit the Management API's user deletion meets (DELETE
	// /api/v2/users/{id}, any request): the global Management API limit, or the
	// Write Users endpoint limit where the plan documents one.
	ManagementAPI Bucket
}

// Limit plans (presets).
const (
	PlanEnterprise   = "enterprise"
	PlanEssentials   = "essentials"
	PlanProfessional = "professional"
	PlanFree         = "free"
	PlanEarlyAccess  = "early-access"
	// PlanPrivateCloud prefixes the private-cloud tiers: private-cloud-100 … -10000.
	PlanPrivateCloud = "private-cloud-"
	// PlanPrivateCloudDev is private cloud's "Tier Dev": 20 reads and 20 writes a
	// second for the My Account API, 40 filtered reads; per user as other tiers.
	PlanPrivateCloudDev = PlanPrivateCloud + "dev"
)

// DefaultPlan is the plan of a target that does not say.
const DefaultPlan = PlanEnterprise

// privateCloudTiers are the private-cloud performance tiers in requests per second;
// each gives the My Account API a fifth of that for reads and for writes.
var privateCloudTiers = []int{100, 500, 1500, 3000, 6000, 10000}

// The limits that are the same for every plan. Sources are the vendor's pages under
// https://auth0.com/docs/troubleshoot/customer-support/operational-policies/rate-limit-policy/
// (docs-v2: main/docs/troubleshoot/customer-support/operational-policies/rate-limit-policy/…).
var (
	// Universal Login prompts (per prompt), POST: burst 10, 5/minute, from an IP address
	// (rate-limit-configurations/enterprise-public.mdx, "Universal Login Flow
	// Endpoints", for all subscription types; the same table in every plan's page).
	loginPrompts = PerMinute(5, 10)
	// Universal Login prompts (per prompt), GET: burst 20, 10/minute, from an IP
	// address and state value (same table).
	loginPromptViews = PerMinute(10, 20)
	// Universal Login prompts (global), GET and POST: burst 500, 500/minute, from an
	// IP address (same table).
	loginPages = PerMinute(500, 500)
	// Suspicious IP Throttling, signup threshold: the signup attempts one IP address
	// may make in a minute (the page's example and the default: 50), refilled within
	// the minute (main/docs/secure/attack-protection/suspicious-ip-throttling.mdx,
	// "Signup attempts").
	signups = PerMinute(50, 50)
	// User Info, GET and POST /userinfo: burst 10, 5/minute, to a unique user ID
	// (enterprise-public.mdx, essentials-professional-b2b.mdx, free-public.mdx).
	userInfo = PerMinute(5, 10)
)

// apiLimits are a plan's Authentication API (and /oauth/token) and Management
// API limits (see LimitPlan for the figures and their pages).
type apiLimits struct{ authentication, token, management Bucket }

// apiPlans are the Authentication API and Management API figures per plan, for a
// production tenant.
var apiPlans = map[string]apiLimits{
	// enterprise-public.mdx: Authentication API, Production: burst 100/second,
	// sustained 100/second (tenant, any request); Management API, Production: burst
	// 50, sustained 16/second (global; the page lists no users endpoint).
	PlanEnterprise: {authentication: PerSecond(100, 100), management: PerSecond(16, 50)},
	// essentials-professional-b2b.mdx: Authentication API burst 25, 25/second; Write
	// Users, DELETE /api/v2/users/{id}: burst 20, 200/minute (any request).
	PlanEssentials:   {authentication: PerSecond(25, 25), management: PerMinute(200, 20)},
	PlanProfessional: {authentication: PerSecond(25, 25), management: PerMinute(200, 20)},
	// free-public.mdx: Authentication API burst 300, 300/minute; Get Token, POST
	// /oauth/token: burst 30, 30/second (any request); Management burst 2, 2/second.
	PlanFree: {authentication: PerMinute(300, 300), token: PerSecond(30, 30), management: PerSecond(2, 2)},
}

// privateCloudAPIs are a private-cloud tier's figures (tier-N-rps-private-cloud.mdx):
// the Authentication API at the tier's rate (burst as many), the Management API at
// half of it.
func privateCloudAPIs(tier int) apiLimits {
	return apiLimits{authentication: PerSecond(float64(tier), tier), management: PerSecond(float64(tier)/2, tier/2)}
}

// LimitPlans lists the plan names LimitPlan knows.
func LimitPlans() []string {
	out := []string{PlanEnterprise, PlanEssentials, PlanProfessional, PlanFree, PlanPrivateCloudDev}
	for _, t := range privateCloudTiers {
		out = append(out, fmt.Sprintf("%s%d", PlanPrivateCloud, t))
	}
	return append(out, PlanEarlyAccess)
}

// LimitPlan returns the documented limits of a plan.
func LimitPlan(name string) (Limits, error) {
	l := Limits{Plan: name, LoginPrompts: loginPrompts, Signups: signups,
		LoginPromptViews: loginPromptViews, LoginPages: loginPages, UserInfo: userInfo}
	apis, ok := apiPlans[name]
	if name == PlanEarlyAccess {
		// The Early-Access rule named only the My Account API; the rest is the
		// Enterprise tenant's it was offered to.
		apis, ok = apiPlans[PlanEnterprise], true
	}
	l.AuthenticationAPI, l.TokenEndpoint, l.ManagementAPI = apis.authentication, apis.token, apis.management
	switch name {
	case PlanEnterprise:
		l.Tenant = Level{Read: PerSecond(25, 25), Write: PerSecond(25, 25), FilteredRead: PerSecond(100, 100)}
		l.User = Level{Read: PerMinute(5, 5), Write: PerMinute(5, 5), FilteredRead: PerMinute(20, 20)}
	case PlanEssentials, PlanProfessional:
		l.Tenant = Level{Read: PerSecond(5, 5), Write: PerSecond(5, 5), FilteredRead: PerSecond(20, 20)}
		l.User = Level{Read: PerMinute(5, 5), Write: PerMinute(5, 5), FilteredRead: PerMinute(10, 10)}
	case PlanFree:
		l.Tenant = Level{Read: PerSecond(2, 2), Write: PerSecond(2, 2), FilteredRead: PerSecond(5, 5)}
		l.User = Level{Read: PerMinute(2, 2), Write: PerMinute(2, 2), FilteredRead: PerMinute(5, 5)}
	case PlanEarlyAccess:
		l.Tenant = Level{Read: PerSecond(25, 25), Shared: true}
	case PlanPrivateCloudDev:
		l.Tenant = Level{Read: PerSecond(20, 20), Write: PerSecond(20, 20), FilteredRead: PerSecond(40, 40)}
		l.User = Level{Read: PerMinute(5, 5), Write: PerMinute(5, 5), FilteredRead: PerMinute(20, 20)}
	default:
		var tier int
		if _, err := fmt.Sscanf(name, PlanPrivateCloud+"%d", &tier); err != nil || !slices.Contains(privateCloudTiers, tier) ||
			name != fmt.Sprintf("%s%d", PlanPrivateCloud, tier) {
			return Limits{}, fmt.Errorf("%q is not a rate-limit plan: use one of %s", name, strings.Join(LimitPlans(), ", "))
		}
		if !ok {
			apis = privateCloudAPIs(tier)
			l.AuthenticationAPI, l.ManagementAPI = apis.authentication, apis.management
		}
		rw := float64(tier) / 5
		l.Tenant = Level{Read: PerSecond(rw, int(rw)), Write: PerSecond(rw, int(rw)), FilteredRead: PerSecond(2*rw, int(2*rw))}
		l.User = Level{Read: PerMinute(5, 5), Write: PerMinute(5, 5), FilteredRead: PerMinute(20, 20)}
	}
	return l, nil
}

// String describes the model in a line.
func (l Limits) String() string {
	level := func(v Level) string {
		if v.Unlimited() {
			return "none"
		}
		if v.Shared {
			return v.Read.String() + " for every request"
		}
		return fmt.Sprintf("reads %s, writes %s, filtered reads %s", v.Read, v.Write, v.FilteredRead)
	}
	plan := l.Plan
	if plan == "" {
		plan = "custom"
	}
	return fmt.Sprintf("%s: tenant %s; per user %s", plan, level(l.Tenant), level(l.User))
}
