// Package method registers, for every authentication method type, the lifecycle and
// the proofs through the type's driver (suites/harness/methods): start, verify, list,
// get, rename, log in, delete, and the refusals beside each.
package method
