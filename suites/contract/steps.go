package contract

// Steps of the contract suite (contract.go): users handed out by what is left of
// their rate-limit budget, valid requests of every operation built for a user, and
// the read-back that shows a refusal changed nothing.

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pquerna/otp/totp"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/catalogue"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// contractUser is a user of the contract suite with what it holds.
type contractUser struct {
	*framework.User
	c        *myaccount.Client // every scope of the served operations
	methodID string            // the passkey it signed up with
	identity string            // that passkey's identity_user_id
	// enrolled are the types it enrolled besides that passkey; the suite enrolls
	// each at most once per user (a user has one password and one recovery code).
	enrolled map[string]bool
	// named are the ids of the methods enrolled for a PATCH to change, by type.
	named map[string]string
	// linked says it has a connected account: a second one of the same connection
	// is refused with 409.
	linked bool
	// methods and accounts are the last states read ("" = unknown).
	methods, accounts string
	sessions          map[string]*harness.Session
}

// userPool hands out users with enough of their budget left for a group of
// requests, signing new ones up when none has (users are cheap: a passkey signup).
type userPool struct {
	*framework.Pool[*contractUser]
	host   string
	scopes []string // every scope of the served operations
}

func newUserPool(host string) *userPool {
	p := &userPool{host: host}
	ops, _ := spec.Operations()
	for _, o := range ops {
		if !o.Planned() && !slices.Contains(p.scopes, o.Scope()) {
			p.scopes = append(p.scopes, o.Scope())
		}
	}
	p.Pool = framework.NewPool(p.signUp)
	return p
}

// capacity is how many requests of kind k one user can take at once, less fixed.
func capacity(k spec.Kind, fixed int) int {
	b := framework.UserBucket(k)
	if b.Unlimited() {
		return 1 << 20
	}
	return max(1, b.Burst-fixed)
}

// take hands out a user with need left, other than those avoid rejects, spending
// need from its budget.
func (p *userPool) take(ctx context.Context, need framework.Budget, avoid func(*contractUser) bool) *contractUser {
	GinkgoHelper()
	return p.Take(ctx, need, avoid)
}

// signUp makes a user: a passkey signup, a session with every scope, and one read
// of its methods (its passkey's id and the first state).
func (p *userPool) signUp(ctx context.Context) (*contractUser, framework.Budget) {
	GinkgoHelper()
	u := &contractUser{User: framework.NewUser(ctx), enrolled: map[string]bool{}, named: map[string]string{}, sessions: map[string]*harness.Session{}}
	u.c = myaccount.New(framework.F.Client, p.host, u.Session(ctx, p.host, p.scopes...))
	ms := u.readMethods(ctx)
	Expect(ms).NotTo(BeEmpty(), "a new user lists no authentication method")
	u.methodID, _ = ms[0]["id"].(string)
	u.identity, _ = ms[0]["identity_user_id"].(string)
	if framework.F.Target.Management.ClientID == "" {
		// What it enrolls is deleted one request at a time at the end: the rate-limit
		// bursts must not take it as a spare and empty its buckets first.
		framework.Claim(u.User)
	}
	return u, framework.Budget{spec.Read: 1}
}

// cleanup removes what the pool's users created, newest first; run it at the end.
// With a Management API client the run deletes its users at its end with all they
// have: deleting their methods one by one first would only spend writes, and a
// worker that finishes early would spend them in the tenant bucket the rate-limit
// bursts of another are measuring.
func (p *userPool) cleanup(ctx context.Context) {
	for _, u := range p.Users() {
		if framework.F.Target.Management.ClientID != "" {
			u.c.ForgetAll()
			continue
		}
		for _, err := range u.c.Cleanup(ctx) {
			framework.F.Leftovers.Add(u.Email + ": " + err.Error())
		}
	}
}

// without is a session of u with every scope of the pool but scope.
func (u *contractUser) without(ctx context.Context, p *userPool, scope string) *harness.Session {
	GinkgoHelper()
	if s := u.sessions[scope]; s != nil {
		return s
	}
	rest := slices.DeleteFunc(slices.Clone(p.scopes), func(s string) bool { return s == scope })
	s := u.Session(ctx, p.host, rest...)
	u.sessions[scope] = s
	return s
}

