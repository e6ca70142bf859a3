// Package login holds the specs of the two login flows that obtain My Account tokens:
// native passkey signup and login, and Universal Login (the authorization code flow,
// also in headless Chromium).
package login
