// Package domains holds the specs that canonical and custom domains are never mixed:
// logins, tokens, discovery, Locations and WebAuthn RP IDs on the domain called.
package domains