// readMethods lists u's methods and notes the state.
func (u *contractUser) readMethods(ctx context.Context) []map[string]any {
	GinkgoHelper()
	resp := framework.Call(u.c.Methods(ctx, ""))
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "GET /authentication-methods")
	var body struct {
		Methods []map[string]any `json:"authentication_methods"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	var lines []string
	for _, m := range body.Methods {
		lines = append(lines, fmt.Sprintf("%v %v name=%v", m["type"], m["id"], m["name"]))
	}
	slices.Sort(lines)
	u.methods = strings.Join(lines, "; ")
	return body.Methods
}

// readAccounts lists u's connected accounts (first page) and notes the state.
func (u *contractUser) readAccounts(ctx context.Context) {
	GinkgoHelper()
	resp := framework.Call(u.c.Do(ctx, myaccount.ListConnectedAccounts, myaccount.Call{}))
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "GET /connected-accounts/accounts")
	var body struct {
		Accounts []map[string]any `json:"accounts"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	var ids []string
	for _, a := range body.Accounts {
		ids = append(ids, fmt.Sprint(a["id"], " ", a["connection"]))
	}
	slices.Sort(ids)
	u.accounts = strings.Join(ids, "; ")
}

// stateOf says which of u's lists op can change: "accounts" for the
// connected-accounts operations, "methods" for the others; "" for reads.
func stateOf(op spec.Operation) string {
	switch {
	case op.Reads():
		return ""
	case strings.HasPrefix(op.Path, "/connected-accounts"):
		return "accounts"
	}
	return "methods"
}

// known makes sure u's state of that kind is known (one read when not); reads
// costs count one read for it.
func (u *contractUser) known(ctx context.Context, state string) {
	GinkgoHelper()
	switch {
	case state == "methods" && u.methods == "":
		u.readMethods(ctx)
	case state == "accounts" && u.accounts == "":
		u.readAccounts(ctx)
	}
}

// unchanged reads u's state again and returns a failure when it is not what it was.
func (u *contractUser) unchanged(ctx context.Context, state, after string) []string {
	GinkgoHelper()
	var before, now string
	switch state {
	case "methods":
		before = u.methods
		u.readMethods(ctx)
		now = u.methods
	case "accounts":
		before = u.accounts
		u.readAccounts(ctx)
		now = u.accounts
	default:
		return nil
	}
	if before != now {
		return []string{fmt.Sprintf("after %s the user's %s changed:\n  before: %s\n  after:  %s", after, state, before, now)}
	}
	return nil
}

// stale forgets u's states after something changed them on purpose.
func (u *contractUser) stale() { u.methods, u.accounts = "", "" }

// Dummy path values for requests the target refuses before it looks at them (no
// token, another audience, no scope): well-formed ids that belong to no one.
const (
	dummyMethodID  = "passkey|dev_000000000000000000000000"
	dummyAccountID = "cac_contract0000000000000000"
)

// staticCall is a request of op that the description accepts, with sample values
// where only the target could give real ones: for checks the target must refuse
// before it reads the ids or the body. methodID, when set, names a real method.
func staticCall(op spec.Operation, methodID string) myaccount.Call {
	in := myaccount.Call{Path: map[string]string{}, Deliberate: true}
	for _, p := range op.PathParams {
		switch p.Name {
		case "authentication_method_id":
			in.Path[p.Name] = cmp.Or(methodID, dummyMethodID)
		case "id":
			in.Path[p.Name] = dummyAccountID
		default:
			in.Path[p.Name] = "contract"
		}
	}
	if strings.HasSuffix(op.Path, "/verify") {
		in.Path["authentication_method_id"] = "passkey|new"
	}
	if bases := catalogue.BasesOf(op.ID); len(bases) > 0 {
		values := map[string]any{}
		for k, v := range catalogue.Samples {
			values[k] = v
		}
		values[catalogue.Name] = "contract-" + randomHex(4)
		in.Body = catalogue.Fill(bases[0].Body, values)
	}
	return in
}

