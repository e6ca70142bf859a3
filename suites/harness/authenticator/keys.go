package authenticator

import (
	"crypto/ecdsa"
	"crypto/ed25519"

	"github.com/fxamacker/cbor/v2"
)

// okpCOSEKey is the COSE_Key of an Ed25519 public key: kty OKP (1), alg EdDSA (-8),
// crv Ed25519 (6), x.
func okpCOSEKey(pub ed25519.PublicKey) []byte {
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err) // fixed options: cannot fail
	}
	out, err := em.Marshal(map[int]any{1: 1, 3: int(EdDSA), -1: 6, -2: []byte(pub)})
	if err != nil {
		panic(err)
	}
	return out
}

// p384COSEKey is the COSE_Key of a P-384 public key: kty EC2 (2), alg ES384 (-35),
// crv P-384 (2), x and y of 48 bytes each.
func p384COSEKey(pub *ecdsa.PublicKey) []byte {
	raw, err := pub.Bytes() // 0x04 || X (48) || Y (48)
	if err != nil {
		panic(err) // a generated P-384 key: cannot fail
	}
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	out, err := em.Marshal(map[int]any{1: 2, 3: int(ES384), -1: 2, -2: raw[1:49], -3: raw[49:]})
	if err != nil {
		panic(err)
	}
	return out
}
