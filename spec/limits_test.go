package spec

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLimitPlans(t *testing.T) {
	for _, name := range LimitPlans() {
		l, err := LimitPlan(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if l.Tenant.Unlimited() {
			t.Errorf("%s: no tenant limit", name)
		}
		if name != PlanEarlyAccess && (l.User.Unlimited() || l.Tenant.Shared) {
			t.Errorf("%s: every documented plan limits each user, reads and writes apart: %s", name, l)
		}
		if l.LoginPrompts != PerMinute(5, 10) || l.Signups != PerMinute(50, 50) {
			t.Errorf("%s: login prompts %s, signups %s", name, l.LoginPrompts, l.Signups)
		}
	}
	e, _ := LimitPlan(PlanEnterprise)
	if got := e.String(); got != "enterprise: tenant reads 25/s, burst 25, writes 25/s, burst 25, filtered reads 100/s, burst 100; per user reads 5/min, burst 5, writes 5/min, burst 5, filtered reads 20/min, burst 20" {
		t.Errorf("enterprise = %s", got)
	}
	if d := e.User.Read.Interval(); d != 12*time.Second {
		t.Errorf("a user's read token comes back every %s, want 12s", d)
	}
	pc, _ := LimitPlan("private-cloud-1500")
	if pc.Tenant.Write != PerSecond(300, 300) || pc.Tenant.FilteredRead != PerSecond(600, 600) {
		t.Errorf("private-cloud-1500 = %s", pc)
	}
	ea, _ := LimitPlan(PlanEarlyAccess)
	if !ea.Tenant.Shared || ea.Tenant.Bucket(Write) != PerSecond(25, 25) || !ea.User.Unlimited() {
		t.Errorf("early-access = %s", ea)
	}
	for _, bad := range []string{"", "enterprize", "private-cloud-7", "private-cloud-100x"} {
		if _, err := LimitPlan(bad); err == nil || !strings.Contains(err.Error(), "enterprise") {
			t.Errorf("LimitPlan(%q) = %v", bad, err)
		}
	}
}

func TestKindOf(t *testing.T) {
	for _, c := range []struct {
		method, query string
		want          Kind
	}{
		{"GET", "", Read}, {"GET", "take=5", Read}, {"GET", "type=totp", FilteredRead},
		{"GET", "connection=a&connection=b", FilteredRead}, {"POST", "", Write}, {"PATCH", "", Write}, {"DELETE", "type=x", Write},
	} {
		q, _ := url.ParseQuery(c.query)
		if got := KindOf(c.method, q); got != c.want {
			t.Errorf("KindOf(%s ?%s) = %s, want %s", c.method, c.query, got, c.want)
		}
	}
}

// Private cloud's Tier Dev: 20/s reads and writes, 40/s filtered reads, and the
// per-user limits of every tier.
func TestPrivateCloudDev(t *testing.T) {
	l, err := LimitPlan(PlanPrivateCloudDev)
	if err != nil {
		t.Fatal(err)
	}
	if l.Tenant.Read != PerSecond(20, 20) || l.Tenant.Write != PerSecond(20, 20) || l.Tenant.FilteredRead != PerSecond(40, 40) {
		t.Errorf("tenant %+v", l.Tenant)
	}
	other, _ := LimitPlan(PlanPrivateCloud + "100")
	if l.User != other.User {
		t.Errorf("per user %+v, other tiers %+v", l.User, other.User)
	}
	if !slices.Contains(LimitPlans(), PlanPrivateCloudDev) {
		t.Error("LimitPlans leaves it out")
	}
}