// valid is a request of an operation that the target accepts from a user (see
// prepare).
type valid struct {
	call myaccount.Call
	body map[string]any // the filled base body, nil for none
	// location is the pending enrollment a verify finishes.
	location string
}

// validCost is what preparing a valid request of op costs u (a start or connect;
// for a PATCH of a method other than the signup passkey, its enrollment).
func validCost(op spec.Operation, base catalogue.Base) framework.Budget {
	switch {
	case base.Connect || op.ID == myaccount.VerifyEnrollment:
		return framework.Budget{spec.Write: 1}
	case changesNamed(op, base):
		return framework.Budget{spec.Write: 2}
	}
	return framework.Budget{}
}

// changesNamed says base is a PATCH of a method of its own type, which the suite
// enrolls for it, rather than of the user's signup passkey.
func changesNamed(op spec.Operation, base catalogue.Base) bool {
	return op.ID == myaccount.UpdateMethod && base.Type != "" && base.Type != "passkey"
}

// named is the id of u's method of typ for a PATCH to change, enrolled the first
// time (two writes: start and verify).
func (k *contract) named(ctx context.Context, u *contractUser, typ string) string {
	GinkgoHelper()
	if id := u.named[typ]; id != "" {
		return id
	}
	i := slices.IndexFunc(catalogue.BasesOf(myaccount.VerifyEnrollment), func(b catalogue.Base) bool { return b.Type == typ })
	Expect(i).To(BeNumerically(">=", 0), "suite bug: no verify base for %s", typ)
	values := map[string]any{}
	loc := k.pending(ctx, u, typ, values)
	url, err := u.c.VerifyURL(loc)
	Expect(err).NotTo(HaveOccurred())
	body := catalogue.Fill(catalogue.BasesOf(myaccount.VerifyEnrollment)[i].Body, values)
	resp := framework.Call(u.c.Do(ctx, myaccount.VerifyEnrollment, myaccount.Call{URL: url, Body: body}))
	Expect(resp).To(framework.HaveStatus(http.StatusCreated), "enrolling a %s method for a PATCH to change", typ)
	id, _ := resp.Object()["id"].(string)
	Expect(id).NotTo(BeEmpty(), "the enrolled %s method's id", typ)
	u.enrolled[typ], u.named[typ] = true, id
	u.stale()
	return id
}

// prepare builds a valid request of op for u from base (the zero Base for
// operations without a body): real ids, fresh values, and for a verify or complete
// a pending enrollment or connection started for it. accountID names the account a
// DELETE of a connected account removes. It skips when the provider flow of a
// connection cannot be followed.
func (k *contract) prepare(ctx context.Context, u *contractUser, op spec.Operation, base catalogue.Base, accountID string) valid {
	GinkgoHelper()
	values := map[string]any{
		catalogue.Name:        "contract-" + randomHex(4),
		catalogue.Email:       harness.NewEmail(),
		catalogue.PhoneNumber: "+1415555" + fmt.Sprintf("%04d", randomInt(10000)),
		catalogue.Connection:  framework.F.Target.ConnectedAccounts.Connection,
		catalogue.RedirectURI: framework.F.Target.ConnectedAccounts.RedirectURI,
	}
	v := valid{call: myaccount.Call{Path: map[string]string{}}}
	for _, p := range op.PathParams {
		switch p.Name {
		case "authentication_method_id":
			v.call.Path[p.Name] = u.methodID
			if changesNamed(op, base) {
				v.call.Path[p.Name] = k.named(ctx, u, base.Type)
			}
		case "id":
			v.call.Path[p.Name] = accountID
		}
	}
	switch {
	case op.ID == myaccount.VerifyEnrollment:
		v.location = k.pending(ctx, u, base.Type, values)
		url, err := u.c.VerifyURL(v.location)
		Expect(err).NotTo(HaveOccurred())
		v.call.URL = url
	case base.Connect:
		k.connected(ctx, u, values)
	}
	if base.Body != nil {
		v.body = catalogue.Fill(base.Body, values)
		v.call.Body = v.body
	}
	return v
}

