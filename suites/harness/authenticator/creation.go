package authenticator

import (
	"bytes"
	"encoding/json"
)

// creation is what a registration takes from creation options, checked as a
// browser checks them.
type creation struct {
	challenge, userHandle []byte
	rpID, rpName          string
	userName, displayName string
}

// readCreation reads and checks creation options for a credential of alg on
// origin (see RegisterWith).
func (a *Authenticator) readCreation(options []byte, origin string, alg Alg, mod Mods) (creation, error) {
	var o struct {
		Challenge *string `json:"challenge"`
		RP        *struct {
			ID   string  `json:"id"`
			Name *string `json:"name"`
		} `json:"rp"`
		User *struct {
			ID          *string `json:"id"`
			Name        *string `json:"name"`
			DisplayName *string `json:"displayName"`
		} `json:"user"`
		PubKeyCredParams *[]struct {
			Type string `json:"type"`
			Alg  Alg    `json:"alg"`
		} `json:"pubKeyCredParams"`
		ExcludeCredentials []credDescriptor `json:"excludeCredentials"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		return creation{}, optErr("register", options, "options are not a JSON object: %v", err)
	}
	switch {
	case o.Challenge == nil:
		return creation{}, optErr("register", options, "challenge missing")
	case o.RP == nil || o.RP.Name == nil:
		return creation{}, optErr("register", options, "rp.name missing")
	case o.User == nil || o.User.ID == nil || o.User.Name == nil || o.User.DisplayName == nil:
		return creation{}, optErr("register", options, "user.id, user.name or user.displayName missing")
	case o.PubKeyCredParams == nil:
		return creation{}, optErr("register", options, "pubKeyCredParams missing")
	}
	c := creation{rpName: *o.RP.Name, userName: *o.User.Name, displayName: *o.User.DisplayName}
	var err error
	if c.challenge, err = unb64(*o.Challenge); err != nil || len(c.challenge) == 0 {
		return creation{}, optErr("register", options, "challenge %q is not non-empty base64url without padding", *o.Challenge)
	}
	if c.userHandle, err = unb64(*o.User.ID); err != nil || len(c.userHandle) == 0 || len(c.userHandle) > 64 {
		return creation{}, optErr("register", options, "user.id %q is not 1-64 bytes of base64url without padding", *o.User.ID)
	}
	var offered []Alg
	for _, p := range *o.PubKeyCredParams {
		if p.Type == "public-key" { // browsers skip unknown types
			offered = append(offered, p.Alg)
		}
	}
	if len(*o.PubKeyCredParams) == 0 {
		offered = []Alg{ES256, RS256} // WebAuthn §5.1.3 step 10: the client's default
	}
	if !containsAlg(offered, alg) {
		return creation{}, optErr("register", options, "%v (%d) not offered; pubKeyCredParams offers %v", alg, int(alg), offered)
	}
	if c.rpID, err = effectiveRPID(o.RP.ID, origin, mod.RPID); err != nil {
		return creation{}, optErr("register", options, "%w", err)
	}
	return c, a.excluded(options, c.rpID, o.ExcludeCredentials)
}

// excluded fails as a browser does (InvalidStateError) when excludeCredentials
// names a passkey this authenticator holds for rpID.
func (a *Authenticator) excluded(options []byte, rpID string, exclude []credDescriptor) error {
	for _, c := range exclude {
		id, err := unb64(c.ID)
		if err != nil {
			return optErr("register", options, "excludeCredentials id %q is not base64url without padding", c.ID)
		}
		for _, held := range a.passkeys {
			if c.Type == "public-key" && held.RPID == rpID && bytes.Equal(held.ID, id) {
				return optErr("register", options, "%w: excludeCredentials names passkey %s held by this authenticator", ErrInvalidState, held.IDString())
			}
		}
	}
	return nil
}
