//! Hashing rules and the canonical proof encoding of docs/smt.md ("Hashing", "Proofs").
//!
//! The verifier needs no store; it is the Rust twin of `fontana/smt/proof.py` and gives
//! the same verdict on every input, decoding strictly and never panicking.

use sha2::{Digest, Sha256};

/// Hash of an empty subtree, and the root of an empty tree.
pub const EMPTY: [u8; 32] = [0; 32];
/// Keys have 256 bits, so no path is longer.
pub const MAX_DEPTH: usize = 256;
pub const LEAF_DOMAIN: &[u8; 17] = b"fontana/smt/leaf\x00";
pub const NODE_DOMAIN: &[u8; 17] = b"fontana/smt/node\x00";

/// `SHA-256("fontana/smt/leaf" ‖ 0x00 ‖ key ‖ value_hash)`.
pub fn leaf_hash(key: &[u8; 32], value_hash: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LEAF_DOMAIN);
    h.update(key);
    h.update(value_hash);
    h.finalize().into()
}

/// `SHA-256("fontana/smt/node" ‖ 0x00 ‖ left ‖ right)`.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(NODE_DOMAIN);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Bit `depth` of `key`, most significant bit of byte 0 first (0 = left).
#[inline]
pub fn key_bit(key: &[u8; 32], depth: usize) -> u8 {
    (key[depth >> 3] >> (7 - (depth & 7))) & 1
}

/// What sits at the end of the key's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofKind {
    /// The key's own leaf.
    Inclusion = 0,
    /// Nothing: the key is absent.
    EmptySubtree = 1,
    /// The leaf of another key sharing the prefix: the key is absent.
    OtherLeaf = 2,
}

/// The siblings along a key's path, root side first (`EMPTY` for an empty sibling).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    pub kind: ProofKind,
    pub siblings: Vec<[u8; 32]>,
    /// `(other_key, other_value_hash)`, set exactly for `OtherLeaf`.
    pub other: Option<([u8; 32], [u8; 32])>,
}

/// Why proof bytes do not decode; `Display` gives the same text as the Python decoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofError(pub String);

impl std::fmt::Display for ProofError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ProofError> {
    Err(ProofError(msg.into()))
}

fn to32(b: &[u8]) -> Option<[u8; 32]> {
    b.try_into().ok()
}

impl Proof {
    /// Decode, refusing anything `to_bytes` would not produce (docs/smt.md, "Proof encoding").
    pub fn from_bytes(data: &[u8]) -> Result<Proof, ProofError> {
        let [kind_byte, n_hi, n_lo, ..] = *data else {
            return err("smt proof: truncated header");
        };
        let kind = match kind_byte {
            0 => ProofKind::Inclusion,
            1 => ProofKind::EmptySubtree,
            2 => ProofKind::OtherLeaf,
            k => return err(format!("smt proof: unknown kind {k}")),
        };
        let n = usize::from(u16::from_be_bytes([n_hi, n_lo]));
        if n > MAX_DEPTH {
            return err(format!("smt proof: {n} siblings exceed {MAX_DEPTH}"));
        }
        let blen = n.div_ceil(8);
        let pos = 3 + blen;
        let Some(bitmap) = data.get(3..pos) else {
            return err("smt proof: length does not match its header");
        };
        let pad = 8 * blen - n;
        if let Some(&last) = bitmap.last() {
            if last & ((1u16 << pad) - 1) as u8 != 0 {
                return err("smt proof: bitmap padding bits set");
            }
        }
        let count: usize = bitmap.iter().map(|b| b.count_ones() as usize).sum();
        let tail = if kind == ProofKind::OtherLeaf { 64 } else { 0 };
        if data.len() != pos + 32 * count + tail {
            return err("smt proof: length does not match its header");
        }
        // The length check above makes every slice below in range; `get` keeps it panic-free.
        let mut siblings = Vec::with_capacity(n);
        let mut at = pos;
        for i in 0..n {
            if bitmap
                .get(i >> 3)
                .is_some_and(|b| (b >> (7 - (i & 7))) & 1 == 1)
            {
                let sib = data.get(at..at + 32).and_then(to32).unwrap_or(EMPTY);
                if sib == EMPTY {
                    return err("smt proof: empty sibling marked present");
                }
                siblings.push(sib);
                at += 32;
            } else {
                siblings.push(EMPTY);
            }
        }
        let other = if kind == ProofKind::OtherLeaf {
            let k = data.get(at..at + 32).and_then(to32);
            let v = data.get(at + 32..).and_then(to32);
            match (k, v) {
                (Some(k), Some(v)) => Some((k, v)),
                _ => return err("smt proof: length does not match its header"),
            }
        } else {
            None
        };
        let proof = Proof {
            kind,
            siblings,
            other,
        };
        proof.check()?;
        Ok(proof)
    }

    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.siblings.len();
        let blen = n.div_ceil(8);
        let mut bitmap = vec![0u8; blen];
        let mut body = Vec::with_capacity(32 * n + 64);
        for (i, sib) in self.siblings.iter().enumerate() {
            if *sib != EMPTY {
                bitmap[i >> 3] |= 0x80 >> (i & 7);
                body.extend_from_slice(sib);
            }
        }
        let mut out = Vec::with_capacity(3 + blen + body.len() + 64);
        out.push(self.kind as u8);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        out.extend_from_slice(&bitmap);
        out.extend_from_slice(&body);
        if let Some((k, v)) = &self.other {
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        out
    }

    /// The structural rules every canonical proof keeps.
    fn check(&self) -> Result<(), ProofError> {
        if self.siblings.len() > MAX_DEPTH {
            return err(format!(
                "smt proof: {} siblings exceed {MAX_DEPTH}",
                self.siblings.len()
            ));
        }
        if self.siblings.last() == Some(&EMPTY) {
            return err("smt proof: deepest sibling is empty");
        }
        if (self.kind == ProofKind::OtherLeaf) != self.other.is_some() {
            return err("smt proof: other leaf fields do not match the kind");
        }
        Ok(())
    }

    /// True iff this proof shows that `key` maps to `value_hash` (None: absent) under `root`.
    pub fn verify(&self, root: &[u8; 32], key: &[u8; 32], value_hash: Option<&[u8; 32]>) -> bool {
        if self.check().is_err() {
            return false;
        }
        let n = self.siblings.len();
        let mut h = match (self.kind, value_hash, &self.other) {
            (ProofKind::Inclusion, Some(v), _) => leaf_hash(key, v),
            (ProofKind::EmptySubtree, None, _) => EMPTY,
            (ProofKind::OtherLeaf, None, Some((other, value))) => {
                if other == key || (0..n).any(|d| key_bit(other, d) != key_bit(key, d)) {
                    return false;
                }
                leaf_hash(other, value)
            }
            _ => return false,
        };
        for (i, sib) in self.siblings.iter().enumerate().rev() {
            h = if key_bit(key, i) == 1 {
                node_hash(sib, &h)
            } else {
                node_hash(&h, sib)
            };
        }
        h == *root
    }
}

/// The reference verdict on proof bytes: bytes that do not decode are simply not valid.
pub fn verify_proof(
    root: &[u8; 32],
    key: &[u8; 32],
    value_hash: Option<&[u8; 32]>,
    proof: &[u8],
) -> bool {
    match Proof::from_bytes(proof) {
        Ok(p) => p.verify(root, key, value_hash),
        Err(_) => false,
    }
}
