package runner

import (
	"bytes"
	"slices"
	"testing"
)

// The one-pass finder finds what a search for each secret finds: secrets at the
// start, the end, overlapping, one the prefix of another, and none.
func TestSecretFinderAgreesWithContains(t *testing.T) {
	secrets := map[string]string{
		"eyJhbGciOi.abc": "access_token", "eyJhbGciOi.abcdef": "id_token", "code1234": "code",
		"s3cr3t-value": "client_secret", "never-in-the-text": "auth_session",
	}
	for _, text := range []string{
		"", "code123", "code1234", "xx eyJhbGciOi.abcdef yy", "s3cr3t-valuecode1234",
		`{"a":"eyJhbGciOi.abc","b":"code1234code1234"}`, "nothing here at all",
	} {
		var want []string
		for v := range secrets {
			if bytes.Contains([]byte(text), []byte(v)) {
				want = append(want, v)
			}
		}
		got := secretFinder(secrets)([]byte(text))
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%q: found %v, want %v", text, got, want)
		}
	}
}
