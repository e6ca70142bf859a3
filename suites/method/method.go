package method

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/methods"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// Every authentication method type, through its driver (suites/harness/methods):
// one generic lifecycle and the same proofs for each, registered once per driver
// as the Kubernetes storage e2e suites register each suite per driver. A type the
// target does not enable (GET /factors, or the target config's methods:) skips with that reason, as does a driver
// whose out-of-band proof has no source in the target config.
//
// Against Auth0 one user may make 5 reads and 5 writes a minute: every container
// below uses users of its own and stays within that (the counts are in comments).
var _ = framework.AreaOf("method").Describe("Authentication methods, one driver per type", func() {
	for _, typ := range methods.Types() {
		if framework.StaticDriver(typ).Flow() != methods.FlowPassword {
			typeSpecs(typ)
		}
	}
})

// The types that log in through the login page stand apart, under the same name, so
// that they run after the others (SpecPriority orders whole top-level containers):
// the page's posts are limited per IP, and by then that bucket has refilled.
var _ = framework.AreaOf("method").Describe("Authentication methods, one driver per type", SpecPriority(framework.LoginPromptPriority), func() {
	for _, typ := range methods.Types() {
		if framework.StaticDriver(typ).Flow() == methods.FlowPassword {
			typeSpecs(typ)
		}
	}
})

// typeSpecs are the specs of one method type.
func typeSpecs(typ string) {
	Context(typ, framework.AreaOf("type:"+typ).Labels(), func() {
		d := framework.StaticDriver(typ)
		if d.Enrollable() {
			enrollableLifecycle(typ)
			proofSpecs(typ)
			sessionSpecs(typ)
		} else {
			seededLifecycle(typ)
		}
		if d.Primary() {
			lastPrimarySpec(typ)
		}
		notEnabledSpec(typ)
	})
}

// patchBodies are a PATCH that changes what the type may change (nil: nothing), and
// one with a field its methods do not have (nil: they have every field PATCH takes,
// or the only one they lack is a name, which undocumented gets instead). What the
// type has is the description's (methods.PatchOf).
func patchBodies(typ string) (change, foreign, undocumented map[string]any) {
	p := methods.PatchOf(typ)
	if p.Name {
		change = map[string]any{"name": "conformance " + typ + " " + fmt.Sprint(time.Now().Unix())}
	}
	if len(p.Preferred) > 0 {
		if change == nil {
			change = map[string]any{}
		}
		change["preferred_authentication_method"] = p.Preferred[len(p.Preferred)-1]
	}
	switch {
	case p.NameUndocumented:
		undocumented = map[string]any{"name": "conformance"}
		foreign = map[string]any{"preferred_authentication_method": "voice"}
	case !p.Name:
		foreign = map[string]any{"name": "conformance"}
	case len(p.Preferred) == 0:
		foreign = map[string]any{"preferred_authentication_method": "voice"}
	}
	return change, foreign, undocumented
}

