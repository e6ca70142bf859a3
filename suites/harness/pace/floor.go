package pace

// The least time a run's traffic can take under a limit model, and each limit's share of it.

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// Floor is the least time traffic can take under limits: every bucket serves its
// requests no faster than its burst and refill allow, and the slowest bucket sets
// the pace (buckets drain in parallel; a request waiting on two counts in both).
// The rate-limit specs' Held time comes on top of the tenant's buckets, which those
// specs have to themselves (Serial); a user's buckets, the signups' and the login
// prompts' may refill meanwhile.
func (t Traffic) Floor(l spec.Limits) (time.Duration, string) {
	shares := t.Shares(l)
	if len(shares) == 0 {
		return 0, "no limit binds"
	}
	return shares[0].Time, shares[0].Why
}

// Share is the time one limit alone holds a run's traffic to.
type Share struct {
	Limit string        // "login prompt posts", "signups", "tenant writes", "user …"
	Time  time.Duration // the least time its requests take under it
	Why   string        // "19 login prompt posts at 5/min, burst 10"
}

// Shares are the limits that hold traffic to some time under l, longest first (the
// first is the floor): the login prompts', the signups', the Authentication and
// Management APIs', the tenant's per kind and the busiest user's. A user's limit is
// named once, for its busiest user.
func (t Traffic) Shares(l spec.Limits) []Share {
	var out []Share
	need := func(limit string, b spec.Bucket, n int, what string, extra time.Duration) {
		var d time.Duration
		why := ""
		if !b.Unlimited() && n > b.Burst {
			d = time.Duration(float64(n-b.Burst) / b.Rate * float64(time.Second))
			why = fmt.Sprintf("%d %s at %s", n, what, b)
		}
		if extra > 0 {
			if why == "" {
				why = fmt.Sprintf("%s of rate-limit bursts and refills", extra.Round(100*time.Millisecond))
			} else {
				why += fmt.Sprintf(", then %s of rate-limit bursts and refills", extra.Round(100*time.Millisecond))
			}
		}
		if d+extra <= 0 {
			return
		}
		for i := range out {
			if out[i].Limit == limit {
				if d+extra > out[i].Time {
					out[i] = Share{limit, d + extra, why}
				}
				return
			}
		}
		out = append(out, Share{limit, d + extra, why})
	}
	if l.Tenant.Shared {
		n := 0
		for _, c := range t.MyAccount {
			n += c
		}
		need("tenant", l.Tenant.Read, n, "My Account requests", t.Held)
	} else {
		for _, k := range spec.Kinds {
			need("tenant "+string(k)+"s", l.Tenant.Bucket(k), t.MyAccount[k], string(k)+"s for the tenant", t.Held)
		}
	}
	for _, u := range slices.Sorted(maps.Keys(t.Users)) {
		byKind := t.Users[u]
		if l.User.Shared {
			n := 0
			for _, c := range byKind {
				n += c
			}
			need("a user's requests", l.User.Read, n, "requests of user "+u, 0)
			continue
		}
		for _, k := range spec.Kinds {
			need("a user's "+string(k)+"s", l.User.Bucket(k), byKind[k], string(k)+"s of user "+u, 0)
		}
	}
	need("signups", l.Signups, t.Signups, "signups", 0)
	need("login prompt posts", l.LoginPrompts, t.LoginPosts, "login prompt posts", 0)
	need("Authentication API", l.AuthenticationAPI, t.AuthenticationAPI, "Authentication API requests", 0)
	need("Management API", l.ManagementAPI, t.ManagementAPI, "Management API requests", 0)
	slices.SortStableFunc(out, func(a, b Share) int { return cmp.Compare(b.Time, a.Time) })
	return out
}
