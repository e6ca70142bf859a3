package report

import (
	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// Redact returns a copy of a report with every text a secret could reach passed
// through redact: failure messages (a matcher may print a response body holding a
// token), captured output and string report entries. The harness already redacts
// what it records; this is the net under everything else.
func Redact(r types.Report, redact func(string) string) types.Report {
	out := r
	out.SpecialSuiteFailureReasons = make([]string, len(r.SpecialSuiteFailureReasons))
	for i, s := range r.SpecialSuiteFailureReasons {
		out.SpecialSuiteFailureReasons[i] = redact(s)
	}
	out.SpecReports = make(types.SpecReports, len(r.SpecReports))
	for i, s := range r.SpecReports {
		s.Failure = redactFailure(s.Failure, redact)
		s.CapturedGinkgoWriterOutput = redact(s.CapturedGinkgoWriterOutput)
		s.CapturedStdOutErr = redact(s.CapturedStdOutErr)
		if len(s.AdditionalFailures) > 0 {
			af := make([]types.AdditionalFailure, len(s.AdditionalFailures))
			for j, a := range s.AdditionalFailures {
				a.Failure = redactFailure(a.Failure, redact)
				af[j] = a
			}
			s.AdditionalFailures = af
		}
		if len(s.ReportEntries) > 0 {
			entries := make(types.ReportEntries, len(s.ReportEntries))
			for j, e := range s.ReportEntries {
				if e.Name == verdict.TimelineData {
					// A burst's picture is numbers and the suite's own labels, which no
					// secret reaches; a short secret (a six-digit code) could match
					// digits in it and break its JSON.
					entries[j] = e
					continue
				}
				if v, ok := e.GetRawValue().(string); ok {
					e.Value = types.WrapEntryValue(redact(v))
				} else {
					e.Value.Representation = redact(e.Value.Representation)
					e.Value.AsJSON = redact(e.Value.AsJSON)
				}
				entries[j] = e
			}
			s.ReportEntries = entries
		}
		if len(s.SpecEvents) > 0 {
			events := make(types.SpecEvents, len(s.SpecEvents))
			for j, ev := range s.SpecEvents {
				ev.Message = redact(ev.Message)
				events[j] = ev
			}
			s.SpecEvents = events
		}
		out.SpecReports[i] = s
	}
	return out
}

func redactFailure(f types.Failure, redact func(string) string) types.Failure {
	f.Message = redact(f.Message)
	f.ForwardedPanic = redact(f.ForwardedPanic)
	if f.AdditionalFailure != nil {
		a := *f.AdditionalFailure
		a.Failure = redactFailure(a.Failure, redact)
		f.AdditionalFailure = &a
	}
	return f
}