// The lifecycle of an enrollable type: start → verify → listed (and with ?type=) →
// got → PATCH → logs in (where a flow exists) → DELETE → gone → no longer logs in.
// One user: at most 5 writes (start, verify, PATCH, PATCH refused, DELETE) and 5
// reads plus one filtered read.
func enrollableLifecycle(typ string) {
	var labels Labels
	if typ == methods.Passkey {
		labels = framework.AreaOf("enroll").Labels() // the passkey enrollment, as --label-filter=enroll always selected
	}
	Context("lifecycle", labels, Ordered, func() {
		var (
			d      methods.Driver
			u      *framework.User
			c      *myaccount.Client
			s      *methods.Started
			e      framework.Enrolled
			driver login.Driver
		)

		BeforeAll(func(ctx SpecContext) {
			d = framework.DriverFor(ctx, typ)
			if d.Flow() == methods.FlowPassword {
				requirePasswordLogin()
				driver = framework.LoginDriver(ctx, framework.F.Target.Login.Driver)
			}
			u = framework.BorrowUser(ctx, framework.Budget{spec.Read: 5, spec.Write: 5, spec.FilteredRead: 2})
			c = framework.Me(ctx, u)
		})

		It("starts an enrollment: 202 with a Location and the type's documented body", framework.Reqs(typ, "MA-MTH-001", "MA-MTH-019"), func(ctx SpecContext) {
			s = framework.StartMethod(ctx, c, d, u)
		})

		It("verifies the enrollment with its proof: 201 with a Location and the new method", framework.Reqs(typ, "MA-MTH-002"), func(ctx SpecContext) {
			Expect(s).NotTo(BeNil(), "the enrollment did not start")
			e = framework.VerifyMethod(ctx, c, d, u, s)
		})

		It("lists the method, also with ?type=, gets it by id, and never shows its secrets again", framework.Reqs(typ, "MA-MTH-003", "MA-MTH-004", "MA-MTH-018"), func(ctx SpecContext) {
			Expect(e.ID).NotTo(BeEmpty(), "no method was enrolled")
			expectListedAndGot(ctx, c, d, e, d.Secrets(s, e.Proof))
		})

		// Checks that do not apply to the type (the API's documents say so) are not
		// registered for it, rather than skipped: a skip says the target could not
		// be checked.
		change, foreign, undocumented := patchBodies(typ)
		if change != nil {
			It("changes what PATCH may change for the type", framework.Reqs(typ, "MA-MTH-005"), func(ctx SpecContext) {
				expectPatched(ctx, c, e.ID, change)
			})
		}
		if foreign != nil {
			It("refuses a PATCH of a field the type does not have", framework.Reqs(typ, "MA-MTH-006"), func(ctx SpecContext) {
				expectPatchRefused(ctx, c, e.ID, foreign)
			})
		}
		if undocumented != nil {
			It("answers a PATCH of a name, which the type does not have, with 400 or with 200 and nothing changed", framework.Reqs(typ, "MA-MTH-022"), func(ctx SpecContext) {
				framework.ExpectNoFailures(framework.UndocumentedPatch(ctx, c, e.ID, undocumented))
			})
		}

		if framework.StaticDriver(typ).Flow() != methods.FlowNone {
			It("logs the user in with the new method", framework.Reqs(typ, "MA-MTH-009"), func(ctx SpecContext) {
				expectLogsIn(ctx, d, driver, u, e)
			})
		}

		It("deletes the method: 204", framework.Reqs(typ, "MA-MTH-007"), func(ctx SpecContext) {
			expectDeleted(ctx, c, e.ID)
		})

		It("no longer lists the deleted method and answers 404 for it", framework.Reqs(typ, "MA-MTH-008"), func(ctx SpecContext) {
			expectGone(ctx, c, e.ID)
		})

		if framework.StaticDriver(typ).Flow() != methods.FlowNone {
			It("no longer logs the user in with the deleted method", framework.Reqs(typ, "MA-MTH-010"), func(ctx SpecContext) {
				expectNoLongerLogsIn(ctx, d, driver, u, e)
			})
		}
	})
}

// The lifecycle of a type the API does not enroll (security keys, platform
// authenticators): created the way the target's own flows create it (the
// reference's hook), then refused by POST, listed, got, renamed, deleted, gone.
// One user: 4 writes, 4 reads and one filtered read.
func seededLifecycle(typ string) {
	Context("lifecycle", Ordered, func() {
		var (
			d methods.Driver
			u *framework.User
			c *myaccount.Client
			e framework.Enrolled
		)

		BeforeAll(func(ctx SpecContext) {
			d = framework.DriverFor(ctx, typ)
			u = framework.BorrowUser(ctx, framework.Budget{spec.Read: 4, spec.Write: 4, spec.FilteredRead: 1})
			c = framework.Me(ctx, u)
			m, p, err := d.Seed(ctx, framework.AsEnrolling(u))
			if errors.Is(err, methods.ErrNotSeedable) {
				Skip(err.Error())
			}
			Expect(err).NotTo(HaveOccurred(), "creating a %s method", typ)
			id, _ := m["id"].(string)
			c.Track(myaccount.KindMethod, id)
			Expect(d.CheckMethod(nil, p, m)).To(Succeed(), "the %s method the target created", typ)
			e = framework.Enrolled{ID: id, Method: m, Proof: p}
		})

		It("refuses to enroll the type through POST /authentication-methods", framework.Reqs(typ, "MA-MTH-021"), func(ctx SpecContext) {
			resp := framework.Deliver(c.Start(ctx, d.StartBody(framework.AsEnrolling(u))))
			framework.ExpectBadRequest(resp, "POST /authentication-methods {type: "+typ+"}")
		})

		It("lists the method, also with ?type=, and gets it by id", framework.Reqs(typ, "MA-MTH-003", "MA-MTH-004"), func(ctx SpecContext) {
			expectListedAndGot(ctx, c, d, e, nil)
		})

		change, foreign, _ := patchBodies(typ)
		It("renames the method", framework.Reqs(typ, "MA-MTH-005"), func(ctx SpecContext) {
			expectPatched(ctx, c, e.ID, change)
		})

		It("refuses a PATCH of a field the type does not have", framework.Reqs(typ, "MA-MTH-006"), func(ctx SpecContext) {
			expectPatchRefused(ctx, c, e.ID, foreign)
		})

		It("deletes the method: 204", framework.Reqs(typ, "MA-MTH-007"), func(ctx SpecContext) {
			expectDeleted(ctx, c, e.ID)
		})

		It("no longer lists the deleted method and answers 404 for it", framework.Reqs(typ, "MA-MTH-008"), func(ctx SpecContext) {
			expectGone(ctx, c, e.ID)
		})
	})
}

