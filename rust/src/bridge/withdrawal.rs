//! A withdrawal's leaf and its proof against a state root (protocol.md sections 4 and 9).

use super::errors::BridgeError;
use super::header::tagged_hash;
use crate::smt::{verify_proof, Proof, ProofKind};

/// `WithdrawalLeaf = id (32) ‖ l1_recipient (20) ‖ token (20) ‖ amount (u64)`.
pub const LEAF_LEN: usize = 80;

/// `tagged_hash("fontana/withdrawal/key", id)`: the leaf's state tree key.
pub fn withdrawal_key(id: &[u8; 32]) -> [u8; 32] {
    tagged_hash("fontana/withdrawal/key", &[id])
}

/// `tagged_hash("fontana/withdrawal/leaf", leaf)`: what the tree stores under the key.
pub fn leaf_value_hash(leaf: &[u8]) -> [u8; 32] {
    tagged_hash("fontana/withdrawal/leaf", &[leaf])
}

/// Check that `proof` shows burn `burn`'s `leaf` under `root`, the state root of block `height`.
///
/// The leaf must be 80 bytes naming `burn` with a positive amount. A proof that does not
/// verify is, by what it is: malformed (`EncodingError`), a valid proof that the key is
/// absent (`UnknownWithdrawalError`), or a proof of something else (`ProofMismatchError`).
pub fn check_withdrawal(
    root: &[u8; 32],
    height: u64,
    burn: &[u8; 32],
    leaf: &[u8],
    proof: &[u8],
) -> Result<(), BridgeError> {
    let id = hex::encode(burn);
    if leaf.len() != LEAF_LEN {
        return Err(BridgeError::malformed(format!(
            "withdrawal {id}: the leaf has {} bytes, not {LEAF_LEN}",
            leaf.len()
        )));
    }
    if &leaf[..32] != burn {
        return Err(BridgeError::ProofMismatch(format!(
            "withdrawal {id}: the ledger gave the leaf of withdrawal {}",
            hex::encode(&leaf[..32])
        )));
    }
    if leaf[72..].iter().all(|b| *b == 0) {
        return Err(BridgeError::Encoding(
            "bad_amount",
            format!("withdrawal {id}: the leaf's amount is 0"),
        ));
    }
    let key = withdrawal_key(burn);
    if verify_proof(root, &key, Some(&leaf_value_hash(leaf)), proof) {
        return Ok(());
    }
    let root_hex = hex::encode(root);
    match Proof::from_bytes(proof) {
        Err(why) => Err(BridgeError::malformed(format!("withdrawal {id}: {why}"))),
        Ok(p) if p.kind != ProofKind::Inclusion && p.verify(root, &key, None) => {
            Err(BridgeError::UnknownWithdrawal(format!(
                "withdrawal {id} is not in the state of block {height} (root {root_hex})"
            )))
        }
        Ok(_) => Err(BridgeError::ProofMismatch(format!(
            "the proof of withdrawal {id} does not verify against the state root {root_hex} \
             of block {height}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    // tests/vectors/encoding.json, bridge.release.
    const LEAF: &str = "f2fcc7e760160e0082c7912c4482721290a070b5006beeb742e112ca55751c29000102030405060708090a0b0c0d0e0f10111213e7f1725e7734ce288f8367e1bb143e90bb3f051200000000001e8480";
    const ROOT: &str = "ef95dd37158624aa8e7921ce0b52c1e139df9387e911e02c507b241de5e0b26f";
    const PROOF: &str = "000004d0a4d2d10b25a72867adb7bffa0b558af2582aaf66631bbede39243ad0f20309e5fc4dc8514a6ef5d4db8aa00d934f8c2dfbf8f789c2c70f503700ee80821ec5866023018b39084ff5f28998202f14ee628d7be63fbc8226eaa970e4b990e86aca";

    fn vector() -> ([u8; 32], [u8; 32], Vec<u8>, Vec<u8>) {
        let leaf = h(LEAF);
        let mut burn = [0u8; 32];
        burn.copy_from_slice(&leaf[..32]);
        let mut root = [0u8; 32];
        root.copy_from_slice(&h(ROOT));
        (root, burn, leaf, h(PROOF))
    }

    #[test]
    fn release_vector_key_hash_and_proof() {
        let (root, burn, leaf, proof) = vector();
        assert_eq!(
            hex::encode(withdrawal_key(&burn)),
            "06efae7aa3fe1694271f689c2c872c3658ac61139d1e15d50c0ba8a53fb2a5d0"
        );
        assert_eq!(
            hex::encode(leaf_value_hash(&leaf)),
            "3f93f7882c4b020b3599bb90452bf735448832efede3dba51f1db681700c83d3"
        );
        check_withdrawal(&root, 5, &burn, &leaf, &proof).unwrap();
    }

    #[test]
    fn each_failure_has_its_type() {
        let (root, burn, leaf, proof) = vector();
        let mut other_root = root;
        other_root[0] ^= 1;
        assert!(matches!(
            check_withdrawal(&other_root, 5, &burn, &leaf, &proof),
            Err(BridgeError::ProofMismatch(_))
        ));
        let mut other_amount = leaf.clone();
        other_amount[79] ^= 1;
        assert!(matches!(
            check_withdrawal(&root, 5, &burn, &other_amount, &proof),
            Err(BridgeError::ProofMismatch(_))
        ));
        let mut zero = leaf.clone();
        zero[72..].fill(0);
        assert!(matches!(
            check_withdrawal(&root, 5, &burn, &zero, &proof),
            Err(BridgeError::Encoding("bad_amount", _))
        ));
        let mut other_burn = burn;
        other_burn[31] ^= 1;
        assert!(matches!(
            check_withdrawal(&root, 5, &other_burn, &leaf, &proof),
            Err(BridgeError::ProofMismatch(m)) if m.contains("leaf of withdrawal")
        ));
        assert!(matches!(
            check_withdrawal(&root, 5, &burn, &leaf[..79], &proof),
            Err(BridgeError::Encoding("malformed", _))
        ));
        // Every cut and an extra byte: malformed, never a panic.
        for cut in 0..proof.len() {
            assert!(matches!(
                check_withdrawal(&root, 5, &burn, &leaf, &proof[..cut]),
                Err(BridgeError::Encoding("malformed", _))
            ));
        }
        let mut longer = proof.clone();
        longer.push(0);
        assert!(matches!(
            check_withdrawal(&root, 5, &burn, &leaf, &longer),
            Err(BridgeError::Encoding("malformed", _))
        ));
        // Kind 1 (empty subtree) with no siblings proves absence under the empty root.
        assert!(matches!(
            check_withdrawal(&[0u8; 32], 5, &burn, &leaf, &[1, 0, 0]),
            Err(BridgeError::UnknownWithdrawal(_))
        ));
    }
}
