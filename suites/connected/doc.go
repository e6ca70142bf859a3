// Package connected holds the connected-accounts specs: connect, complete through the
// upstream identity provider, list, delete, and the refused completions.
package connected