// The proofs of an enrollable type, each with a user of its own.
func proofSpecs(typ string) {
	static := framework.StaticDriver(typ)
	if static.Lacks(methods.WrongKind) == "" {
		wrongProofSpec(typ)
	}
	againSpec(typ)
	if static.Lacks(methods.ForeignKind) == "" {
		foreignProofSpec(typ)
	}
	if static.Expires() {
		expiredSpec(typ)
	}
}

// 2 reads, 5 writes: start, wrong verify, start, verify, DELETE.
func wrongProofSpec(typ string) {
	It("refuses a wrong proof and creates nothing; a fresh enrollment with the right proof succeeds", framework.Reqs(typ, "MA-MTH-011"), func(ctx SpecContext) {
		d := framework.DriverFor(ctx, typ)
		u := framework.BorrowUser(ctx, framework.Budget{spec.Read: 2, spec.Write: 5})
		c := framework.Me(ctx, u)
		before := framework.MethodsOf(ctx, c, "")
		s := framework.StartMethod(ctx, c, d, u)
		wrong, err := d.WrongProof(ctx, framework.AsEnrolling(u), s)
		Expect(err).NotTo(HaveOccurred(), "making the wrong proof")
		framework.ExpectBadRequest(framework.VerifyAttempt(ctx, c, s.Location, wrong), framework.An(typ)+" enrollment verified with a wrong proof")
		control := framework.VerifyMethod(ctx, c, d, u, framework.StartMethod(ctx, c, d, u))
		Expect(framework.MethodsOf(ctx, c, "")).To(ConsistOf(append(before, control.ID)),
			"after a refused verification and a good one, the methods must be those before plus the good one")
	})
}

// 2 filtered reads, 4 writes: start, verify, verify again, DELETE.
func againSpec(typ string) {
	It("completes an enrollment once: its auth_session presented again is refused", framework.Reqs(typ, "MA-MTH-012"), func(ctx SpecContext) {
		d := framework.DriverFor(ctx, typ)
		u := framework.BorrowUser(ctx, framework.Budget{spec.FilteredRead: 2, spec.Write: 4})
		c := framework.Me(ctx, u)
		before := framework.MethodsOf(ctx, c, typ)
		s := framework.StartMethod(ctx, c, d, u)
		first := framework.VerifyMethod(ctx, c, d, u, s)
		again, err := d.Again(ctx, framework.AsEnrolling(u), s, first.Proof)
		Expect(err).NotTo(HaveOccurred(), "making the second proof")
		framework.ExpectBadRequest(framework.VerifyAttempt(ctx, c, s.Location, again), framework.An(typ)+" enrollment's auth_session presented a second time")
		Expect(framework.MethodsOf(ctx, c, typ)).To(ConsistOf(append(before, first.ID)), "one enrollment must create one %s method", typ)
	})
}

