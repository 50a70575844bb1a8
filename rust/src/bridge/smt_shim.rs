//! Stand-in for `crate::smt::verify_proof` until branch native-smt is merged; then deleted.

use sha2::{Digest, Sha256};

use super::withdrawal::proof_shape;

fn hash(domain: &[u8], a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(domain);
    h.update(a);
    h.update(b);
    h.finalize().into()
}

pub fn verify_proof(
    root: &[u8; 32],
    key: &[u8; 32],
    value_hash: Option<&[u8; 32]>,
    proof: &[u8],
) -> bool {
    let Ok(kind) = proof_shape(proof) else {
        return false;
    };
    let n = usize::from(u16::from_be_bytes([proof[1], proof[2]]));
    let blen = n.div_ceil(8);
    let bit = |i: usize| proof[3 + i / 8] >> (7 - i % 8) & 1 == 1;
    let mut pos = 3 + blen;
    let mut siblings = Vec::with_capacity(n);
    for i in 0..n {
        if bit(i) {
            siblings.push(&proof[pos..pos + 32]);
            pos += 32;
        } else {
            siblings.push(&[0u8; 32][..]);
        }
    }
    let prefix_bit = |k: &[u8; 32], i: usize| k[i / 8] >> (7 - i % 8) & 1;
    let mut h = match (kind, value_hash) {
        (0, Some(v)) => hash(b"fontana/smt/leaf\x00", key, v),
        (1, None) => [0u8; 32],
        (2, None) => {
            let mut other = [0u8; 32];
            other.copy_from_slice(&proof[pos..pos + 32]);
            if &other == key || (0..n).any(|i| prefix_bit(&other, i) != prefix_bit(key, i)) {
                return false;
            }
            hash(b"fontana/smt/leaf\x00", &other, &proof[pos + 32..pos + 64])
        }
        _ => return false,
    };
    for i in (0..n).rev() {
        h = if prefix_bit(key, i) == 1 {
            hash(b"fontana/smt/node\x00", siblings[i], &h)
        } else {
            hash(b"fontana/smt/node\x00", &h, siblings[i])
        };
    }
    &h == root
}
