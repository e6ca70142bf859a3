package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/pace"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// The suite's last node (suites.AfterSuite) attaches what its process sent through
// the pacer (a verdict.Traffic entry) and the users it signed up (verdict.Users). A
// run in N Ginkgo processes has N of each; the run's traffic is their sum, and its
// floor, the least time that traffic can take under the limits, is recomputed over
// the sum: each process's own floor only covers its share.

// trafficEntry is the value of one verdict.Traffic entry.
type trafficEntry struct {
	Traffic     pace.Traffic `json:"traffic"`
	Floor       string       `json:"floor"`
	FloorReason string       `json:"floor_reason"`
	Limits      string       `json:"limits"`
	// Model is the limit model the pacer kept to; entries of older suite versions
	// lack it.
	Model *spec.Limits `json:"model"`
}

// usersEntry is the value of one verdict.Users entry.
type usersEntry struct {
	Users     []string `json:"users"`
	UsersWere string   `json:"users_were"`
	Leftovers []string `json:"leftovers"`
}

// RunTraffic is a run's traffic, merged over the processes that ran it.
type RunTraffic struct {
	// Processes is how many processes attached traffic (a parallel run's first
	// worker attaches the parent's as well).
	Processes int
	Traffic   pace.Traffic
	// Model is the limit model the floor was computed under (nil when no entry
	// carried one: then Floor is the largest floor a process reported).
	Model       *spec.Limits
	Limits      string
	Floor       time.Duration
	FloorReason string
	// Users are the users the run signed up ("id email" lines), UsersWere what
	// became of them (one line per distinct account the processes gave), Leftovers
	// what the run could not remove.
	Users     []string
	UsersWere []string
	Leftovers []string
	// Notes say what the merge could not do cleanly (an unreadable entry,
	// processes that kept to different models).
	Notes []string
}

// CollectTraffic finds every traffic and users entry of a report, wherever it sits
// (the suite attaches them to its AfterSuite node, one per process), and merges them:
// counts and waits are summed, users and leftovers joined, unplanned 429s put in
// time order, and the floor recomputed with Traffic.Floor over the sum. ok is false
// when the report holds no traffic entry.
func CollectTraffic(r types.Report) (rt RunTraffic, ok bool) {
	var (
		entries []trafficEntry
		users   []usersEntry
		procs   = map[int]bool{} // the processes that attached traffic
	)
	for _, s := range r.SpecReports {
		for _, e := range s.ReportEntries {
			switch e.Name {
			case verdict.Traffic:
				var t trafficEntry
				if err := json.Unmarshal([]byte(EntryString(e)), &t); err != nil {
					rt.Notes = append(rt.Notes, fmt.Sprintf("process %d: traffic entry unreadable: %v", s.ParallelProcess, err))
					continue
				}
				entries = append(entries, t)
				procs[s.ParallelProcess] = true
			case verdict.Users:
				var u usersEntry
				if err := json.Unmarshal([]byte(EntryString(e)), &u); err != nil {
					rt.Notes = append(rt.Notes, fmt.Sprintf("process %d: users entry unreadable: %v", s.ParallelProcess, err))
					continue
				}
				users = append(users, u)
			}
		}
	}
	if len(entries) == 0 && len(users) == 0 {
		return rt, len(rt.Notes) > 0
	}
	// The first worker also attaches the parent's traffic (its probe and preflight):
	// counted in the sum, but no process of the specs.
	rt.Processes = len(procs)
	all := make([]pace.Traffic, len(entries))
	for i, e := range entries {
		all[i] = e.Traffic
	}
	rt.Traffic = MergeTraffic(all...)
	var reported time.Duration // the largest floor a process reported
	reportedWhy := ""
	for _, e := range entries {
		if e.Model != nil {
			if rt.Model == nil {
				m := *e.Model
				rt.Model, rt.Limits = &m, e.Limits
			} else if *e.Model != *rt.Model {
				rt.Notes = append(rt.Notes, fmt.Sprintf("processes kept to different limit models (%s and %s); the floor uses the first", rt.Limits, e.Limits))
			}
		}
		if rt.Limits == "" {
			rt.Limits = e.Limits
		}
		if d, err := time.ParseDuration(e.Floor); err == nil && d >= reported {
			reported, reportedWhy = d, e.FloorReason
		}
	}
	if rt.Model != nil {
		rt.Floor, rt.FloorReason = rt.Traffic.Floor(*rt.Model)
		if rt.Limits == "" {
			rt.Limits = rt.Model.String()
		}
	} else if len(entries) > 0 {
		rt.Floor, rt.FloorReason = reported, reportedWhy
		if len(entries) > 1 {
			rt.Notes = append(rt.Notes, "the traffic entries carry no limit model: the floor is the largest one a process reported, not one over the whole run")
		}
	}
	seen := map[string]bool{}
	for _, u := range users {
		for _, line := range u.Users {
			if !seen[line] {
				seen[line] = true
				rt.Users = append(rt.Users, line)
			}
		}
		if u.UsersWere != "" && !slices.Contains(rt.UsersWere, u.UsersWere) {
			rt.UsersWere = append(rt.UsersWere, u.UsersWere)
		}
		rt.Leftovers = append(rt.Leftovers, u.Leftovers...)
	}
	return rt, true
}