// 2 filtered reads, 5 writes: start, start, foreign verify, verify, DELETE.
func foreignProofSpec(typ string) {
	It("refuses the proof of another pending enrollment, and creates nothing", framework.Reqs(typ, "MA-MTH-016"), func(ctx SpecContext) {
		d := framework.DriverFor(ctx, typ)
		u := framework.BorrowUser(ctx, framework.Budget{spec.FilteredRead: 2, spec.Write: 5})
		c := framework.Me(ctx, u)
		before := framework.MethodsOf(ctx, c, typ)
		x, y := framework.StartMethod(ctx, c, d, u), framework.StartMethod(ctx, c, d, u)
		foreign, err := d.ForeignProof(ctx, framework.AsEnrolling(u), x, y)
		if errors.Is(err, methods.ErrNoSuchProof) {
			Skip(err.Error())
		}
		Expect(err).NotTo(HaveOccurred(), "making the foreign proof")
		framework.ExpectBadRequest(framework.VerifyAttempt(ctx, c, x.Location, foreign), framework.An(typ)+" enrollment verified with the proof sent for another")
		control := framework.VerifyMethod(ctx, c, d, u, y)
		Expect(framework.MethodsOf(ctx, c, typ)).To(ConsistOf(append(before, control.ID)), "only the enrollment verified with its own proof may create a method")
	})
}

// The auth_session of another user and of another pending enrollment: the owner
// starts two enrollments (x, y); the owner presents x's session and proof at y's
// path, the other user presents them at x's; y, untouched, verifies as the control.
// Owner: 2 reads, 5 writes (start, start, misuse, verify, DELETE); the other user:
// 2 reads, 1 write.
func sessionSpecs(typ string) {
	Context("auth_sessions that are not the enrollment's", Ordered, func() {
		var (
			d            methods.Driver
			owner, other *framework.User
			oc, xc       *myaccount.Client
			x, y         *methods.Started
			xProof       methods.Proof
			ownerBefore  []string
		)

		BeforeAll(func(ctx SpecContext) {
			d = framework.DriverFor(ctx, typ)
			owner, other = framework.BorrowUser(ctx, framework.Budget{spec.Read: 2, spec.Write: 5}), framework.BorrowUser(ctx, framework.Budget{spec.Read: 2, spec.Write: 1})
			oc, xc = framework.Me(ctx, owner), framework.Me(ctx, other)
			ownerBefore = framework.MethodsOf(ctx, oc, "")
			x, y = framework.StartMethod(ctx, oc, d, owner), framework.StartMethod(ctx, oc, d, owner)
			var err error
			xProof, err = d.Proof(ctx, framework.AsEnrolling(owner), x)
			Expect(err).NotTo(HaveOccurred(), "making the proof of the first enrollment")
		})

		if framework.StaticDriver(typ).Lacks(methods.OtherPathKind) == "" {
			It("refuses at one enrollment's path the auth_session of another pending enrollment", framework.Reqs(typ, "MA-MTH-015"), func(ctx SpecContext) {
				if x.Location == y.Location {
					Skip(fmt.Sprintf("both pending %s enrollments have the same Location (%s): the auth_session alone says which is verified", typ, x.Location))
				}
				framework.ExpectBadRequest(framework.VerifyAttempt(ctx, oc, y.Location, xProof.Body), "the auth_session and proof of one "+typ+" enrollment at another's path")
			})
		}

		It("refuses the auth_session of another user, and creates nothing for either", framework.Reqs(typ, "MA-MTH-014"), func(ctx SpecContext) {
			before := framework.MethodsOf(ctx, xc, "")
			framework.ExpectBadRequest(framework.VerifyAttempt(ctx, xc, x.Location, xProof.Body), "another user's "+typ+" enrollment auth_session")
			Expect(framework.MethodsOf(ctx, xc, "")).To(ConsistOf(before), "the other user's methods changed")
		})

		controlOf := []string{"MA-MTH-014"}
		if framework.StaticDriver(typ).Lacks(methods.OtherPathKind) == "" {
			controlOf = append(controlOf, "MA-MTH-015")
		}
		It("verifies the untouched enrollment of the same kind (the control), and nothing else was created", framework.Reqs(typ, controlOf...), func(ctx SpecContext) {
			control := framework.VerifyMethod(ctx, oc, d, owner, y)
			Expect(framework.MethodsOf(ctx, oc, "")).To(ConsistOf(append(ownerBefore, control.ID)), "only the control may have created a method")
		})
	})
}

