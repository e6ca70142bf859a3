// Package ci holds the CI recipes of docs/ci (a GitHub Actions workflow and a GitLab CI
// job that run the suite against a tenant) and the test that checks their structure
// against the runner's exit codes.
package ci
