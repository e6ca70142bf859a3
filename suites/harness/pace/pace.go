package pace

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/claims"
)

// The suite's own traffic must never trip a limit of a correct target (PROTOCOL §6):
// against Auth0 one user may make 5 reads and 5 writes a minute, so a run that ignores
// the user level fails a correct tenant in its first minute. The Pacer holds every
// ordinary request to the target's model: My Account requests to the tenant's bucket
// of their kind and to their user's, native passkey signups to the signup limit,
// Universal Login prompt posts to theirs, the other Authentication API requests to
// the tenant's Authentication API limit, the user deletions to the Management API's.
// Bursts bypass it on purpose.

// paceRate is the fraction of a documented refill rate the suite uses: a token comes
// back a little later than the target's own (5%: 60 ms a token at 1/s, 0.6 s at
// 5/min), so rounding and clock drift never put the suite ahead of the target's
// bucket. Buckets start full, as the target's do.
const paceRate = 0.95

// arrivalSpread is how much later than its neighbours a request may reach the
// target after the pacer let it go (a slow connection, a busy machine, a route
// whose latency varies): the target's bucket counts arrivals, so requests let go
// over a span can arrive bunched, and a bucket the pacer ran down to its last
// tokens would then be short of about rate × arrivalSpread of them. paceBurst
// keeps that many in hand. (Seen: 27 writes let go over 85 ms on a loaded 2-core
// machine drew a 429 from a correct tenant bucket of 25 at 25/s.)
const arrivalSpread = 100 * time.Millisecond

// paceBurst is the bucket size the pacer uses for b: b's burst less what requests
// let go within arrivalSpread can take (nothing where the refill is slow: a user's,
// the login prompts', the signups'), at least 1.
func paceBurst(b spec.Bucket) int {
	return max(1, b.Burst-int(math.Round(b.Rate*arrivalSpread.Seconds())))
}

// Pacer paces requests under a limit model. It is safe for concurrent use.
type Pacer struct {
	limits spec.Limits

	tenant  map[spec.Kind]waiter // one entry per bucket (shared kinds share one); nil: no limit
	login   waiter
	signups waiter
	auth    waiter // the Authentication API (any request but the login prompts)
	token   waiter // /oauth/token, where the plan limits it apart
	mgmt    waiter // the Management API

	mu    sync.Mutex
	users map[string]map[spec.Kind]waiter
	// sharedDir holds, in a parallel run, the common buckets and those of the users
	// every worker may use (shared).
	sharedDir string
	shared    map[string]bool
	traffic   Traffic
}

// Traffic is what a run sent through the pacer, for the report and the floor.
type Traffic struct {
	// MyAccount counts My Account requests per kind, Users the users that made them
	// (and how many of each kind each made), Signups and LoginPosts the others.
	MyAccount  map[spec.Kind]int
	Users      map[string]map[spec.Kind]int
	Signups    int
	LoginPosts int
	// AuthenticationAPI counts the Authentication API requests (signups and token
	// requests included, the login prompts not), ManagementAPI the Management API's.
	AuthenticationAPI int `json:",omitempty"`
	ManagementAPI     int `json:",omitempty"`
	// Waited is the time requests spent waiting for a limit, per limit.
	Waited map[string]time.Duration
	// Unplanned are the 429s ordinary requests drew (each retried after its
	// retry-after); a correct target and a correct suite draw none.
	Unplanned []Unplanned
	// Overruns are the groups of requests that took more from a user's buckets than
	// their spec asked the user pools for ("<spec>: 5 writes as one user, 4 asked"):
	// a budget the suite got wrong, which makes the pacer wait for a refill against a
	// real tenant. A correct suite has none.
	Overruns []string `json:",omitempty"`
	// Answers counts the answers per operation of our descriptions and status
	// ("GET /factors 200"), bursts included: what the run exercised.
	Answers map[string]int
	// Held is the time the rate-limit specs spent as the limits they test set it:
	// bursts sent at a rate the plan fixes (first to last request) and waits for a
	// bucket to refill or for retry-after. Those specs have the tenant's buckets to
	// themselves (Serial), so Floor adds this time to theirs.
	Held time.Duration `json:",omitempty"`
}

// Unplanned is one 429 an ordinary request drew.
type Unplanned struct {
	At         time.Time
	Request    string // "GET https://…/me/v1/factors"
	Kind       string // x-auth0-error-kind, when given
	RetryAfter string
}