// An expired enrollment auth_session: started when the run starts, verified once the
// lifetime the target states (the options' timeout for a passkey) has passed; it
// skips, saying so, when the target states none. Only types whose 202 can state a
// lifetime have the spec (the documents give no other a lifetime).
// 2 filtered reads, 4 writes.
func expiredSpec(typ string) {
	labels := append(framework.AreaOf("method", "type:"+typ).Labels(), framework.Reqs(typ, "MA-MTH-013")...)
	type pending struct {
		u *framework.User
		c *myaccount.Client
		s *methods.Started
	}
	exp := framework.IssueAtStart(framework.An(typ)+" enrollment's auth_session", labels, func(ctx context.Context) (any, time.Duration, error) {
		d, err := methods.New(typ, framework.MethodsEnv())
		if err != nil {
			return nil, 0, err
		}
		u, c, err := framework.SignUpQuietly(ctx)
		if err != nil {
			return nil, 0, err
		}
		body := d.StartBody(framework.AsEnrolling(u))
		resp, err := c.Start(ctx, body)
		if err != nil {
			return nil, 0, err
		}
		if resp.Status != http.StatusAccepted {
			return nil, 0, fmt.Errorf("POST /authentication-methods {type: %s} answered %d: %.300s", typ, resp.Status, resp.Body)
		}
		s := methods.NewStarted(body, resp.Location(), resp.Body)
		lifetime, _ := d.Lifetime(s)
		return pending{u, c, s}, lifetime, nil
	})
	It("refuses an expired enrollment auth_session, and creates nothing", labels, SpecPriority(framework.ExpiryPriority), func(ctx SpecContext) {
		d := framework.DriverFor(ctx, typ)
		p := exp.Await(ctx).(pending)
		DeferCleanup(func(ctx SpecContext) {
			for _, err := range p.c.Cleanup(ctx) {
				framework.F.Leftovers.Add(p.u.Email + ": " + err.Error())
			}
		})
		before := framework.MethodsOf(ctx, p.c, typ)
		proof, err := d.Proof(ctx, framework.AsEnrolling(p.u), p.s)
		Expect(err).NotTo(HaveOccurred())
		framework.ExpectBadRequest(framework.VerifyAttempt(ctx, p.c, p.s.Location, proof.Body), "an expired "+typ+" enrollment auth_session")
		control := framework.VerifyMethod(ctx, p.c, d, p.u, framework.StartMethod(ctx, p.c, d, p.u))
		Expect(framework.MethodsOf(ctx, p.c, typ)).To(ConsistOf(append(before, control.ID)), "only the enrollment verified in time may create a method")
	})
}

// DELETE's 409: a user's last primary (first-factor) method stays. The user enrolls
// a method of the type, deletes the signup passkey (204: another primary is left),
// and the method, now the last, cannot be deleted. 2 reads, 4 writes.
func lastPrimarySpec(typ string) {
	It("refuses to delete the user's last primary method (409), and keeps it", framework.Reqs(typ, "MA-MTH-017"), func(ctx SpecContext) {
		d := framework.DriverFor(ctx, typ)
		u := framework.NewUser(ctx)
		u.Retire() // its signup passkey is deleted below
		c := framework.Me(ctx, u)
		signup := framework.MethodsOf(ctx, c, methods.Passkey)
		Expect(signup).To(HaveLen(1), "a user signed up with a passkey has that one passkey")
		e := framework.VerifyMethod(ctx, c, d, u, framework.StartMethod(ctx, c, d, u))
		expectDeleted(ctx, c, signup[0])
		resp := framework.Deliver(c.Delete(ctx, e.ID))
		framework.ExpectNoFailures(framework.RefusalProblems("DELETE of the user's last primary method", resp, http.StatusConflict))
		Expect(framework.Call(c.Method(ctx, e.ID))).To(framework.HaveStatus(http.StatusOK), "the refused DELETE removed the method")
		// The method is the user's only one and stays with the user (listed in the report).
		c.Forget(myaccount.KindMethod, e.ID)
	})
}

