package report

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/pace"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// afterSuite is the AfterSuite node of one process with the entries suites.AfterSuite
// attaches, built the same way (json.Marshal of the pacer's values).
func afterSuite(t *testing.T, process int, tr pace.Traffic, model *spec.Limits, users, leftovers []string) types.SpecReport {
	t.Helper()
	v := map[string]any{"traffic": tr, "floor": "0s", "floor_reason": "no limit binds", "limits": "enterprise: …"}
	if model != nil {
		floor, why := tr.Floor(*model)
		v["floor"], v["floor_reason"], v["limits"], v["model"] = floor.String(), why, model.String(), *model
	}
	traffic, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	u, err := json.Marshal(map[string]any{"users": users, "users_were": "deleted through the Management API", "leftovers": leftovers})
	if err != nil {
		t.Fatal(err)
	}
	return types.SpecReport{LeafNodeType: types.NodeTypeAfterSuite, State: types.SpecStatePassed, ParallelProcess: process,
		ReportEntries: types.ReportEntries{
			{Name: verdict.Traffic, Value: types.WrapEntryValue(string(traffic))},
			{Name: verdict.Users, Value: types.WrapEntryValue(string(u))},
		}}
}

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// twoProcesses is a run in two processes: each kept user auth0|a within its bucket
// of 5 reads (4 and 3 reads), but together they sent it 7, so the run's floor is
// the 2 reads past the burst at 5/min: 24s, which neither process's floor shows.
func twoProcesses(t *testing.T) (types.Report, spec.Limits) {
	t.Helper()
	model, err := spec.LimitPlan(spec.PlanEnterprise)
	if err != nil {
		t.Fatal(err)
	}
	p1 := pace.Traffic{
		MyAccount: map[spec.Kind]int{spec.Read: 6, spec.Write: 2},
		Users:     map[string]map[spec.Kind]int{"auth0|a": {spec.Read: 4, spec.Write: 2}, "auth0|b": {spec.Read: 2}},
		Signups:   2, LoginPosts: 3,
		Waited:    map[string]time.Duration{"user reads": 2 * time.Second},
		Unplanned: []pace.Unplanned{{At: t0.Add(30 * time.Second), Request: "GET https://t.example/me/v1/factors", Kind: "user_rate_limit", RetryAfter: "12"}},
		Answers:   map[string]int{"GET /factors 200": 4, "POST /authentication-methods 202": 2},
		Overruns:  []string{"Tampered passkey enrollments refuses …: 5 writes as one user, 4 asked"},
	}
	p2 := pace.Traffic{
		MyAccount: map[spec.Kind]int{spec.Read: 3, spec.FilteredRead: 1},
		Users:     map[string]map[spec.Kind]int{"auth0|a": {spec.Read: 3}, "auth0|c": {spec.FilteredRead: 1}},
		Signups:   1, LoginPosts: 2,
		Waited:    map[string]time.Duration{"user reads": time.Second, "signups": 500 * time.Millisecond},
		Unplanned: []pace.Unplanned{{At: t0.Add(10 * time.Second), Request: "GET https://t.example/me/v1/authentication-methods"}},
		Answers:   map[string]int{"GET /factors 200": 1, "GET /authentication-methods 200": 2},
	}
	for i, p := range []pace.Traffic{p1, p2} {
		if floor, _ := p.Floor(model); floor != 0 {
			t.Fatalf("process %d alone has floor %s; the fixture wants only the sum to bind", i+1, floor)
		}
	}
	r := types.Report{StartTime: t0, EndTime: t0.Add(48 * time.Second), RunTime: 48 * time.Second, SpecReports: types.SpecReports{
		it("passes", types.SpecStatePassed, "", "AUTH-PK-001"),
		afterSuite(t, 1, p1, &model, []string{"auth0|a a@example.test", "auth0|b b@example.test"}, nil),
		afterSuite(t, 2, p2, &model, []string{"auth0|c c@example.test"}, []string{"user auth0|c: delete answered 500"}),
	}}
	return r, model
}

