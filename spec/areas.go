package spec

// AreaLabels are the labels that say what a spec is about, besides "type:<method
// type>" and the requirement IDs: the names --label-filter selects areas by, in the
// order the reports show them. The suite's framework accepts no other area label,
// and the reports group by these.
var AreaLabels = []string{
	"contract", "errors", "method", "enroll", "passkey", "tamper", "tolerance",
	"login", "universal", "browser", "domains", "connected", "dpop", "access", "ratelimit",
	"cors",
}
