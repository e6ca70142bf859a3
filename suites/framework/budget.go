package framework

import "github.com/myaccount-conformance/myaccount-conformance/spec"

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