func TestTrafficMergedOverProcesses(t *testing.T) {
	r, model := twoProcesses(t)
	// As read back from report.json, entries hold their value as text only.
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var loaded types.Report
	if err := json.Unmarshal(data, &loaded); err != nil {
		t.Fatal(err)
	}
	for name, rep := range map[string]types.Report{"in process": r, "from JSON": loaded} {
		rt, ok := CollectTraffic(rep)
		if !ok {
			t.Fatalf("%s: no traffic found", name)
		}
		tr := rt.Traffic
		if rt.Processes != 2 || rt.Model == nil || *rt.Model != model || len(rt.Notes) != 0 {
			t.Errorf("%s: processes %d, model %v, notes %q", name, rt.Processes, rt.Model, rt.Notes)
		}
		if tr.MyAccount[spec.Read] != 9 || tr.MyAccount[spec.Write] != 2 || tr.MyAccount[spec.FilteredRead] != 1 {
			t.Errorf("%s: My Account requests %v", name, tr.MyAccount)
		}
		if len(tr.Users) != 3 || tr.Users["auth0|a"][spec.Read] != 7 || tr.Users["auth0|a"][spec.Write] != 2 {
			t.Errorf("%s: users %v", name, tr.Users)
		}
		if tr.Signups != 3 || tr.LoginPosts != 5 {
			t.Errorf("%s: signups %d, login posts %d", name, tr.Signups, tr.LoginPosts)
		}
		if tr.Waited["user reads"] != 3*time.Second || tr.Waited["signups"] != 500*time.Millisecond {
			t.Errorf("%s: waited %v", name, tr.Waited)
		}
		if len(tr.Unplanned) != 2 || !tr.Unplanned[0].At.Equal(t0.Add(10*time.Second)) || tr.Unplanned[1].Kind != "user_rate_limit" {
			t.Errorf("%s: unplanned 429s not joined in time order: %+v", name, tr.Unplanned)
		}
		if len(tr.Overruns) != 1 {
			t.Errorf("%s: overruns %q", name, tr.Overruns)
		}
		if tr.Answers["GET /factors 200"] != 5 || tr.Answers["GET /authentication-methods 200"] != 2 || len(tr.Answers) != 3 {
			t.Errorf("%s: answers %v", name, tr.Answers)
		}
		if rt.Floor != 24*time.Second || !strings.Contains(rt.FloorReason, "7 reads of user auth0|a") {
			t.Errorf("%s: floor %s (%s), want 24s for user auth0|a's 7 reads", name, rt.Floor, rt.FloorReason)
		}
		if len(rt.Users) != 3 || len(rt.Leftovers) != 1 || len(rt.UsersWere) != 1 {
			t.Errorf("%s: users %q, were %q, leftovers %q", name, rt.Users, rt.UsersWere, rt.Leftovers)
		}
	}

	catalogue, _ := spec.Requirements()
	o := Build(Input{Report: r, Catalogue: catalogue, Run: Run{Finished: t0.Add(time.Minute)}})
	s := o.Certification.Run.Traffic
	if s == nil {
		t.Fatal("no run.traffic in the certification")
	}
	if s.WallTime != 48*time.Second || s.Floor != 24*time.Second || s.WallToFloor != 2 || s.Processes != 2 {
		t.Errorf("wall %s, floor %s, ratio %v, processes %d", s.WallTime, s.Floor, s.WallToFloor, s.Processes)
	}
	if s.MyAccountRequests["read"] != 9 || s.MyAccountRequests["filtered_read"] != 1 || s.RequestingUsers != 3 {
		t.Errorf("requests %v by %d users", s.MyAccountRequests, s.RequestingUsers)
	}
	if s.Users.SignedUp != 3 || s.Users.Were != "deleted through the Management API" || len(s.Leftovers) != 1 {
		t.Errorf("users %+v, leftovers %q", s.Users, s.Leftovers)
	}
	if len(s.BudgetOverruns) != 1 || !strings.Contains(s.BudgetOverruns[0], "5 writes as one user, 4 asked") {
		t.Errorf("budget overruns %q", s.BudgetOverruns)
	}
	if s.Unplanned429s != 2 || len(s.FirstUnplanned429s) != 2 || s.Limits != model.String() {
		t.Errorf("unplanned %d %+v, limits %q", s.Unplanned429s, s.FirstUnplanned429s, s.Limits)
	}

	// The section survives the certification file.
	dir := t.TempDir()
	if err := o.WriteYAML(dir); err != nil {
		t.Fatal(err)
	}
	c, err := ReadCertification(filepath.Join(dir, CertificationFile))
	if err != nil {
		t.Fatal(err)
	}
	back := c.Run.Traffic
	if back == nil || back.Floor != s.Floor || back.WallTime != s.WallTime || back.Waited["user reads"] != 3*time.Second ||
		back.Answers["GET /factors 200"] != 5 || back.Unplanned429s != 2 || !back.FirstUnplanned429s[0].At.Equal(t0.Add(10*time.Second)) {
		t.Errorf("run.traffic did not survive the YAML: %+v", back)
	}
}

// Entries of a suite version that did not attach the model: the floor cannot be
// recomputed, the largest reported one stands, and a note says so.
func TestTrafficWithoutModel(t *testing.T) {
	r, _ := twoProcesses(t)
	for i, s := range r.SpecReports {
		for j, e := range s.ReportEntries {
			if e.Name != verdict.Traffic {
				continue
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(EntryString(e)), &v); err != nil {
				t.Fatal(err)
			}
			delete(v, "model")
			v["floor"] = []string{"3s", "5s"}[s.ParallelProcess-1]
			data, _ := json.Marshal(v)
			r.SpecReports[i].ReportEntries[j].Value = types.WrapEntryValue(string(data))
		}
	}
	rt, ok := CollectTraffic(r)
	if !ok || rt.Model != nil || rt.Floor != 5*time.Second || len(rt.Notes) != 1 {
		t.Errorf("ok %v, model %v, floor %s, notes %q", ok, rt.Model, rt.Floor, rt.Notes)
	}
	if _, ok := CollectTraffic(fixture()); ok {
		t.Error("a report without traffic entries has traffic")
	}
	catalogue, _ := spec.Requirements()
	if o := Build(Input{Report: fixture(), Catalogue: catalogue}); o.Certification.Run.Traffic != nil {
		t.Error("run.traffic without traffic entries")
	}
}
