package framework

import (
	"context"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// budgetRate is the fraction of the documented per-user refill a pool counts on:
// less than the pacer's, so that a user a pool hands out never makes the pacer wait.
const budgetRate = 0.8

// Member is what a pool lends: a user the suite signed up, or an area's view of one
// (a struct embedding *User).
type Member interface {
	comparable
	user() *User
}

func (u *User) user() *User { return u }

// Pool lends users with enough of their per-user buckets left for a group of
// requests (PROTOCOL §6: Auth0 lets one user make 5 reads and 5 writes a minute),
// signing a new one up only when none has: a user that spent its budget is lent
// again once its buckets have refilled. U is what an area keeps of a user.
type Pool[U Member] struct {
	// signUp makes a user and says what the signup itself took from its buckets.
	signUp func(ctx context.Context) (U, Budget)
	mu     sync.Mutex
	users  []U
	left   map[U]map[spec.Kind]*rate.Limiter
}

// NewPool is a pool whose users signUp makes.
func NewPool[U Member](signUp func(ctx context.Context) (U, Budget)) *Pool[U] {
	return &Pool[U]{signUp: signUp, left: map[U]map[spec.Kind]*rate.Limiter{}}
}

// Take lends a user with need left, other than those avoid rejects, and spends need
// from its budget; what the calling node sends as the user is held to need
// (watchBudget). A new user has spent what its signup took: groups of requests
// are sized to fit what is left (beyond a bucket, the pacer waits). When no user
// has need left, Take signs one up if a signup may go now, and otherwise waits for
// whichever comes first, one of its users having room or the signup's turn: the
// signups of a run are limited too (Suspicious IP Throttling), and a signup that
// waits its turn holds up the other workers' too.
func (p *Pool[U]) Take(ctx context.Context, need Budget, avoid func(U) bool) U {
wait:
	for {
		p.mu.Lock()
		soonest := time.Duration(-1)
		for _, u := range p.users {
			if avoid != nil && avoid(u) {
				continue
			}
			if p.spend(u, need) {
				p.mu.Unlock()
				watchBudget(u.user().Subject, need)
				return u
			}
			if d := p.due(u, need); d >= 0 && (soonest < 0 || d < soonest) {
				soonest = d
			}
		}
		p.mu.Unlock()
		due := F.Client.Pacer.SignupDue()
		if soonest < 0 || due == 0 { // no user can ever have need, or a signup may go now
			break
		}
		select {
		case <-ctx.Done():
			break wait // the signup fails with the context's error
		case <-time.After(max(min(soonest, due), 50*time.Millisecond)):
		}
	}
	u, spent := p.signUp(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.left[u] = userBudget()
	p.users = append(p.users, u)
	p.spend(u, spent)
	p.spend(u, need)
	watchBudget(u.user().Subject, need)
	return u
}

// TryTake is Take without a signup or a wait: ok is false when no user has need
// left now.
func (p *Pool[U]) TryTake(need Budget, avoid func(U) bool) (u U, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range p.users {
		if (avoid == nil || !avoid(u)) && p.spend(u, need) {
			return u, true
		}
	}
	return u, false
}

// due is how long until u has need left (-1: never, need is beyond its buckets).
// Callers hold mu.
func (p *Pool[U]) due(u U, need Budget) time.Duration {
	now, left := time.Now(), p.left[u]
	var d time.Duration
	for k, n := range need {
		l := left[k]
		if l == nil || n <= 0 {
			continue
		}
		if n > l.Burst() {
			return -1
		}
		if missing := float64(n) - l.TokensAt(now); missing > 0 {
			d = max(d, time.Duration(missing/float64(l.Limit())*float64(time.Second)))
		}
	}
	return d
}

// Users are the users signed up so far, oldest first.
func (p *Pool[U]) Users() []U {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.users)
}

// spend takes need from u's buckets if it is all there. Callers hold mu.
func (p *Pool[U]) spend(u U, need Budget) bool {
	now, left := time.Now(), p.left[u]
	for k, n := range need {
		if l := left[k]; l != nil && n > 0 && l.TokensAt(now) < float64(n) {
			return false
		}
	}
	for k, n := range need {
		if l := left[k]; l != nil && n > 0 {
			l.AllowN(now, n)
		}
	}
	return true
}

// userBudget is a full set of a new user's buckets, refilling at budgetRate of the
// documented rate (none where the model has no per-user limit).
func userBudget() map[spec.Kind]*rate.Limiter {
	out := map[spec.Kind]*rate.Limiter{}
	for _, k := range spec.Kinds {
		if b := UserBucket(k); !b.Unlimited() {
			out[k] = rate.NewLimiter(rate.Limit(b.Rate*budgetRate), b.Burst)
		}
	}
	return out
}

// UserBucket is the documented per-user bucket of kind k (unlimited when the model
// has none).
func UserBucket(k spec.Kind) spec.Bucket {
	l := F.Client.Pacer.Limits()
	if l.User.Unlimited() {
		return spec.Bucket{}
	}
	return l.User.Bucket(k)
}
