// Package enroll holds the passkey-specific enrollment specs: an RS256 passkey,
// tampered enrollments and logins (each beside its untampered control), and the
// tolerance of what the vendor's SDKs send.
package enroll
