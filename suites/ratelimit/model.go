package ratelimit

import (
	"fmt"
	"net/http"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// The limit model, as the specs and the oracle read it: the kinds of request and
// the buckets they draw on. Nothing here sends a request or reads the framework:
// every function takes the model (spec.Limits) it describes.

// kindName names a kind of request in the specs' words.
func kindName(k spec.Kind) string {
	switch k {
	case spec.Write:
		return "writes"
	case spec.FilteredRead:
		return "filtered reads"
	}
	return "reads"
}

// kindRequest is the request a burst of kind k sends: cheap and leaving nothing
// behind on any target. A write starts a passkey enrollment, a ceremony that expires
// unless verified and creates nothing (PROTOCOL §2); a filtered read lists the
// passkeys (?type=); a read lists the user's methods (the vendor's "Read
// Authentication Methods"; GET /factors is Early Access, and a tenant may not serve it).
func kindRequest(k spec.Kind, host, token string) *harness.Request {
	switch k {
	case spec.Write:
		return &harness.Request{Method: http.MethodPost, URL: config.MeURL(host, "/authentication-methods"), JSON: map[string]string{"type": "passkey"}, Bearer: token}
	case spec.FilteredRead:
		return &harness.Request{Method: http.MethodGet, URL: config.MeURL(host, "/authentication-methods?type=passkey"), Bearer: token}
	}
	return &harness.Request{Method: http.MethodGet, URL: config.MeURL(host, "/authentication-methods"), Bearer: token}
}

// kindOperation is what kindRequest sends, for titles and messages.
func kindOperation(k spec.Kind) string {
	switch k {
	case spec.Write:
		return `POST /me/v1/authentication-methods {"type":"passkey"}`
	case spec.FilteredRead:
		return "GET /me/v1/authentication-methods?type=passkey"
	}
	return "GET /me/v1/authentication-methods"
}

// kindScope is the scope kindRequest needs.
func kindScope(k spec.Kind) string {
	switch k {
	case spec.Write:
		return harness.ScopeCreateMethods
	case spec.FilteredRead:
		return harness.ScopeReadMethods
	}
	return harness.ScopeReadMethods
}

// planName names the model in messages.
func planName(l spec.Limits) string {
	if p := l.Plan; p != "" {
		return "the plan " + p
	}
	return "the target config's model"
}

// tenantBucket is the tenant's bucket of kind k, or why there is none to test.
func tenantBucket(l spec.Limits, k spec.Kind) (burst.Bucket, string) {
	if l.Tenant.Shared && k != spec.Read {
		return burst.Bucket{}, fmt.Sprintf("%s has one tenant bucket for every request: the reads' specs test it", planName(l))
	}
	b := l.Tenant.Bucket(k)
	if b.Unlimited() {
		return burst.Bucket{}, fmt.Sprintf("%s sets no tenant limit on %s", planName(l), kindName(k))
	}
	return burst.NewBucket(b), ""
}

// userBucket is each user's bucket of kind k, or why there is none to test.
func userBucket(l spec.Limits, k spec.Kind) (burst.Bucket, string) {
	switch {
	case l.User.Unlimited():
		return burst.Bucket{}, fmt.Sprintf("%s has no per-user limit", planName(l))
	case l.User.Shared && k != spec.Read:
		return burst.Bucket{}, fmt.Sprintf("%s has one per-user bucket for every request: the reads' specs test it", planName(l))
	}
	b := l.User.Bucket(k)
	if b.Unlimited() {
		return burst.Bucket{}, fmt.Sprintf("%s sets no per-user limit on %s", planName(l), kindName(k))
	}
	return burst.NewBucket(b), ""
}

// bucketKind is the kind that names k's bucket at a level: one for every kind when
// the level shares it.
func bucketKind(l spec.Level, k spec.Kind) spec.Kind {
	if l.Shared {
		return spec.Read
	}
	return k
}

// apart lists the kinds other than k that a level counts in buckets of their own
// (limited ones).
func apart(l spec.Level, k spec.Kind) []spec.Kind {
	var out []spec.Kind
	for _, o := range spec.Kinds {
		if bucketKind(l, o) != bucketKind(l, k) && !l.Bucket(o).Unlimited() {
			out = append(out, o)
		}
	}
	return out
}

// withApart is k and the kinds the tenant counts apart from it.
func withApart(l spec.Limits, k spec.Kind) []spec.Kind {
	return append([]spec.Kind{k}, apart(l.Tenant, k)...)
}

// candidate is a bucket a request draws on.
type candidate struct {
	key    string // names the bucket: "tenant read", "user auth0|… write"
	what   string // for messages: "the tenant's reads bucket", "user A's reads bucket"
	bucket burst.Bucket
}

// candidates are the buckets a request of kind k by sub draws on, tenant first.
func candidates(l spec.Limits, k spec.Kind, sub, who string) []candidate {
	var out []candidate
	if b := l.Tenant.Bucket(k); !b.Unlimited() {
		bk := bucketKind(l.Tenant, k)
		out = append(out, candidate{key: "tenant " + string(bk), what: "the tenant's " + levelBucketName(l.Tenant, bk) + " bucket", bucket: burst.NewBucket(b)})
	}
	if b := l.User.Bucket(k); !l.User.Unlimited() && !b.Unlimited() && sub != "" {
		bk := bucketKind(l.User, k)
		out = append(out, candidate{key: "user " + sub + " " + string(bk), what: who + "'s " + levelBucketName(l.User, bk) + " bucket", bucket: burst.NewBucket(b)})
	}
	return out
}

func levelBucketName(l spec.Level, k spec.Kind) string {
	if l.Shared {
		return "shared"
	}
	return kindName(k)
}

// The keys of the bursts: each is sent once, for every spec that judges it.
func atLimitKey(k spec.Kind) string    { return "tenant " + string(k) + " at the limit" }
func overloadedKey(k spec.Kind) string { return "tenant " + string(k) + " above the limit" }
func userRunKey(k spec.Kind) string    { return "user " + string(k) }
func domainsKey(k spec.Kind) string    { return "domains " + string(k) }
