package pace

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

func TestPacerKeepsUsersAndKindsApart(t *testing.T) {
	l, _ := spec.LimitPlan(spec.PlanEnterprise)
	p := NewPacer(l)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// A user's bucket of 5 reads and 5 writes goes out at once; a second user has
	// buckets of their own.
	for _, u := range []string{"auth0|a", "auth0|b"} {
		for range 5 {
			if err := p.MyAccount(ctx, u, "GET", nil); err != nil {
				t.Fatal(err)
			}
			if err := p.MyAccount(ctx, u, "DELETE", nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.MyAccount(ctx, u, "GET", url.Values{"type": {"totp"}}); err != nil {
			t.Fatal(err)
		}
	}
	// The sixth read of a user waits about 12 s / 0.95: longer than the context.
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := p.MyAccount(short, "auth0|a", "GET", nil); err == nil || !strings.Contains(err.Error(), "enterprise") {
		t.Errorf("a sixth read within the minute did not wait: %v", err)
	}
	tr := p.Traffic()
	if tr.MyAccount[spec.Read] != 11 || tr.MyAccount[spec.Write] != 10 || tr.MyAccount[spec.FilteredRead] != 2 || tr.Users["auth0|a"][spec.Read] != 6 {
		t.Errorf("traffic %+v", tr)
	}
	// What one user sent is what a budget is checked against; an overrun noted is
	// in the traffic.
	if c := p.UserCounts("auth0|b"); c[spec.Read] != 5 || c[spec.Write] != 5 || c[spec.FilteredRead] != 1 {
		t.Errorf("auth0|b's counts %v", c)
	}
	p.NoteOverrun("a spec: 6 writes as one user, 5 asked")
	if o := p.Traffic().Overruns; len(o) != 1 {
		t.Errorf("overruns %q", o)
	}
}

func TestTrafficFloor(t *testing.T) {
	l, _ := spec.LimitPlan(spec.PlanEnterprise)
	tr := Traffic{
		MyAccount: map[spec.Kind]int{spec.Read: 525, spec.Write: 100},
		Users:     map[string]map[spec.Kind]int{"auth0|a": {spec.Write: 7}},
		Signups:   60,
	}
	// 500 reads beyond the burst at 25/s take 20 s; the user's 2 writes beyond the
	// burst 24 s; 10 signups beyond the burst 12 s: the user sets the floor.
	d, why := tr.Floor(l)
	if d != 24*time.Second || !strings.Contains(why, "user auth0|a") {
		t.Errorf("floor %s (%s)", d, why)
	}
	ea, _ := spec.LimitPlan(spec.PlanEarlyAccess)
	if d, _ := tr.Floor(ea); d != 24*time.Second { // 625 requests, 600 beyond the burst at 25/s
		t.Errorf("early-access floor %s", d)
	}
	// The rate-limit specs have the tenant to themselves: their bursts and refills
	// come on top of the tenant's floor (20 s), while a user's bucket refills
	// meanwhile (24 s stands alone).
	tr.Held = 9 * time.Second
	if d, why := tr.Floor(l); d != 29*time.Second || !strings.Contains(why, "525 reads for the tenant") || !strings.Contains(why, "9s of rate-limit bursts") {
		t.Errorf("floor with held time %s (%s)", d, why)
	}
	if d, why := (Traffic{Held: time.Second}).Floor(l); d != time.Second || why != "1s of rate-limit bursts and refills" {
		t.Errorf("held time alone %s (%s)", d, why)
	}
}

func TestTokenSubject(t *testing.T) {
	jwt := "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhdXRoMHwxMjMifQ.sig" // {"sub":"auth0|123"}
	if got := UserKey(jwt); got != "auth0|123" {
		t.Errorf("sub %q", got)
	}
	if got := UserKey("opaque-token-value-1234"); got != "token:opaque-token-val" {
		t.Errorf("opaque %q", got)
	}
	if UserKey("") != "" {
		t.Error("no token, no user")
	}
}

// BenchmarkPacerMyAccount is the pacer's own cost per My Account request, when no
// limit makes it wait (the tenant and user buckets of a plan with room to spare):
// what every ordinary request pays for pacing.
func BenchmarkPacerMyAccount(b *testing.B) {
	l, _ := spec.LimitPlan(spec.PlanEnterprise)
	l.Tenant = spec.Level{Read: spec.PerSecond(1e9, 1e9), Write: spec.PerSecond(1e9, 1e9), FilteredRead: spec.PerSecond(1e9, 1e9)}
	l.User = l.Tenant
	p := NewPacer(l)
	ctx := context.Background()
	users := []string{"auth0|a", "auth0|b", "auth0|c", "auth0|d"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := p.MyAccount(ctx, users[i%len(users)], "GET", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// The login user's and the tenant's buckets are shared by worker processes through
// files: two pacers (as two workers) together get a bucket's burst, and no more, at
// once.
func TestSharedUserBucketsSpanPacers(t *testing.T) {
	l, _ := spec.LimitPlan(spec.PlanEnterprise)
	dir := t.TempDir()
	a, b := NewPacer(l), NewPacer(l)
	for _, p := range []*Pacer{a, b} {
		p.ShareBucketsIn(dir)
		p.Shared("auth0|login")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for i := range 5 {
		if err := []*Pacer{a, b}[i%2].MyAccount(ctx, "auth0|login", "GET", nil); err != nil {
			t.Fatalf("read %d of the user's burst of 5 waited: %v", i+1, err)
		}
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := b.MyAccount(short, "auth0|login", "GET", nil); err == nil {
		t.Error("a sixth read of the shared user, from the other pacer, did not wait")
	}
	// A user signed up by one worker is that worker's alone.
	for range 5 {
		if err := b.MyAccount(ctx, "auth0|own", "GET", nil); err != nil {
			t.Fatal(err)
		}
	}
	// The tenant's bucket of writes (25) is the workers' together: one worker may
	// take all of it, and then the other waits.
	for i := range 25 {
		if err := a.MyAccount(ctx, "", "DELETE", nil); err != nil {
			t.Fatalf("write %d of the tenant's burst of 25 waited: %v", i+1, err)
		}
	}
	short3, cancel3 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel3()
	if err := b.MyAccount(short3, "", "DELETE", nil); err == nil {
		t.Error("a 26th write for the tenant, from the other pacer, did not wait")
	}
}

// A probe that may read either way takes the first kind whose bucket has a request
// left, also for a user whose buckets the workers share.
func TestReadyKindFollowsTheUsersBuckets(t *testing.T) {
	l, _ := spec.LimitPlan(spec.PlanEnterprise)                 // per user: 5 reads, 20 filtered reads
	jwt := "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhdXRoMHwxMjMifQ.sig" // auth0|123
	a, b := NewPacer(l), NewPacer(l)
	dir := t.TempDir()
	a.ShareBucketsIn(dir)
	b.ShareBucketsIn(dir)
	a.Shared("auth0|123")
	b.Shared("auth0|123")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if k := a.Ready(jwt, spec.Read, spec.FilteredRead); k != spec.Read {
		t.Fatalf("with 5 reads left: %s", k)
	}
	for range 5 { // the other worker draws the 5 reads
		if err := b.MyAccount(ctx, "auth0|123", "GET", nil); err != nil {
			t.Fatal(err)
		}
	}
	if k := a.Ready(jwt, spec.Read, spec.FilteredRead); k != spec.FilteredRead {
		t.Errorf("with no read and 20 filtered reads left: %s", k)
	}
	unlimited := l
	unlimited.User = spec.Level{}
	if k := NewPacer(unlimited).Ready(jwt, spec.FilteredRead, spec.Read); k != spec.FilteredRead {
		t.Errorf("without user limits the first kind: %s", k)
	}
}

// A 429 drains a common bucket: the next request waits for its refill, in this
// process and, through the shared file, in every worker's.
func TestDrainedCommonBucketMakesTheNextWait(t *testing.T) {
	l, _ := spec.LimitPlan(spec.PlanEnterprise)
	l.ManagementAPI = spec.PerSecond(4, 50) // a token every 263 ms at the pace rate
	for _, shared := range []bool{false, true} {
		p := NewPacer(l)
		if shared {
			p.ShareBucketsIn(t.TempDir())
		}
		ctx := context.Background()
		if err := p.Management(ctx); err != nil {
			t.Fatal(err)
		}
		p.DrainedCommon(BucketManagementAPI)
		start := time.Now()
		if err := p.Management(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("shared %v: the request after the drain went after %s, not after the refill", shared, d)
		}
		if got := p.Traffic().ManagementAPI; got != 2 {
			t.Errorf("shared %v: %d Management API requests counted, want 2", shared, got)
		}
	}
	var tr Traffic
	tr.AuthenticationAPI = 150
	if floor, why := tr.Floor(l); floor < 490*time.Millisecond || !strings.Contains(why, "Authentication API") {
		t.Errorf("150 Authentication API requests at 100/s, burst 100: floor %s (%s)", floor, why)
	}
}

// UserHas counts what the pacer let through for a user: a user it has not seen
// holds a full bucket, one that spent its writes holds no write.
func TestUserHas(t *testing.T) {
	l, _ := spec.LimitPlan(spec.PlanEnterprise)
	p := NewPacer(l)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if !p.UserHas("auth0|new", map[spec.Kind]int{spec.Write: 5, spec.Read: 5}) {
		t.Error("a new user has no room")
	}
	for range 4 {
		if err := p.MyAccount(ctx, "auth0|a", "DELETE", nil); err != nil {
			t.Fatal(err)
		}
	}
	if !p.UserHas("auth0|a", map[spec.Kind]int{spec.Write: 1, spec.Read: 5}) {
		t.Error("one write and five reads left are not room for them")
	}
	if p.UserHas("auth0|a", map[spec.Kind]int{spec.Write: 2}) {
		t.Error("a user with one write left has room for two")
	}
}

// The pacer keeps in hand what requests let go within arrivalSpread can take from a
// fast bucket, and all of a slow one.
func TestPaceBurstKeepsARequestsSpreadInHand(t *testing.T) {
	for _, c := range []struct {
		b    spec.Bucket
		want int
	}{
		{spec.PerSecond(25, 25), 22},   // the enterprise tenant's reads and writes
		{spec.PerSecond(100, 100), 90}, // its filtered reads
		{spec.PerSecond(10000, 10000), 9000},
		{spec.PerMinute(5, 5), 5},    // a user's
		{spec.PerMinute(50, 50), 50}, // the signups'
		{spec.PerSecond(2, 1), 1},    // never below one
	} {
		if got := paceBurst(c.b); got != c.want {
			t.Errorf("%v: pacer burst %d, want %d", c.b, got, c.want)
		}
	}
}
