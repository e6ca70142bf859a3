package dpop

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Challenge is one authentication challenge of a WWW-Authenticate header (RFC 9110
// §11.6.1): its scheme and parameters (names lower case, quoted values unquoted).
type Challenge struct {
	Scheme string
	Params map[string]string
	// Token68 is the challenge's token68 form, if it has one instead of parameters.
	Token68 string
}

// Algs is the algs parameter split into algorithm names (RFC 9449 §7.1: a
// space-delimited list).
func (c Challenge) Algs() []string { return strings.Fields(c.Params["algs"]) }

// ParseChallenges reads every challenge of the WWW-Authenticate field lines. It is
// lenient about what it cannot read: a malformed part ends the challenge it is in.
func ParseChallenges(lines []string) []Challenge {
	var out []Challenge
	for _, line := range lines {
		out = append(out, parseLine(line)...)
	}
	return out
}

// Find is the first challenge of scheme (case-insensitive), and whether there is one.
func Find(h http.Header, scheme string) (Challenge, bool) {
	for _, c := range ParseChallenges(h.Values("WWW-Authenticate")) {
		if strings.EqualFold(c.Scheme, scheme) {
			return c, true
		}
	}
	return Challenge{}, false
}

// lexer over one field line.
type lexer struct {
	s string
	i int
}

func (l *lexer) skipSpace() {
	for l.i < len(l.s) && (l.s[l.i] == ' ' || l.s[l.i] == '\t') {
		l.i++
	}
}

func isTChar(c byte) bool {
	return c > 0x20 && c < 0x7f && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(c))
}

// token reads a token (RFC 9110 §5.6.2).
func (l *lexer) token() string {
	start := l.i
	for l.i < len(l.s) && isTChar(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

// quoted reads a quoted-string (RFC 9110 §5.6.4), l.i at the opening quote.
func (l *lexer) quoted() (string, bool) {
	var b strings.Builder
	for l.i++; l.i < len(l.s); l.i++ {
		switch c := l.s[l.i]; c {
		case '"':
			l.i++
			return b.String(), true
		case '\\':
			if l.i+1 < len(l.s) {
				l.i++
				b.WriteByte(l.s[l.i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), false
}

// peekParam says whether a name "=" follows (a parameter), rather than a new scheme.
func (l *lexer) peekParam() bool {
	save := l.i
	defer func() { l.i = save }()
	l.skipSpace()
	if l.token() == "" {
		return false
	}
	l.skipSpace()
	if l.i >= len(l.s) || l.s[l.i] != '=' {
		return false
	}
	// token68 ends in "=" padding that is followed by a comma or the end, not a value.
	l.i++
	for l.i < len(l.s) && l.s[l.i] == '=' {
		l.i++
	}
	l.skipSpace()
	return l.i < len(l.s) && l.s[l.i] != ','
}

func parseLine(s string) []Challenge {
	l := &lexer{s: s}
	var out []Challenge
	for l.i < len(l.s) {
		l.skipSpace()
		if l.i < len(l.s) && l.s[l.i] == ',' {
			l.i++
			continue
		}
		scheme := l.token()
		if scheme == "" {
			break // not a challenge: stop reading this line
		}
		c := Challenge{Scheme: scheme, Params: map[string]string{}}
		l.skipSpace()
		// A token68 (e.g. "Negotiate abc=="): characters up to a comma, not a parameter.
		if l.i < len(l.s) && l.s[l.i] != ',' && !l.peekParam() {
			start := l.i
			for l.i < len(l.s) && l.s[l.i] != ',' {
				l.i++
			}
			c.Token68 = strings.TrimSpace(l.s[start:l.i])
			out = append(out, c)
			continue
		}
		for l.peekParam() {
			l.skipSpace()
			name := strings.ToLower(l.token())
			l.skipSpace()
			l.i++ // '='
			l.skipSpace()
			var v string
			if l.i < len(l.s) && l.s[l.i] == '"' {
				v, _ = l.quoted()
			} else {
				v = l.token()
			}
			c.Params[name] = v
			l.skipSpace()
			if l.i < len(l.s) && l.s[l.i] == ',' {
				l.i++
			}
		}
		out = append(out, c)
	}
	return out
}

// OAuthError is the error member of a token endpoint's JSON error body, "" without one.
func OAuthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error
}

// NonceErrors are the error codes that demand a (new) nonce: RFC 9449's
// use_dpop_nonce, and invalid_dpop_nonce, which the vendor's spa-js answers the same
// way (a retry with the nonce given).
var NonceErrors = []string{"use_dpop_nonce", "invalid_dpop_nonce"}

// NonceDemanded says a response asks for a (new) nonce: the token endpoint's 400
// use_dpop_nonce (RFC 9449 §8) or the API's 401 with a DPoP challenge naming it
// (§9), with a DPoP-Nonce header to retry with; invalid_dpop_nonce likewise.
func NonceDemanded(status int, h http.Header, body []byte) bool {
	if h.Get("DPoP-Nonce") == "" {
		return false
	}
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized:
		if slices.Contains(NonceErrors, OAuthError(body)) {
			return true
		}
		c, ok := Find(h, "DPoP")
		return ok && slices.Contains(NonceErrors, c.Params["error"])
	}
	return false
}
