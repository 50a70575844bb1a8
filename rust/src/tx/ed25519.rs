//! ed25519 verification with exactly libsodium's verdicts (`crypto_sign_verify_detached`,
//! PyNaCl's verifier, the Python path's reference): docs/native.md, "Transactions".
//!
//! libsodium (not built with `ED25519_COMPAT`) refuses, before any curve arithmetic:
//! a non-canonical `S` (`S >= L`), an `R` or `A` on its list of small-order encodings
//! (compared without the sign bit), and an `A` whose `y` is not below `p`. It then checks
//! the cofactorless equation by comparing the encoding of `[S]B - [k]A` with `R`'s bytes.
//!
//! ed25519-dalek's `verify_strict` (without `legacy_compatibility`) refuses `S >= L`, any
//! small-order `R` or `A`, and compares the same encodings, but it reduces a non-canonical
//! `y` of `A` instead of refusing it. The checks below are libsodium's own, on the bytes, so
//! the two agree on every input: the list covers every small-order encoding dalek would
//! find (canonical or not), a non-canonical `R` can never equal the canonical encoding it
//! is compared with, and the remaining difference (`A`'s `y >= p`) is refused here first.

use ed25519_dalek::{Signature, VerifyingKey};

/// libsodium's `ge25519_has_small_order` blocklist: every encoding of a point of order
/// 1, 2, 4 or 8, the sign bit (bit 255) ignored.
const SMALL_ORDER: [[u8; 32]; 7] = [
    // 0 (order 4)
    [0; 32],
    // 1 (order 1)
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0,
    ],
    // 2707385501144840649318225287225658788936804267575313519463743609750303402022 (order 8)
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    // 55188659117513257062467267217118295137698188065244968500265048394206261417927 (order 8)
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    // p - 1 (order 2)
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    // p (= 0, order 4)
    [
        0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    // p + 1 (= 1, order 1)
    [
        0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
];

/// The group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// libsodium's `ge25519_has_small_order`.
pub fn has_small_order(s: &[u8; 32]) -> bool {
    SMALL_ORDER
        .iter()
        .any(|bad| s[..31] == bad[..31] && (s[31] & 0x7f) == bad[31])
}

/// libsodium's `ge25519_is_canonical`: `y < p`, the sign bit ignored.
pub fn is_canonical_point(s: &[u8; 32]) -> bool {
    let top = (s[31] & 0x7f) == 0x7f && s[1..31].iter().all(|b| *b == 0xff);
    !(top && s[0] >= 0xed)
}

/// libsodium's `sc25519_is_canonical`: `S < L`.
pub fn is_canonical_scalar(s: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if s[i] != L[i] {
            return s[i] < L[i];
        }
    }
    false
}

/// Whether `signature` is `pubkey`'s over `message`, exactly as libsodium decides.
pub fn verify(pubkey: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(a), Ok(sig)) = (
        <[u8; 32]>::try_from(pubkey),
        <[u8; 64]>::try_from(signature),
    ) else {
        return false;
    };
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    s.copy_from_slice(&sig[32..]);
    if !is_canonical_scalar(&s) || has_small_order(&r) {
        return false;
    }
    if !is_canonical_point(&a) || has_small_order(&a) {
        return false;
    }
    let Ok(key) = VerifyingKey::from_bytes(&a) else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(&sig))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn accepts_a_valid_signature_and_refuses_a_changed_one() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let sig = key.sign(b"message").to_bytes();
        let pk = key.verifying_key().to_bytes();
        assert!(verify(&pk, b"message", &sig));
        assert!(!verify(&pk, b"other", &sig));
        let mut bad = sig;
        bad[0] ^= 1;
        assert!(!verify(&pk, b"message", &bad));
        assert!(!verify(&pk[..31], b"message", &sig));
    }

    #[test]
    fn refuses_non_canonical_s() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let sig = key.sign(b"m").to_bytes();
        // S + L: the same point equation, a different encoding.
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig[32..]);
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(s[i]) + u16::from(L[i]) + carry;
            s[i] = v as u8;
            carry = v >> 8;
        }
        let mut bad = sig;
        bad[32..].copy_from_slice(&s);
        assert!(!verify(&key.verifying_key().to_bytes(), b"m", &bad));
        assert!(!is_canonical_scalar(&L));
    }

    #[test]
    fn blocklist_ignores_the_sign_bit() {
        for bad in SMALL_ORDER {
            let mut flipped = bad;
            flipped[31] |= 0x80;
            assert!(has_small_order(&bad) && has_small_order(&flipped));
        }
        assert!(!is_canonical_point(&SMALL_ORDER[5]));
        assert!(is_canonical_point(&SMALL_ORDER[4]));
    }
}
