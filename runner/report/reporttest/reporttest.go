// Package reporttest is a fixed, synthetic run for the golden tests of what users
// see (certification.yaml, report.html, the console summary): fixed times, revision
// and documents, a small catalogue, and specs that passed, failed (one with its
// exchanges and curl line), warned, were skipped, could not decide or were left out
// by the filters, plus the traffic a run attaches. Nothing in it depends on the
// clock, the machine, or the embedded catalogue's wording.
package reporttest

import (
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// Started is when the synthetic run started; it took RunTime.
var Started = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// RunTime is how long the synthetic run's specs took.
const RunTime = 95*time.Second + 250*time.Millisecond

// Catalogue is a small catalogue. Its IDs and levels are those of the embedded
// catalogue (a spec's warning is judged by the embedded level); its statements,
// sources and sections are the fixture's own, so that rewording the catalogue does
// not change the golden files.
func Catalogue() []spec.Requirement {
	req := func(id, level, profile, statement string) spec.Requirement {
		return spec.Requirement{ID: id, Level: level, Profile: profile, Statement: statement,
			Source: "Fixture document", Section: "§ " + id, Operation: "*"}
	}
	return []spec.Requirement{
		req("AUTH-PK-001", "MUST", "core", "A native client signs a user up with a passkey."),
		req("AUTH-PK-005", "SHOULD", "core", "The signature counter of an assertion is checked."),
		req("MA-ENR-001", "MUST", "core", "Starting an enrollment answers 202 with the challenge."),
		req("MA-ENR-002", "MUST", "core", "Verifying an enrollment completes it."),
		req("MA-ENR-008", "MUST", "core", "The creation options name the relying party."),
		req("MA-AUTHZ-001", "MUST", "core", "A request without a token is refused with 401."),
		req("MA-AUTHZ-002", "MUST", "core", "A token without the scope is refused with 403."),
		req("MA-API-001", "MUST", "core", "Every response fits the OpenAPI document."),
		req("MA-RL-001", "MUST", "extended", "The tenant's limits hold for reads and writes."),
	}
}

// Expected is the run's expected-failures file: one held (MA-ENR-001 fails), one
// broken (AUTH-PK-001 passes).
func Expected() map[string]string {
	return map[string]string{"MA-ENR-001": "known bug #12", "AUTH-PK-001": "thought broken"}
}

// Input is the synthetic run, as the runner hands it to report.Build.
func Input() report.Input {
	return report.Input{
		Report:    Report(),
		Catalogue: Catalogue(),
		Implementation: report.Implementation{Organization: "Example Org", Project: "example tenant",
			URL: "https://example.test/project", Version: "2026.05", Contact: "conformance@example.test"},
		Target: report.Target{Name: "example tenant", Domain: "tenant.example.test", CustomDomain: "login.example.test"},
		Suite: report.Suite{Name: "myaccount-conformance", Version: "v1.2.3",
			Revision: "0123456789abcdef0123456789abcdef01234567+dirty",
			Build:    "b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0",
			Documents: []report.Document{
				{Name: "myaccount.yaml", SHA256: "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"},
				{Name: "extra.yaml", SHA256: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", Extra: true},
			}},
		Run: report.Run{
			Started:  Started,
			Finished: Started.Add(RunTime + 2*time.Second),
			Command:  []string{"myaccount-conformance", "run", "--fault", "enroll-start-200", "--report-dir", "/reports"},
			ReferenceTenant: &report.ReferenceTenant{Faults: []string{"enroll-start-200"}, Plan: "enterprise", Refusals: "auth0",
				Prompts: true, DPoP: "allowed", TokenTTL: 45 * time.Second, SessionTTL: 10 * time.Second,
				Waive: []string{"login-prompts", "signups"}},
			Specs:            []string{"/specs/extra.yaml"},
			ExpectedFailures: "/specs/expected.yaml",
			ExitCode:         1, // what the runner decides for this run (failures)
		},
		Expected: Expected(),
	}
}

// Report is the synthetic run's Ginkgo report.
func Report() types.Report {
	at := func(d time.Duration) time.Time { return Started.Add(d) }
	it := func(container, text string, state types.SpecState, msg string, line int, ids ...string) types.SpecReport {
		s := types.SpecReport{
			ContainerHierarchyTexts: []string{container},
			LeafNodeType:            types.NodeTypeIt,
			LeafNodeText:            text,
			LeafNodeLocation:        types.CodeLocation{FileName: "suites/" + container + ".go", LineNumber: line},
			LeafNodeLabels:          append([]string{container}, ids...),
			State:                   state,
			StartTime:               at(time.Duration(line) * time.Second),
			EndTime:                 at(time.Duration(line)*time.Second + 1500*time.Millisecond),
			RunTime:                 1500 * time.Millisecond,
			ParallelProcess:         1,
		}
		if msg != "" {
			s.Failure = types.Failure{Message: msg, Location: types.CodeLocation{FileName: "suites/" + container + ".go", LineNumber: line + 3}}
		}
		return s
	}
	failed := it("enroll", "start answers 202 with the creation options", types.SpecStateFailed,
		"POST /me/v1/authentication-methods answered 200, want 202", 40, "MA-ENR-008")
	failed.LeafNodeLabels = append([]string{"enroll", "passkey", "type:passkey"}, failed.LeafNodeLabels[1:]...) // two areas: counted under the first
	failed.ReportEntries = types.ReportEntries{
		{Name: verdict.Exchanges, Value: types.WrapEntryValue("> POST https://tenant.example.test/me/v1/authentication-methods\n> authorization: Bearer $ACCESS_TOKEN\n> {\"type\":\"passkey\"}\n< 200 OK\n< {\"id\":\"passkey|new\"}")},
		{Name: verdict.Curl, Value: types.WrapEntryValue("curl -sS -X POST 'https://tenant.example.test/me/v1/authentication-methods' -H 'authorization: Bearer $ACCESS_TOKEN' --data '{\"type\":\"passkey\"}'")},
		{Name: report.ExchangeRecords, Value: types.WrapEntryValue(enrollRecords)},
	}
	passed := it("signup", "signs a user up with a passkey", types.SpecStatePassed, "", 10, "AUTH-PK-001")
	passed.ReportEntries = types.ReportEntries{{Name: report.ExchangeRecords, Value: types.WrapEntryValue(signupRecords)}}
	inconclusive := it("authz", "a request without a token is refused", types.SpecStateFailed, verdict.InconclusivePrefix+"the target did not answer within 10s", 70, "MA-AUTHZ-001")
	inconclusive.ReportEntries = types.ReportEntries{{Name: report.ExchangeRecords, Value: types.WrapEntryValue(timeoutRecords)}}
	return types.Report{
		SuitePath:        "/reports",
		SuiteDescription: "My Account API conformance: example tenant",
		StartTime:        Started,
		EndTime:          Started.Add(RunTime),
		RunTime:          RunTime,
		SpecReports: types.SpecReports{
			passed,
			it("enroll", "start answers 202", types.SpecStateFailed, "POST /me/v1/authentication-methods answered 200, want 202", 20, "MA-ENR-001"),
			failed,
			it("enroll", "verify completes the enrollment", types.SpecStateSkipped, "Spec skipped because an earlier spec in an ordered container failed", 50, "MA-ENR-002"),
			it("login", "checks the signature counter", types.SpecStateFailed, "the counter did not grow: 0 after 0", 60, "AUTH-PK-005"),
			inconclusive,
			it("authz", "a token without the scope is refused", types.SpecStateSkipped, "", 80, "MA-AUTHZ-002"), // not selected
			afterSuite(),
		},
	}
}

// afterSuite is the AfterSuite node with the traffic and users entries the suite
// attaches (as JSON text, the way report.json holds them).
func afterSuite() types.SpecReport {
	traffic := `{"traffic":{"MyAccount":{"read":14,"write":6,"filtered_read":2},` +
		`"Users":{"auth0|u1":{"read":9,"write":4},"auth0|u2":{"read":5,"write":2,"filtered_read":2}},` +
		`"Signups":2,"LoginPosts":5,` +
		`"Waited":{"user reads":3500000000,"signups":1250000000},` +
		`"Unplanned":[{"At":"2026-05-01T12:00:42.5Z","Request":"GET https://tenant.example.test/me/v1/factors","Kind":"user_rate_limit","RetryAfter":"12"}],` +
		`"Answers":{"GET /factors 200":6,"POST /authentication-methods 200":2,"GET /authentication-methods 200":8,"DELETE /authentication-methods/{authentication_method_id} 204":2}},` +
		`"floor":"60s","floor_reason":"9 reads of user auth0|u1 at 5/min past a burst of 5","limits":"enterprise: tenant 20/s reads, user 5/min reads"}`
	users := `{"users":["auth0|u1 u1@example.test","auth0|u2 u2@example.test"],"users_were":"deleted through the Management API",` +
		`"leftovers":["user auth0|u2: delete answered 500"]}`
	return types.SpecReport{
		LeafNodeType:    types.NodeTypeAfterSuite,
		State:           types.SpecStatePassed,
		ParallelProcess: 1,
		ReportEntries: types.ReportEntries{
			{Name: verdict.Traffic, Value: types.WrapEntryValue(traffic)},
			{Name: verdict.Users, Value: types.WrapEntryValue(users)},
		},
	}
}

// The exchange records (report.ExchangeRecords) of three specs, as the suite
// attaches them: redacted, as JSON. The passed spec's are there as in a run with
// --har all.
const (
	enrollRecords = `[{"operation":"GET /authentication-methods","method":"GET","url":"https://tenant.example.test/me/v1/authentication-methods?type=passkey&page=1",` +
		`"request_headers":{"Accept":["application/json"],"Authorization":["DPoP $ACCESS_TOKEN"],"Dpop":["$DPOP_PROOF"]},` +
		`"status":200,"response_headers":{"Content-Type":["application/json"]},"response_body":"{\"authentication_methods\":[]}",` +
		`"dpop_proof":{"header":{"alg":"ES256","typ":"dpop+jwt"},"claims":{"htm":"GET","htu":"https://tenant.example.test/me/v1/authentication-methods","ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"}},` +
		`"started":"2026-05-01T12:00:40.100Z","duration":85250000},` +
		`{"operation":"POST /authentication-methods","method":"POST","url":"https://tenant.example.test/me/v1/authentication-methods",` +
		`"request_headers":{"Authorization":["Bearer $ACCESS_TOKEN"],"Content-Type":["application/json"],"Cookie":["did=$COOKIE"]},"request_body":"{\"type\":\"passkey\"}",` +
		`"status":200,"response_headers":{"Content-Type":["application/json; charset=utf-8"],"Set-Cookie":["auth0=$COOKIE; Path=/; HttpOnly; Secure"]},"response_body":"{\"id\":\"passkey|new\"}",` +
		`"violation":"response status 200 is not described for POST /authentication-methods",` +
		`"started":"2026-05-01T12:00:40.250Z","duration":120500000}]`
	signupRecords = `[{"method":"POST","url":"https://tenant.example.test/passkey/register",` +
		`"request_headers":{"Content-Type":["application/json"]},"request_body":"{\"client_id\":\"client-1\",\"realm\":\"Username-Password-Authentication\"}",` +
		`"status":200,"response_headers":{"Content-Type":["application/json"]},"response_body":"{\"auth_session\":\"$AUTH_SESSION\"}",` +
		`"started":"2026-05-01T12:00:10.000Z","duration":40000000}]`
	timeoutRecords = `[{"operation":"GET /factors","method":"GET","url":"https://tenant.example.test/me/v1/factors",` +
		`"request_headers":{"Accept":["application/json"]},` +
		`"error":"context deadline exceeded (Client.Timeout exceeded while awaiting headers)",` +
		`"started":"2026-05-01T12:01:10.000Z","duration":10000000000}]`
)