// NewPacer paces under l, with buckets of its own (ShareBucketsIn puts the common
// ones in files the worker processes of a parallel run share).
func NewPacer(l spec.Limits) *Pacer {
	p := &Pacer{limits: l, tenant: map[spec.Kind]waiter{}, users: map[string]map[spec.Kind]waiter{}}
	p.traffic = Traffic{MyAccount: map[spec.Kind]int{}, Users: map[string]map[spec.Kind]int{}, Waited: map[string]time.Duration{}, Answers: map[string]int{}}
	p.commonBuckets(func(_ string, b spec.Bucket) waiter { return limiter(b) })
	return p
}

// commonBuckets sets the buckets that requests of every user draw on (the tenant's,
// the login prompts', the signups'), made by mk; nil where a bucket limits nothing.
func (p *Pacer) commonBuckets(mk func(name string, b spec.Bucket) waiter) {
	l := p.limits
	for _, k := range spec.Kinds { // reads first: a shared tenant bucket is theirs
		if l.Tenant.Shared && k != spec.Read {
			p.tenant[k] = p.tenant[spec.Read]
			continue
		}
		p.tenant[k] = mk("tenant-"+string(k), l.Tenant.Bucket(k))
	}
	p.login = mk("login-prompts", l.LoginPrompts)
	p.signups = mk("signups", l.Signups)
	p.auth = mk("authentication-api", l.AuthenticationAPI)
	p.token = mk("token-endpoint", l.TokenEndpoint)
	p.mgmt = mk("management-api", l.ManagementAPI)
}

// limiter is a token bucket for b, this process's own; nil when b limits nothing.
func limiter(b spec.Bucket) waiter {
	if b.Unlimited() {
		return nil
	}
	return rate.NewLimiter(rate.Limit(b.Rate*paceRate), paceBurst(b))
}

// Limits is the model the pacer keeps to.
func (p *Pacer) Limits() spec.Limits { return p.limits }

// MyAccount waits until a My Account request of user (the token's subject; "" when
// the request carries none) and of the kind its method and query make may go.
func (p *Pacer) MyAccount(ctx context.Context, user, method string, query url.Values) error {
	k := spec.KindOf(method, query)
	p.mu.Lock()
	p.traffic.MyAccount[k]++
	var ul waiter
	if user != "" && !p.limits.User.Unlimited() {
		byKind := p.userBuckets(user)
		key := k
		if p.limits.User.Shared {
			key = spec.Read
		}
		if byKind[key] == nil {
			byKind[key] = p.userBucket(user, key, p.limits.User.Bucket(k))
		}
		ul = byKind[key]
		p.traffic.Users[user][k]++
	}
	p.mu.Unlock()
	if err := p.wait(ctx, ul, "user "+string(k)+"s"); err != nil {
		return err
	}
	return p.wait(ctx, p.tenant[k], "tenant "+string(k)+"s")
}

// Ready is the first of kinds whose bucket of the user token belongs to lets a
// request through now, or, when none does, the one with most left (the first kind
// where users have no limit): a request that may take any of these forms (a probe
// of whether the API takes a token) waits only when every bucket is empty.
func (p *Pacer) Ready(token string, kinds ...spec.Kind) spec.Kind {
	user := UserKey(token)
	p.mu.Lock()
	defer p.mu.Unlock()
	if user == "" || p.limits.User.Unlimited() || p.limits.User.Shared {
		return kinds[0]
	}
	now := time.Now()
	best, most := kinds[0], math.Inf(-1)
	for _, k := range kinds {
		b := p.limits.User.Bucket(k)
		if b.Unlimited() {
			return k
		}
		byKind := p.userBuckets(user)
		if byKind[k] == nil {
			byKind[k] = p.userBucket(user, k, b)
		}
		left := byKind[k].TokensAt(now)
		if left >= 1 {
			return k
		}
		if left > most {
			best, most = k, left
		}
	}
	return best
}

// UserTokens is how many requests of kind k user may send now by this pacer's
// count (the bucket's burst when the user sent none of the kind; +Inf when users
// have no limit of the kind; 0 for a user the workers share, whose buckets this
// pacer made anew when they became shared).
func (p *Pacer) UserTokens(user string, k spec.Kind) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.limits.User.Bucket(k)
	if p.limits.User.Unlimited() || b.Unlimited() {
		return math.Inf(1)
	}
	if p.shared[user] {
		return 0
	}
	if p.limits.User.Shared {
		k = spec.Read
	}
	if w := p.users[user][k]; w != nil {
		return min(w.TokensAt(time.Now()), float64(b.Burst))
	}
	return float64(b.Burst)
}

// UserFull says whether every bucket of user is full (or not made yet: the user
// sent nothing through this pacer): the user may take a whole burst of any kind. A
// user the workers share never is (see UserTokens).
func (p *Pacer) UserFull(user string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if user == "" || p.limits.User.Unlimited() {
		return true
	}
	if p.shared[user] {
		return false
	}
	now := time.Now()
	for k, w := range p.users[user] {
		if w != nil && w.TokensAt(now) < float64(p.limits.User.Bucket(k).Burst)-0.01 {
			return false
		}
	}
	return true
}