// MergeTraffic sums the traffic of several processes: counts per kind, per user and
// per answer, signups, login posts and waits are added (a user whose requests came
// from two processes draws on one bucket at the target, so its counts add up too);
// unplanned 429s are joined in time order.
func MergeTraffic(all ...pace.Traffic) pace.Traffic {
	out := pace.Traffic{MyAccount: map[spec.Kind]int{}, Users: map[string]map[spec.Kind]int{},
		Waited: map[string]time.Duration{}, Answers: map[string]int{}}
	for _, t := range all {
		for k, n := range t.MyAccount {
			out.MyAccount[k] += n
		}
		for u, byKind := range t.Users {
			if out.Users[u] == nil {
				out.Users[u] = map[spec.Kind]int{}
			}
			for k, n := range byKind {
				out.Users[u][k] += n
			}
		}
		out.Signups += t.Signups
		out.LoginPosts += t.LoginPosts
		out.AuthenticationAPI += t.AuthenticationAPI
		out.ManagementAPI += t.ManagementAPI
		for w, d := range t.Waited {
			out.Waited[w] += d
		}
		out.Unplanned = append(out.Unplanned, t.Unplanned...)
		out.Overruns = append(out.Overruns, t.Overruns...)
		for a, n := range t.Answers {
			out.Answers[a] += n
		}
		out.Held += t.Held
	}
	slices.SortStableFunc(out.Unplanned, func(a, b pace.Unplanned) int { return a.At.Compare(b.At) })
	return out
}

// firstUnplanned is how many unplanned 429s the certification lists.
const firstUnplanned = 5

// TrafficSummary is the run's traffic and pacing in the certification (run.traffic):
// how long the run took against the least time its requests could take under the
// target's limits, what it sent, and what went wrong with pacing. Unplanned 429s
// mean a suite or target problem: the pacer keeps a correct suite under a correct
// target's limits. It holds no secret: user ids and emails at most.
type TrafficSummary struct {
	// Processes is the number of processes whose traffic was merged.
	Processes int `yaml:"processes"`
	// WallTime is how long the run took; Floor the least time its traffic can take
	// under the limit model, for FloorReason; WallToFloor is WallTime/Floor (1 is a
	// run that went as fast as the limits allow), absent when no limit binds.
	WallTime    time.Duration `yaml:"wall_time"`
	Floor       time.Duration `yaml:"floor"`
	FloorReason string        `yaml:"floor_reason,omitempty"`
	WallToFloor float64       `yaml:"wall_to_floor,omitempty"`
	Limits      string        `yaml:"limits,omitempty"`
	// FloorShares are the limits that hold the traffic to some time, longest first
	// (the first sets the floor): the least time each alone allows.
	FloorShares []FloorShare `yaml:"floor_shares,omitempty"`
	// MyAccountRequests counts My Account requests per kind (read, write,
	// filtered_read); RequestingUsers is how many users (token subjects) made them.
	MyAccountRequests map[string]int `yaml:"my_account_requests"`
	RequestingUsers   int            `yaml:"requesting_users"`
	Signups           int            `yaml:"signups"`
	LoginPosts        int            `yaml:"login_posts"`
	// AuthenticationAPI and ManagementAPI count the requests to those APIs
	// (signups and token requests included; the login prompts not).
	AuthenticationAPI int          `yaml:"authentication_api,omitempty"`
	ManagementAPI     int          `yaml:"management_api,omitempty"`
	Users             TrafficUsers `yaml:"users"`
	// Leftovers are what the run could not remove from the target.
	Leftovers []string `yaml:"leftovers"`
	// Unplanned429s counts the 429s ordinary requests drew; FirstUnplanned429s
	// lists the first few.
	Unplanned429s      int            `yaml:"unplanned_429s"`
	FirstUnplanned429s []Unplanned429 `yaml:"first_unplanned_429s,omitempty"`
	// BudgetOverruns are the specs that took more from a user's buckets than they
	// asked the user pools for: the suite's own error, which costs a real tenant's
	// run a wait for the refill.
	BudgetOverruns []string `yaml:"budget_overruns,omitempty"`
	// Waited is the time requests spent waiting for each limit, summed over the
	// processes (so it may exceed the wall time).
	Waited map[string]time.Duration `yaml:"waited,omitempty"`
	// Answers counts the answers per operation and status ("GET /factors 200"):
	// what the run exercised.
	Answers map[string]int `yaml:"answers,omitempty"`
	Notes   []string       `yaml:"notes,omitempty"`
}

