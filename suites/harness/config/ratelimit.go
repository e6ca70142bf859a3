package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// RateLimit is the rate-limit model: a documented plan (spec.LimitPlans; default
// enterprise), any figure of which the other fields override.
type RateLimit struct {
	Plan   string       `json:"plan,omitempty"`
	Tenant *LevelConfig `json:"tenant,omitempty"`
	User   *LevelConfig `json:"user,omitempty"`
	// LoginPrompts and Signups are the Authentication API limits a run meets.
	LoginPrompts *BucketConfig `json:"login_prompts,omitempty"`
	Signups      *BucketConfig `json:"signups,omitempty"`
	// AuthenticationAPI and ManagementAPI are the tenant's global Authentication API
	// limit and the Management API limit the cleanup's user deletions meet.
	AuthenticationAPI *BucketConfig `json:"authentication_api,omitempty"`
	ManagementAPI     *BucketConfig `json:"management_api,omitempty"`
	// RequestsPerSecond and Burst are the seed's shape: one tenant bucket for every
	// request (the early-access plan with these figures).
	RequestsPerSecond float64 `json:"requests_per_second,omitempty"`
	Burst             int     `json:"burst,omitempty"`
	// ConnectedAccounts says how the target counts the connected-accounts
	// operations, which the vendor's rate-limit pages do not name: shared (in the
	// user's and tenant's buckets of their kind, with the authentication methods)
	// or separate (in buckets of their own, of the same figures). Unstated, the
	// rate-limit specs do not hold those operations to a limit.
	ConnectedAccounts string `json:"connected_accounts,omitempty"`

	model spec.Limits
}

// LevelConfig overrides the buckets of one level.
type LevelConfig struct {
	Reads         *BucketConfig `json:"reads,omitempty"`
	Writes        *BucketConfig `json:"writes,omitempty"`
	FilteredReads *BucketConfig `json:"filtered_reads,omitempty"`
	// Shared: one bucket (reads') counts every request.
	Shared *bool `json:"shared,omitempty"`
}

// BucketConfig is one token bucket: per_second or per_minute, and burst; or
// unlimited.
type BucketConfig struct {
	PerSecond float64 `json:"per_second,omitempty"`
	PerMinute float64 `json:"per_minute,omitempty"`
	Burst     int     `json:"burst,omitempty"`
	Unlimited bool    `json:"unlimited,omitempty"`
}

// How connected-accounts operations are counted (RateLimit.ConnectedAccounts).
const (
	AccountsShared   = "shared"
	AccountsSeparate = "separate"
)

// AccountsLimited says the target states how it limits the connected-accounts
// operations: only then are they held to a limit.
func (r RateLimit) AccountsLimited() bool { return r.ConnectedAccounts != "" }

// Limits is the resolved model (after ParseTarget or SetDefaults).
func (r RateLimit) Limits() spec.Limits { return r.model }

// resolve turns the config into the model; errors name the field.
func (r *RateLimit) resolve() error {
	plan := r.Plan
	legacy := r.RequestsPerSecond != 0 || r.Burst != 0
	switch {
	case legacy && plan != "" && plan != spec.PlanEarlyAccess:
		return errors.New("field rate_limit.requests_per_second: only with plan early-access; override a plan's figures with rate_limit.tenant and rate_limit.user")
	case legacy:
		plan = spec.PlanEarlyAccess
	case plan == "":
		plan = spec.DefaultPlan
	}
	m, err := spec.LimitPlan(plan)
	if err != nil {
		return fmt.Errorf("field rate_limit.plan: %w", err)
	}
	if legacy {
		rps := cmp.Or(r.RequestsPerSecond, m.Tenant.Read.Rate)
		m.Tenant.Read = spec.PerSecond(rps, cmp.Or(r.Burst, int(math.Ceil(rps))))
	}
	level := func(name string, l *spec.Level, c *LevelConfig) error {
		if c == nil {
			return nil
		}
		if c.Shared != nil {
			l.Shared = *c.Shared
		}
		for _, b := range []struct {
			field string
			dst   *spec.Bucket
			src   *BucketConfig
		}{{"reads", &l.Read, c.Reads}, {"writes", &l.Write, c.Writes}, {"filtered_reads", &l.FilteredRead, c.FilteredReads}} {
			if err := b.src.apply(name+"."+b.field, b.dst); err != nil {
				return err
			}
		}
		return nil
	}
	if err := level("rate_limit.tenant", &m.Tenant, r.Tenant); err != nil {
		return err
	}
	if err := level("rate_limit.user", &m.User, r.User); err != nil {
		return err
	}
	if err := r.LoginPrompts.apply("rate_limit.login_prompts", &m.LoginPrompts); err != nil {
		return err
	}
	if err := r.Signups.apply("rate_limit.signups", &m.Signups); err != nil {
		return err
	}
	if err := r.AuthenticationAPI.apply("rate_limit.authentication_api", &m.AuthenticationAPI); err != nil {
		return err
	}
	if err := r.ManagementAPI.apply("rate_limit.management_api", &m.ManagementAPI); err != nil {
		return err
	}
	// A plan whose figures were overridden says so (an override that repeats the
	// plan's figures changes nothing).
	if base, _ := spec.LimitPlan(plan); !legacy && (m.Tenant != base.Tenant || m.User != base.User) {
		m.Plan = plan + " (with overrides)"
	}
	if m.Tenant.Unlimited() {
		return errors.New("field rate_limit.tenant: a tenant with no limit at all cannot be tested; give its reads and writes")
	}
	r.model = m
	return nil
}

// apply overrides dst with the configured bucket, if any.
func (b *BucketConfig) apply(field string, dst *spec.Bucket) error {
	switch {
	case b == nil:
		return nil
	case b.Unlimited:
		if b.PerSecond != 0 || b.PerMinute != 0 || b.Burst != 0 {
			return fmt.Errorf("field %s: unlimited takes no figures", field)
		}
		*dst = spec.Bucket{}
		return nil
	case b.PerSecond < 0 || b.PerMinute < 0 || b.Burst < 0:
		return fmt.Errorf("field %s: figures must be positive", field)
	case b.PerSecond != 0 && b.PerMinute != 0:
		return fmt.Errorf("field %s: give per_second or per_minute, not both", field)
	case b.PerSecond != 0:
		dst.Rate = b.PerSecond
	case b.PerMinute != 0:
		dst.Rate = b.PerMinute / 60
	case b.Burst == 0:
		return fmt.Errorf("field %s: give per_second or per_minute, and burst (or unlimited: true)", field)
	}
	if b.Burst != 0 {
		dst.Burst = b.Burst
	}
	if dst.Burst == 0 {
		dst.Burst = max(1, int(math.Ceil(dst.Rate)))
	}
	return nil
}