// UserHas says whether user's buckets hold need now, by the requests the pacer let
// through (a user it has not seen has full buckets): a user lent for need then waits
// on no bucket of its own, whatever earlier borrowers sent.
func (p *Pacer) UserHas(user string, need map[spec.Kind]int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if user == "" || p.limits.User.Unlimited() {
		return true
	}
	now := time.Now()
	buckets := p.users[user]
	for k, n := range need {
		if n <= 0 {
			continue
		}
		if p.limits.User.Shared {
			k = spec.Read
		}
		if w := buckets[k]; w != nil && w.TokensAt(now) < float64(n) {
			return false
		}
	}
	return true
}

// TenantFullAt is when the tenant's bucket of kind k is full again after the
// requests the pacer let through, refilled at the target's rate (now when it is
// full or unlimited): the rate-limit specs start their bursts from full buckets.
func (p *Pacer) TenantFullAt(k spec.Kind) time.Time {
	now := time.Now()
	p.mu.Lock()
	w := p.tenant[k]
	p.mu.Unlock()
	b := p.limits.Tenant.Bucket(k)
	if p.limits.Tenant.Shared {
		b = p.limits.Tenant.Read
	}
	if w == nil || b.Unlimited() {
		return now
	}
	var size float64
	switch w := w.(type) {
	case *rate.Limiter:
		size = float64(w.Burst())
	case *fileBucket:
		size = w.burst
	}
	missing := size - w.TokensAt(now)
	if missing <= 0 {
		return now
	}
	return now.Add(time.Duration(missing / b.Rate * float64(time.Second)))
}

// LoginPost waits until a Universal Login prompt may be posted.
func (p *Pacer) LoginPost(ctx context.Context) error {
	p.mu.Lock()
	p.traffic.LoginPosts++
	p.mu.Unlock()
	return p.wait(ctx, p.login, "login prompts")
}

// Signup waits until a user may be signed up (a signup is an Authentication API
// request too).
func (p *Pacer) Signup(ctx context.Context) error {
	p.mu.Lock()
	p.traffic.Signups++
	p.mu.Unlock()
	if err := p.wait(ctx, p.signups, "signups"); err != nil {
		return err
	}
	return p.AuthenticationAPI(ctx, false)
}

// SignupDue is how long until a signup may go without waiting (0: now): a user
// pool that can wait less for one of its users to have room lends that user
// instead of signing a new one up.
func (p *Pacer) SignupDue() time.Duration {
	p.mu.Lock()
	w := p.signups
	p.mu.Unlock()
	b := p.limits.Signups
	if w == nil || b.Unlimited() {
		return 0
	}
	left := w.TokensAt(time.Now())
	if left >= 1 {
		return 0
	}
	return time.Duration((1 - left) / (b.Rate * paceRate) * float64(time.Second))
}

// AuthenticationAPI waits until an Authentication API request may go (token: one
// to /oauth/token).
func (p *Pacer) AuthenticationAPI(ctx context.Context, token bool) error {
	p.mu.Lock()
	p.traffic.AuthenticationAPI++
	p.mu.Unlock()
	if token {
		if err := p.wait(ctx, p.token, "token endpoint"); err != nil {
			return err
		}
	}
	return p.wait(ctx, p.auth, "Authentication API")
}

// Management waits until a Management API request may go.
func (p *Pacer) Management(ctx context.Context) error {
	p.mu.Lock()
	p.traffic.ManagementAPI++
	p.mu.Unlock()
	return p.wait(ctx, p.mgmt, "Management API")
}

// Common buckets a 429 can say are empty (DrainedCommon).
const (
	BucketLoginPrompts      = "login prompts"
	BucketSignups           = "signups"
	BucketAuthenticationAPI = "Authentication API"
	BucketTokenEndpoint     = "token endpoint"
	BucketManagementAPI     = "Management API"
)

// DrainedCommon tells the pacer that the target's bucket named (Bucket…) is empty
// (a request drew a 429 from it), so the next requests wait for its refill instead
// of drawing a 429 of their own; in a parallel run every worker's do.
func (p *Pacer) DrainedCommon(name string) {
	p.mu.Lock()
	w := map[string]waiter{BucketLoginPrompts: p.login, BucketSignups: p.signups,
		BucketAuthenticationAPI: p.auth, BucketTokenEndpoint: p.token, BucketManagementAPI: p.mgmt}[name]
	p.mu.Unlock()
	drain(w)
}