// pending starts an enrollment of typ for u and puts its auth_session and proof
// into values; it returns the enrollment's Location.
func (k *contract) pending(ctx context.Context, u *contractUser, typ string, values map[string]any) string {
	GinkgoHelper()
	start := map[string]any{"type": typ}
	switch typ {
	case "email":
		start["email"] = values[catalogue.Email]
	case "phone":
		start["phone_number"] = values[catalogue.PhoneNumber]
	}
	resp := framework.Call(u.c.Start(ctx, start))
	Expect(resp).To(framework.HaveStatus(http.StatusAccepted), "POST /authentication-methods {type: %s}", typ)
	Expect(resp.Location()).NotTo(BeEmpty(), "the enrollment answered without a Location")
	var body struct {
		AuthSession string          `json:"auth_session"`
		Options     json.RawMessage `json:"authn_params_public_key"`
		BarcodeURI  string          `json:"barcode_uri"`
		Policy      json.RawMessage `json:"policy"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	values[catalogue.AuthSession] = body.AuthSession
	switch typ {
	case "passkey":
		// Another authenticator: the user's own holds the passkey the options exclude.
		att, _, err := authenticator.New().Register(body.Options, framework.F.Target.WebAuthn.Origin, authenticator.ES256)
		Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the creation options")
		var a any
		Expect(json.Unmarshal(att, &a)).To(Succeed())
		values[catalogue.AuthnResponse] = a
	case "totp":
		u, err := url.Parse(body.BarcodeURI)
		Expect(err).NotTo(HaveOccurred(), "barcode_uri %q", body.BarcodeURI)
		code, err := totp.GenerateCode(u.Query().Get("secret"), time.Now())
		Expect(err).NotTo(HaveOccurred(), "a TOTP code for the secret of barcode_uri")
		values[catalogue.OTPCode] = code
	case "password":
		values[catalogue.NewPassword] = newPassword()
	}
	return resp.Location()
}

// connected starts a connection for u and goes through the provider for its
// connect_code, putting both into values.
func (k *contract) connected(ctx context.Context, u *contractUser, values map[string]any) {
	GinkgoHelper()
	resp := framework.Call(u.c.Do(ctx, myaccount.Connect, myaccount.Call{Body: map[string]any{
		"connection": values[catalogue.Connection], "redirect_uri": values[catalogue.RedirectURI]}}))
	Expect(resp).To(framework.HaveStatus(http.StatusCreated), "POST /connected-accounts/connect")
	var c struct {
		ConnectURI    string `json:"connect_uri"`
		AuthSession   string `json:"auth_session"`
		ConnectParams struct {
			Ticket string `json:"ticket"`
		} `json:"connect_params"`
	}
	Expect(resp.JSON(&c)).To(Succeed())
	redirect, _ := values[catalogue.RedirectURI].(string)
	cn := framework.FollowConnect(ctx, framework.Connecting{AuthSession: c.AuthSession, RedirectURI: redirect}, c.ConnectURI+"?ticket="+url.QueryEscape(c.ConnectParams.Ticket))
	values[catalogue.AuthSession] = cn.AuthSession
	values[catalogue.ConnectCode] = cn.Code
}

// newPassword is a password a usual policy accepts: 20 characters of all four
// kinds, never the same or a neighbouring character twice in a row.
func newPassword() string {
	kinds := []string{"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnpqrstuvwxyz", "23456789", "!#%*+-=?@^_"}
	var b []byte
	for i := 0; len(b) < 20 && i < 1000; i++ {
		set := kinds[len(b)%len(kinds)]
		c := set[randomInt(len(set))]
		if n := len(b); n > 0 && (b[n-1] == c || b[n-1]+1 == c || b[n-1] == c+1) {
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func randomInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return int(v.Int64())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