// A type the target does not enable is refused by POST. 1 write.
func notEnabledSpec(typ string) {
	It("refuses to start an enrollment of the type when the target does not enable it", framework.Reqs(typ, "MA-MTH-020"), func(ctx SpecContext) {
		framework.RequireCustomDomain()
		d := framework.StaticDriver(typ)
		if !d.Enrollable() {
			Skip("the API does not enroll " + typ + " methods at all (MA-MTH-021)")
		}
		if enabled := framework.EnabledTypes(ctx); slices.Contains(enabled, typ) {
			Skip(fmt.Sprintf("the target enables %s (%s lists it)", typ, framework.CapabilitySource()))
		}
		u := framework.BorrowUser(ctx, framework.Budget{spec.Write: 1})
		c := framework.Me(ctx, u)
		framework.ExpectBadRequest(framework.Deliver(c.Start(ctx, d.StartBody(framework.AsEnrolling(u)))), "POST /authentication-methods of a type "+framework.CapabilitySource()+" does not list")
	})
}

// Steps of the lifecycles.

// expectListedAndGot: the method is listed, listed with ?type= of its type (with
// only methods of that type), and got by id; none of secrets shows. 2 reads, 1
// filtered read.
func expectListedAndGot(ctx context.Context, c *myaccount.Client, d methods.Driver, e framework.Enrolled, secrets []string) {
	GinkgoHelper()
	resp := framework.Call(c.Methods(ctx, ""))
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "GET /authentication-methods")
	Expect(framework.MethodIDs(methodList(resp))).To(ContainElement(e.ID), "GET /authentication-methods must list the new method")
	bodies := []*harness.Response{resp}

	resp = framework.Call(c.Methods(ctx, d.Type()))
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "GET /authentication-methods?type=%s", d.Type())
	typed := methodList(resp)
	Expect(framework.MethodIDs(typed)).To(ContainElement(e.ID), "GET /authentication-methods?type=%s must list the new method", d.Type())
	for _, m := range typed {
		Expect(m["type"]).To(Equal(d.Type()), "GET /authentication-methods?type=%s lists a method of type %v", d.Type(), m["type"])
	}
	bodies = append(bodies, resp)

	resp = framework.Call(c.Method(ctx, e.ID))
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "GET /authentication-methods/{id}")
	Expect(resp.Object()).To(HaveKeyWithValue("id", e.ID))
	Expect(d.CheckMethod(e.Started, e.Proof, resp.Object())).To(Succeed(), "the method GET answers")
	bodies = append(bodies, resp)

	for _, secret := range secrets {
		for _, b := range bodies {
			if secret != "" && strings.Contains(string(b.Body), secret) {
				Fail(fmt.Sprintf("%s %s shows a secret of the enrollment (shown once, in its 202 or verify) again", b.Exchange.Method, b.Exchange.URL))
			}
		}
	}
}

