// Package contract holds the specs generated from the description for every operation
// (a valid request answered as described, access, bad bodies, media types, unknown ids
// and query parameters) and the error catalogue (token shapes a schema cannot express,
// an expired token).
package contract
