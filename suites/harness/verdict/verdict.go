// Package verdict holds what a spec's outcome carries besides pass and fail: the
// INCONCLUSIVE mark of a spec that could not decide, the names of the report entries
// specs attach, and how requirement IDs are told apart from other labels. The runner's
// report reads these; it imports this package, not the specs.
package verdict

import "strings"

// Report entry names specs attach (Ginkgo's AddReportEntry) and the report reads back.
const (
	// Exchanges holds a failed spec's redacted HTTP exchanges.
	Exchanges = "exchanges"
	// Curl holds a curl line that repeats a failed spec's last request.
	Curl = "curl"
	// Inconclusive holds why a spec could not decide.
	Inconclusive = "inconclusive"
	// Burst holds a rate-limit burst's figures, Timeline the path of its picture
	// (drawn by the report from the entry TimelineData).
	Burst    = "burst"
	Timeline = "timeline"
	// Traffic holds the run's traffic figures (requests per kind, unplanned 429s,
	// waits for the limits); Users the users the run signed up and anything it
	// could not remove. Both are attached once, by the suite's last node.
	Traffic = "traffic"
	Users   = "users"
)

// InconclusivePrefix starts the failure message of a spec that could not decide:
// the target did not answer, the runner could not send fast enough, a rate limit
// kept refusing. Such a spec is neither passed nor failed.
const InconclusivePrefix = "INCONCLUSIVE: "

// IsInconclusive says whether a failure message marks a spec that could not decide.
func IsInconclusive(msg string) bool {
	return strings.HasPrefix(msg, strings.TrimSpace(InconclusivePrefix))
}

// ReqIDs returns the requirement IDs among a spec's labels.
func ReqIDs(labels []string) []string {
	var out []string
	for _, l := range labels {
		if IsReqID(l) {
			out = append(out, l)
		}
	}
	return out
}

// IsReqID says whether a label is a requirement ID: AREA(-SUB)*-NNN.
func IsReqID(s string) bool {
	i := strings.LastIndex(s, "-")
	if i <= 0 || len(s)-i != 4 {
		return false
	}
	for _, c := range s[:i] {
		if (c < 'A' || c > 'Z') && c != '-' {
			return false
		}
	}
	for _, c := range s[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