func methodList(resp *harness.Response) []map[string]any {
	GinkgoHelper()
	var body struct {
		Methods []map[string]any `json:"authentication_methods"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	return body.Methods
}

// expectPatched: PATCH answers 200 with the method changed as asked. 1 write.
func expectPatched(ctx context.Context, c *myaccount.Client, id string, change map[string]any) {
	GinkgoHelper()
	resp := framework.Call(c.Update(ctx, id, change))
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "PATCH /authentication-methods/{id} %v", change)
	m := resp.Object()
	Expect(m).To(HaveKeyWithValue("id", id))
	for k, v := range change {
		Expect(m).To(HaveKeyWithValue(k, v), "PATCH must answer the method with %s changed", k)
	}
}

// expectPatchRefused: PATCH with a field the method does not have answers 400 with
// the problem body. 1 write.
func expectPatchRefused(ctx context.Context, c *myaccount.Client, id string, foreign map[string]any) {
	GinkgoHelper()
	resp := framework.Deliver(c.Update(ctx, id, foreign))
	framework.ExpectBadRequest(resp, fmt.Sprintf("PATCH %v of a method without that field", foreign))
}

// expectDeleted: DELETE answers 204 without a body. 1 write.
func expectDeleted(ctx context.Context, c *myaccount.Client, id string) {
	GinkgoHelper()
	Expect(id).NotTo(BeEmpty(), "no method to delete")
	resp := framework.Call(c.Delete(ctx, id))
	Expect(resp).To(framework.HaveStatus(http.StatusNoContent), "DELETE /authentication-methods/{id}")
	Expect(resp.Body).To(BeEmpty(), "204 has no body")
}

// expectGone: a deleted method is not listed and GET answers 404. 2 reads.
func expectGone(ctx context.Context, c *myaccount.Client, id string) {
	GinkgoHelper()
	Expect(framework.MethodsOf(ctx, c, "")).NotTo(ContainElement(id), "GET /authentication-methods lists a deleted method")
	resp := framework.Deliver(c.Method(ctx, id))
	framework.ExpectNoFailures(framework.RefusalProblems("GET of a deleted method", resp, http.StatusNotFound))
}

// requirePasswordLogin skips without a client for Universal Login.
func requirePasswordLogin() {
	GinkgoHelper()
	if len(framework.F.Target.LoginClients()) == 0 {
		Skip("the target config has no clients.spa or clients.web: a password logs in through Universal Login, which needs one")
	}
}

// passwordLogin logs in through Universal Login with the configured driver as email
// with password, through the prompts (no session: whether the password logs in is
// the point), and returns the callback URL or the driver's error.
func passwordLogin(ctx context.Context, d login.Driver, email, password string) (login.Request, string, error) {
	GinkgoHelper()
	framework.F.Redactor.Add(password, "PASSWORD")
	a := framework.NewAuth(framework.LoginHost(), framework.F.Target.LoginClients()[0], "openid", harness.ScopeReadMethods)
	u, err := d.Login(ctx, a.URL(), a.Client.RedirectURI, login.As{Username: email, Password: password, Fresh: true})
	var ue *harness.UnreachableError
	if errors.As(err, &ue) {
		framework.Undecided(ue.Error())
	}
	return a, u, err
}

// expectLogsIn: the method logs its user in, where the type has a flow.
func expectLogsIn(ctx context.Context, d methods.Driver, driver login.Driver, u *framework.User, e framework.Enrolled) {
	GinkgoHelper()
	switch d.Flow() {
	case methods.FlowPasskey:
		Expect(e.Proof.Passkey).NotTo(BeNil(), "no passkey was enrolled")
		t := framework.SignIn(ctx, u, e.Proof.Passkey, framework.RequireCustomDomain())
		Expect(framework.Claims(t.AccessToken)["sub"]).To(Equal(u.Subject), "the new passkey must log in the same user")
	case methods.FlowPassword:
		a, callback, err := passwordLogin(ctx, driver, u.Email, e.Proof.Password)
		Expect(err).NotTo(HaveOccurred(), "logging in through the %s driver with the enrolled password", driver.Name())
		cb := framework.CheckCallback(callback, a)
		t := framework.TokensOf(framework.Redeem(ctx, a, cb.Code, false, nil))
		Expect(framework.Claims(t.AccessToken)["sub"]).To(Equal(u.Subject), "the password must log in the user who enrolled it")
	default:
		Skip(framework.An(d.Type()) + " method is a second factor: the API's documents give no login flow the suite can drive with it alone")
	}
}

// expectNoLongerLogsIn: a deleted method no longer logs its user in, while the
// user's other passkey still does (the refusal is about the deleted method).
func expectNoLongerLogsIn(ctx context.Context, d methods.Driver, driver login.Driver, u *framework.User, e framework.Enrolled) {
	GinkgoHelper()
	host := framework.RequireCustomDomain()
	switch d.Flow() {
	case methods.FlowPasskey:
		resp := framework.PasskeyLogin(ctx, u, e.Proof.Passkey, host, config.MeAudience(host), harness.ScopeReadMethods)
		framework.ExpectGrantRefused(resp, "a login with a deleted passkey")
	case methods.FlowPassword:
		_, callback, err := passwordLogin(ctx, driver, u.Email, e.Proof.Password)
		if err == nil {
			cb, perr := login.ParseCallback(callback)
			Expect(perr).NotTo(HaveOccurred())
			Expect(cb.Code).To(BeEmpty(), "the deleted password still logged the user in")
		}
	default:
		Skip(framework.An(d.Type()) + " method is a second factor: the API's documents give no login flow the suite can drive with it alone")
	}
	framework.SignIn(ctx, u, u.Passkeys[0], host, harness.ScopeReadMethods)
}