// FloorShare is the least time one limit alone allows a run's traffic.
type FloorShare struct {
	Limit string        `yaml:"limit"`
	Time  time.Duration `yaml:"time"`
	Why   string        `yaml:"why"`
}

// TrafficUsers are the users a run signed up and what became of them.
type TrafficUsers struct {
	SignedUp int      `yaml:"signed_up"`
	Were     string   `yaml:"were,omitempty"` // "deleted through the Management API", …
	List     []string `yaml:"list,omitempty"` // "id email" lines
}

// Unplanned429 is one 429 an ordinary request drew.
type Unplanned429 struct {
	At         time.Time `yaml:"at"`
	Request    string    `yaml:"request"`
	Kind       string    `yaml:"kind,omitempty"`
	RetryAfter string    `yaml:"retry_after,omitempty"`
}

// Summary is rt for the certification; wall is how long the run took.
func (rt RunTraffic) Summary(wall time.Duration) *TrafficSummary {
	t := rt.Traffic
	s := &TrafficSummary{
		Processes:         rt.Processes,
		WallTime:          wall.Round(time.Millisecond),
		Floor:             rt.Floor.Round(time.Millisecond),
		FloorReason:       rt.FloorReason,
		Limits:            rt.Limits,
		MyAccountRequests: map[string]int{},
		RequestingUsers:   len(t.Users),
		Signups:           t.Signups,
		LoginPosts:        t.LoginPosts,
		AuthenticationAPI: t.AuthenticationAPI,
		ManagementAPI:     t.ManagementAPI,
		Users:             TrafficUsers{SignedUp: len(rt.Users), Were: strings.Join(rt.UsersWere, "; "), List: rt.Users},
		Leftovers:         rt.Leftovers,
		Unplanned429s:     len(t.Unplanned),
		BudgetOverruns:    t.Overruns,
		Answers:           t.Answers,
		Notes:             rt.Notes,
	}
	for _, k := range spec.Kinds {
		s.MyAccountRequests[string(k)] = t.MyAccount[k]
	}
	if rt.Model != nil {
		for _, sh := range t.Shares(*rt.Model) {
			s.FloorShares = append(s.FloorShares, FloorShare{Limit: sh.Limit, Time: sh.Time.Round(time.Millisecond), Why: sh.Why})
		}
	}
	if rt.Floor > 0 && wall > 0 {
		s.WallToFloor = math.Round(float64(wall)/float64(rt.Floor)*100) / 100
	}
	for _, u := range t.Unplanned[:min(len(t.Unplanned), firstUnplanned)] {
		s.FirstUnplanned429s = append(s.FirstUnplanned429s, Unplanned429{At: u.At.UTC(), Request: u.Request, Kind: u.Kind, RetryAfter: u.RetryAfter})
	}
	if len(t.Waited) > 0 {
		s.Waited = map[string]time.Duration{}
		for w, d := range t.Waited {
			s.Waited[w] = d.Round(time.Millisecond)
		}
	}
	if s.Leftovers == nil {
		s.Leftovers = []string{} // listed even when empty: "none left" is a statement
	}
	if len(s.Answers) == 0 {
		s.Answers = nil
	}
	return s
}

// wallTime is how long a run took: Ginkgo's run time, else the run's record.
func wallTime(r types.Report, run Run) time.Duration {
	switch {
	case r.RunTime > 0:
		return r.RunTime
	case !r.StartTime.IsZero() && r.EndTime.After(r.StartTime):
		return r.EndTime.Sub(r.StartTime)
	case !run.Started.IsZero() && run.Finished.After(run.Started):
		return run.Finished.Sub(run.Started)
	}
	return 0
}

// The HTML page shows the maps in a stable order.

type countLine struct {
	Name  string
	Count int
}

type waitLine struct {
	Name string
	Wait time.Duration
}

func answerLines(s *TrafficSummary) []countLine {
	var out []countLine
	for _, a := range slices.Sorted(maps.Keys(s.Answers)) {
		out = append(out, countLine{a, s.Answers[a]})
	}
	return out
}

func waitLines(s *TrafficSummary) []waitLine {
	var out []waitLine
	for _, w := range slices.Sorted(maps.Keys(s.Waited)) {
		out = append(out, waitLine{w, s.Waited[w]})
	}
	return out
}

func kindLines(s *TrafficSummary) []countLine {
	var out []countLine
	for _, k := range spec.Kinds {
		out = append(out, countLine{strings.ReplaceAll(string(k), "_", " ") + "s", s.MyAccountRequests[string(k)]})
	}
	return out
}
