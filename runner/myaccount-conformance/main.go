// Command myaccount-conformance is the My Account API conformance suite: see the
// README, or run it with no arguments for its commands. Install it with
//
//	go install github.com/myaccount-conformance/myaccount-conformance/runner/myaccount-conformance@latest
package main

import (
	"os"

	"github.com/myaccount-conformance/myaccount-conformance/runner"
)

func main() { os.Exit(runner.Main(os.Args[1:])) }
