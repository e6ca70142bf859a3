// Package ratelimit holds the rate-limit specs: bursts at the tenant's and a user's
// buckets of each kind, sent as planned (plan.go, traffic.go, scenarios.go), recorded
// (history.go) and judged by a pure oracle (oracle.go, judges.go, headers.go) that is
// tested offline on recorded bursts in testdata; specs.go turns its verdicts into results.
package ratelimit
