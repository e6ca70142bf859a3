package pace

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// The worker processes of a parallel run each sign up their own users, whose limits
// each paces alone. The buckets every worker draws on — the tenant's, the login
// prompts', the signups', the Authentication API's and the Management API's, and those of the target config's login user, whom every
// worker logs in through Universal Login — are kept in files that the workers lock in
// turn (fileBucket): together they stay within those limits, and a worker that needs
// a bucket while the others do not gets all of it.

// waiter is a bucket a request waits on: a process's own (rate.Limiter) or one the
// workers share (fileBucket).
type waiter interface {
	Wait(ctx context.Context) error
	// TokensAt is how many requests the bucket would let through at t.
	TokensAt(t time.Time) float64
}

// fileBucket is a token bucket whose state (tokens, and when they were counted) is
// a file, changed under an exclusive lock. A caller takes a token at once, and when
// there is none it reserves the next one and sleeps until it is due, as
// rate.Limiter.Wait does.
type fileBucket struct {
	path  string
	rate  float64 // tokens per second
	burst float64
}

func (b *fileBucket) Wait(ctx context.Context) error {
	wait, err := b.reserve(time.Now())
	if err != nil || wait <= 0 {
		return err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// TokensAt reads the bucket's tokens at t without taking one.
func (b *fileBucket) TokensAt(t time.Time) float64 {
	f, err := os.Open(b.path)
	if err != nil {
		return b.burst // no file yet: no worker has drawn on it
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_SH) != nil {
		return 0
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	var state [16]byte
	if n, _ := f.ReadAt(state[:], 0); n != len(state) {
		return b.burst
	}
	tokens := math.Float64frombits(binary.LittleEndian.Uint64(state[:8]))
	at := time.Unix(0, int64(binary.LittleEndian.Uint64(state[8:])))
	if t.After(at) {
		tokens = min(b.burst, tokens+b.rate*t.Sub(at).Seconds())
	}
	return tokens
}

// drain empties the bucket at now (keeping a debt: tokens already reserved).
func (b *fileBucket) drain(now time.Time) error {
	return b.update(now, func(tokens float64) float64 { return min(tokens, 0) })
}

// reserve takes a token at now and says how long until it is due.
func (b *fileBucket) reserve(now time.Time) (time.Duration, error) {
	var left float64
	err := b.update(now, func(tokens float64) float64 {
		left = tokens - 1
		return left
	})
	if err != nil || left >= 0 {
		return 0, err
	}
	return time.Duration(-left / b.rate * float64(time.Second)), nil
}

// update sets the bucket's tokens, refilled up to now, to what change makes of
// them, under the file's lock.
func (b *fileBucket) update(now time.Time, change func(tokens float64) float64) error {
	f, err := os.OpenFile(b.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", b.path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	var state [16]byte
	tokens, at := b.burst, now
	if n, _ := f.ReadAt(state[:], 0); n == len(state) {
		tokens = math.Float64frombits(binary.LittleEndian.Uint64(state[:8]))
		at = time.Unix(0, int64(binary.LittleEndian.Uint64(state[8:])))
	}
	if now.After(at) {
		tokens = min(b.burst, tokens+b.rate*now.Sub(at).Seconds())
		at = now
	}
	tokens = change(tokens)
	binary.LittleEndian.PutUint64(state[:8], math.Float64bits(tokens))
	binary.LittleEndian.PutUint64(state[8:], uint64(at.UnixNano()))
	_, err = f.WriteAt(state[:], 0)
	return err
}

// ShareBucketsIn keeps the tenant's buckets, the login prompts' and the signups', and
// those of the users marked Shared, in dir, which every worker process of the run is
// given; each worker then draws on the whole of them (its share no longer applies).
func (p *Pacer) ShareBucketsIn(dir string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sharedDir = dir
	p.commonBuckets(p.fileBucket)
}

// SharedDir is the directory of the buckets the workers share ("" outside a
// parallel run): other state the workers share (the login sessions) goes there too.
func (p *Pacer) SharedDir() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sharedDir
}

// fileBucket is the shared bucket named name for b; nil when b limits nothing.
// p.mu is held.
func (p *Pacer) fileBucket(name string, b spec.Bucket) waiter {
	if b.Unlimited() {
		return nil
	}
	return &fileBucket{path: filepath.Join(p.sharedDir, name), rate: b.Rate * paceRate, burst: float64(paceBurst(b))}
}

// Shared marks user as one every worker process may use (the config's login user):
// from now on its buckets are the ones the workers share. Outside a parallel run it
// does nothing.
func (p *Pacer) Shared(user string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if user == "" || p.sharedDir == "" || p.shared[user] {
		return
	}
	if p.shared == nil {
		p.shared = map[string]bool{}
	}
	p.shared[user] = true
	delete(p.users, user) // made anew, shared, at its next request
}

// userBucket is user's bucket for b, the workers' shared one for a Shared user;
// p.mu is held. nil when b limits nothing.
func (p *Pacer) userBucket(user string, k spec.Kind, b spec.Bucket) waiter {
	if b.Unlimited() {
		return nil
	}
	if p.shared[user] {
		sum := sha256.Sum256([]byte(user))
		return p.fileBucket("user-"+hex.EncodeToString(sum[:8])+"-"+string(k), b)
	}
	return limiter(b)
}

var _ waiter = (*rate.Limiter)(nil)
