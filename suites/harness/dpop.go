package harness

// DPoP (RFC 9449) in the client: its keys, which tokens are bound to which key, the
// servers' nonces, and the credentials of each request. A proof is made when the
// request is built, after pacing, so that it is fresh however long the request
// waited; a proof the server refuses for want of a (new) nonce is made again with
// the nonce and sent once more.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/dpop"
)

// keyring holds a client's DPoP state.
type keyring struct {
	mu      sync.Mutex
	clients map[string]*dpop.Key // client_id → the client's key
	bound   map[string]*dpop.Key // access or refresh token → the key it is bound to
	nonces  map[string]string    // dpop.NonceKey → the nonce that server last gave
}

// ClientKey is the DPoP key of the client with that client_id: one per client, as an
// application holds one, made (ES256) on first use.
func (c *Client) ClientKey(clientID string) *dpop.Key {
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	if c.keys.clients == nil {
		c.keys.clients = map[string]*dpop.Key{}
	}
	k, ok := c.keys.clients[clientID]
	if !ok {
		k = dpop.MustKey(dpop.ES256)
		c.keys.clients[clientID] = k
	}
	return k
}

// BoundKey is the key a token the client obtained with a proof is bound to; nil for
// a token it does not know as bound.
func (c *Client) BoundKey(token string) *dpop.Key {
	if token == "" {
		return nil
	}
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	return c.keys.bound[token]
}

// Bind notes that token is bound to k (for tokens obtained outside the client).
func (c *Client) Bind(token string, k *dpop.Key) {
	if token == "" || k == nil {
		return
	}
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	if c.keys.bound == nil {
		c.keys.bound = map[string]*dpop.Key{}
	}
	c.keys.bound[token] = k
}

// Nonce is the nonce the server of rawURL last gave ("" for none).
func (c *Client) Nonce(rawURL string) string {
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	return c.keys.nonces[dpop.NonceKey(rawURL)]
}

// sentProof is the DPoP proof a request carried.
type sentProof struct {
	raw        string
	key        *dpop.Key // the key the client signed it with; nil for a raw proof
	nonceRetry bool      // a demand for a nonce may be answered by a retry
}

// isTokenEndpoint says the request goes to a token endpoint.
func isTokenEndpoint(req *http.Request) bool {
	return req.Method == http.MethodPost && req.URL.Path == "/oauth/token"
}

// credentials sets the Authorization and DPoP headers of req as r asks (see the DPoP
// fields of Request).
func (c *Client) credentials(ctx context.Context, r *Request, req *http.Request, body []byte) (sentProof, error) {
	var (
		tok   string
		bound *dpop.Key
	)
	switch {
	case r.Session != nil:
		t, err := r.Session.Token(ctx)
		if err != nil {
			return sentProof{}, err
		}
		tok = t
		if r.Session.Scheme() == "DPoP" {
			if bound = r.Session.Key(); bound == nil {
				bound = c.BoundKey(tok)
			}
		}
	case r.Bearer != "":
		tok = r.Bearer
		bound = c.BoundKey(tok)
	}
	key := bound
	if strings.EqualFold(r.Scheme, "Bearer") {
		key = nil // the bound token as a bearer token: no proof
	}
	if r.DPoP != nil {
		key = r.DPoP
	}
	if tok == "" && key == nil && isTokenEndpoint(req) {
		key = c.tokenRequestKey(req, body)
	}
	if tok != "" {
		scheme := "Bearer"
		if key != nil || r.RawProof != "" {
			scheme = "DPoP"
		}
		if r.Scheme != "" {
			scheme = r.Scheme
		}
		req.Header.Set("Authorization", scheme+" "+tok)
	}
	switch {
	case r.NoProof:
		return sentProof{}, nil
	case r.RawProof != "":
		req.Header.Set("DPoP", r.RawProof)
		return sentProof{raw: r.RawProof}, nil
	case key == nil:
		return sentProof{}, nil
	}
	p, err := key.New(dpop.Request{Method: r.Method, URL: r.URL, AccessToken: tok, Nonce: c.Nonce(r.URL)})
	if err != nil {
		return sentProof{}, err
	}
	raw, err := p.Sign(r.Proof...)
	if err != nil {
		return sentProof{}, err
	}
	req.Header.Set("DPoP", raw)
	return sentProof{raw: raw, key: key, nonceRetry: !p.FixedNonce}, nil
}

// tokenRequestKey is the key a token request proves possession of by default: the
// key a refresh token it redeems is bound to, or its client's key when the target
// requires DPoP of the client; nil for none.
func (c *Client) tokenRequestKey(req *http.Request, body []byte) *dpop.Key {
	p := tokenParams(req, body)
	if k := c.BoundKey(p.Get("refresh_token")); k != nil {
		return k
	}
	id := p.Get("client_id")
	if u, _, ok := req.BasicAuth(); ok && id == "" {
		id, _ = url.QueryUnescape(u)
	}
	if id != "" && c.Target.DPoPForClientID(id) == config.DPoPRequired {
		return c.ClientKey(id)
	}
	return nil
}

// tokenParams reads a token request's parameters, form or JSON.
func tokenParams(req *http.Request, body []byte) url.Values {
	if strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		out := url.Values{}
		if json.Unmarshal(body, &m) == nil {
			for k, v := range m {
				if s, ok := v.(string); ok {
					out.Set(k, s)
				}
			}
		}
		return out
	}
	v, _ := url.ParseQuery(string(body))
	return v
}

// learn keeps what a response teaches: the server's nonce (RFC 9449 §8.2: any
// response may carry a new one), and, for tokens issued to a proof the client made,
// the key they are bound to. A refresh token is noted as bound even when the access
// token is not: RFC 9449 §5 lets a server bind the refresh token alone.
func (k *keyring) learn(rawURL string, proof sentProof, resp *Response) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if n := resp.Header.Get("DPoP-Nonce"); n != "" {
		if k.nonces == nil {
			k.nonces = map[string]string{}
		}
		k.nonces[dpop.NonceKey(rawURL)] = n
	}
	if proof.key == nil || resp.Status != http.StatusOK || !isTokenEndpoint(resp.req) {
		return
	}
	var t Tokens
	if json.Unmarshal(resp.Body, &t) != nil {
		return
	}
	if k.bound == nil {
		k.bound = map[string]*dpop.Key{}
	}
	if strings.EqualFold(t.TokenType, "DPoP") && t.AccessToken != "" {
		k.bound[t.AccessToken] = proof.key
	}
	if t.RefreshToken != "" {
		k.bound[t.RefreshToken] = proof.key
	}
}