// drain empties w at now.
func drain(w waiter) {
	now := time.Now()
	switch w := w.(type) {
	case *rate.Limiter:
		if n := int(math.Floor(w.TokensAt(now))); n > 0 {
			w.ReserveN(now, n)
		}
	case *fileBucket:
		_ = w.drain(now)
	}
}

func (p *Pacer) wait(ctx context.Context, l waiter, what string) error {
	if l == nil {
		return nil
	}
	start := time.Now()
	if err := l.Wait(ctx); err != nil {
		return fmt.Errorf("waiting for the %s limit (%s): %w", what, p.limits, err)
	}
	if d := time.Since(start); d > time.Millisecond {
		p.mu.Lock()
		p.traffic.Waited[what] += d
		p.mu.Unlock()
	}
	return nil
}

// NoteUnplanned notes a 429 an ordinary request drew.
func (p *Pacer) NoteUnplanned(req *http.Request, h http.Header) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := *req.URL
	u.RawQuery = ""
	p.traffic.Unplanned = append(p.traffic.Unplanned, Unplanned{At: time.Now(), Request: req.Method + " " + u.String(),
		Kind: h.Get("X-Auth0-Error-Kind"), RetryAfter: h.Get("Retry-After")})
}

// UserCounts is how many My Account requests of each kind user has sent so far.
func (p *Pacer) UserCounts(user string) map[spec.Kind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.traffic.Users[user])
}

// NoteOverrun notes a group of requests that took more from a user's buckets than
// asked (Traffic.Overruns).
func (p *Pacer) NoteOverrun(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.traffic.Overruns = append(p.traffic.Overruns, what)
}

// Hold notes time a rate-limit spec spent as its limits set it (Traffic.Held).
func (p *Pacer) Hold(d time.Duration) {
	if d <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.traffic.Held += d
}

// Answered notes an answer to an operation of our descriptions ("METHOD /path").
func (p *Pacer) Answered(operation string, status int) {
	if operation == "" || status == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.traffic.Answers[fmt.Sprintf("%s %d", operation, status)]++
}

// Traffic returns a copy of what went through the pacer so far.
func (p *Pacer) Traffic() Traffic {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.traffic
	t.MyAccount = maps.Clone(t.MyAccount)
	t.Waited = maps.Clone(t.Waited)
	t.Unplanned = slices.Clone(t.Unplanned)
	t.Overruns = slices.Clone(t.Overruns)
	t.Answers = maps.Clone(t.Answers)
	t.Users = make(map[string]map[spec.Kind]int, len(p.traffic.Users))
	for u, m := range p.traffic.Users {
		t.Users[u] = maps.Clone(m)
	}
	return t
}

// ParentTrafficFile, in the shared directory of a parallel run, holds what the
// parent process sent before its workers started (the probe and the preflight): the
// first worker attaches it to the report beside the workers' own (Entry).
const ParentTrafficFile = "parent-traffic.json"

// Entry is what the report keeps of p's traffic so far: the figures, their floor
// under p's model and the model (a run in several processes has one per process,
// and the report recomputes the floor over their sum).
func (p *Pacer) Entry() []byte {
	tr, model := p.Traffic(), p.Limits()
	floor, why := tr.Floor(model)
	data, _ := json.Marshal(map[string]any{"traffic": tr, "floor": floor.String(), "floor_reason": why, "limits": model.String(), "model": model})
	return data
}

// UserKey is the sub claim of a JWT, read without verifying it (the target
// verifies; the pacer only needs to know whose bucket a request draws on). Tokens
// that are not JWTs are keyed by a prefix of themselves.
func UserKey(token string) string {
	if token == "" {
		return ""
	}
	if sub := claims.Subject(token); sub != "" {
		return sub
	}
	return "token:" + token[:min(len(token), 16)]
}

// Drained tells the pacer that the target's bucket of kind k for user is empty (a
// burst that went round the pacer drew 429s from it), so the user's next requests
// of that kind wait for the target's refill instead of drawing a 429 of their own.
func (p *Pacer) Drained(user string, k spec.Kind) {
	if user == "" || p.limits.User.Unlimited() {
		return
	}
	if p.limits.User.Shared {
		k = spec.Read
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	byKind := p.userBuckets(user)
	if byKind[k] == nil {
		byKind[k] = p.userBucket(user, k, p.limits.User.Bucket(k))
	}
	drain(byKind[k])
}

// userBuckets are user's buckets by kind, made (empty) at its first request; p.mu
// is held.
func (p *Pacer) userBuckets(user string) map[spec.Kind]waiter {
	byKind, ok := p.users[user]
	if !ok {
		byKind = map[spec.Kind]waiter{}
		p.users[user] = byKind
		if p.traffic.Users[user] == nil {
			p.traffic.Users[user] = map[spec.Kind]int{}
		}
	}
	return byKind
}
