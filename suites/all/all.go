// Package all is the whole suite: importing it registers the specs of every area
// (one package each, on the one framework), as Kubernetes' e2e binary does. The
// runner imports it and nothing else of the suites.
package all

import (
	_ "github.com/myaccount-conformance/myaccount-conformance/suites/connected"
	_ "github.com/myaccount-conformance/myaccount-conformance/suites/contract"
	_ "github.com/myaccount-conformance/myaccount-conformance/suites/cors"
	_ "github.com/myaccount-conformance/myaccount-conformance/suites/domains"
	_ "github.com/myaccount-conformance/myaccount-conformance/suites/dpop"
	_ "github.com/myaccount-conformance/myaccount-conformance/suites/enroll"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	_ "github.com/myaccount-conformance/myaccount-conformance/suites/login"
	_ "github.com/myaccount-conformance/myaccount-conformance/suites/method"
	_ "github.com/myaccount-conformance/myaccount-conformance/suites/ratelimit"
)

// Use sets the framework the specs run with. Call it before RunSpecs.
func Use(f *harness.Framework) { framework.Use(f) }
