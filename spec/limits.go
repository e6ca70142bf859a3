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

// loginPrompts is the Universal Login prompt POST limit, the same for every plan;
// signups the default of Suspicious IP Throttling's pre-user-registration limit.
var (
	loginPrompts = PerMinute(5, 10)
	signups      = PerMinute(50, 50)
)

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
	l := Limits{Plan: name, LoginPrompts: loginPrompts, Signups: signups}
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
