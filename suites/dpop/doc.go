// Package dpop holds the sender-constraining specs (RFC 9449): DPoP at the token
// endpoint and on every operation of the My Account API.
package dpop
