package framework

import (
	"fmt"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// Budget is what a group of requests takes from one user's buckets: requests per
// kind. Specs size what they ask of a user with it, and the user pools lend users
// with that much left.
type Budget map[spec.Kind]int

// Add is b with n more requests of kind k.
func (b Budget) Add(k spec.Kind, n int) Budget {
	return b.Plus(Budget{k: n})
}

// Times is b n times over.
func (b Budget) Times(n int) Budget {
	out := Budget{}
	for k, v := range b {
		out[k] = v * n
	}
	return out
}

// Plus is b and o together.
func (b Budget) Plus(o Budget) Budget {
	out := Budget{}
	for k, v := range b {
		out[k] = v
	}
	for k, v := range o {
		out[k] += v
	}
	return out
}

// WholeUser is every request a user's buckets hold at once: for a container that
// uses its user throughout.
func WholeUser() Budget {
	out := Budget{}
	for _, k := range spec.Kinds {
		if b := UserBucket(k); !b.Unlimited() {
			out[k] = b.Burst
		}
	}
	return out
}

// watchBudget holds the node that borrowed the user subject for need to what it
// asked: when the node is over, what it sent as that user beyond need (several
// borrowings of one user in one node add up) is noted as an overrun in the run's
// traffic. A budget asked too small costs nothing against the reference but makes a
// real tenant's run wait for the user's refill.
func watchBudget(subject string, need Budget) {
	node := CurrentSpecReport().FullText()
	key := node + "\x00" + subject
	watchMu.Lock()
	asked, watching := watched[key]
	watched[key] = asked.Plus(need)
	watchMu.Unlock()
	if watching {
		return
	}
	before := F.Client.Pacer.UserCounts(subject)
	DeferCleanup(func() {
		watchMu.Lock()
		asked := watched[key]
		delete(watched, key)
		watchMu.Unlock()
		var over []string
		for k, n := range F.Client.Pacer.UserCounts(subject) {
			if sent := n - before[k]; sent > asked[k] && !UserBucket(k).Unlimited() {
				over = append(over, fmt.Sprintf("%d %ss as one user, %d asked", sent, k, asked[k]))
			}
		}
		if len(over) > 0 {
			F.Client.Pacer.NoteOverrun(node + ": " + strings.Join(over, "; "))
		}
	})
}

var (
	watchMu sync.Mutex
	watched = map[string]Budget{}
)
