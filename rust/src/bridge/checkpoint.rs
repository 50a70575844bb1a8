//! The EIP-712 checkpoint digest of docs/protocol.md section 9, its signatures and their signers.

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use sha3::{Digest, Keccak256};

use super::errors::BridgeError;

pub const DOMAIN_TYPE: &[u8] =
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
pub const CHECKPOINT_TYPE: &[u8] =
    b"Checkpoint(bytes32 genesisHash,uint64 height,bytes32 stateRoot)";
pub const DOMAIN_NAME: &[u8] = b"Fontana Vault";
pub const DOMAIN_VERSION: &[u8] = b"1";
pub const SIGNATURE_LEN: usize = 65;

/// keccak-256 (Ethereum's) of the concatenation of `parts`.
pub fn keccak(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn u256(value: u64) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[24..].copy_from_slice(&value.to_be_bytes());
    word
}

/// The vault's EIP-712 domain; `chain_id` is the uint256 as 32 big-endian bytes.
pub fn domain_separator(chain_id: &[u8; 32], vault: &[u8; 20]) -> [u8; 32] {
    keccak(&[
        &keccak(&[DOMAIN_TYPE]),
        &keccak(&[DOMAIN_NAME]),
        &keccak(&[DOMAIN_VERSION]),
        chain_id,
        &[0u8; 12],
        vault,
    ])
}

/// EIP-712 `hashStruct` of `Checkpoint(genesisHash, height, stateRoot)`.
pub fn struct_hash(genesis_hash: &[u8; 32], height: u64, state_root: &[u8; 32]) -> [u8; 32] {
    keccak(&[
        &keccak(&[CHECKPOINT_TYPE]),
        genesis_hash,
        &u256(height),
        state_root,
    ])
}

/// What validators sign: `keccak(0x1901 ‖ domainSeparator ‖ hashStruct)`.
pub fn digest(
    genesis_hash: &[u8; 32],
    height: u64,
    state_root: &[u8; 32],
    chain_id: &[u8; 32],
    vault: &[u8; 20],
) -> [u8; 32] {
    keccak(&[
        b"\x19\x01",
        &domain_separator(chain_id, vault),
        &struct_hash(genesis_hash, height, state_root),
    ])
}

/// The 20-byte Ethereum address of a public key.
pub fn address_of(key: &VerifyingKey) -> [u8; 20] {
    let point = key.to_encoded_point(false);
    let hash = keccak(&[&point.as_bytes()[1..]]);
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash[12..]);
    address
}

/// RFC 6979 deterministic `r ‖ s ‖ v` with low s and v in {27, 28}, the vault's only form.
pub fn sign(key: &SigningKey, digest: &[u8; 32]) -> Result<[u8; SIGNATURE_LEN], BridgeError> {
    let (signature, recovery) = key
        .sign_prehash_recoverable(digest)
        .map_err(|_| BridgeError::Refused("secp256k1 signing failed".into()))?;
    // k256 already returns low s (flipping the recovery id); kept explicit as the vault's rule.
    let (signature, recovery) = match signature.normalize_s() {
        Some(low) => (
            low,
            RecoveryId::new(!recovery.is_y_odd(), recovery.is_x_reduced()),
        ),
        None => (signature, recovery),
    };
    let mut out = [0u8; SIGNATURE_LEN];
    out[..64].copy_from_slice(&signature.to_bytes());
    out[64] = 27 + recovery.to_byte();
    Ok(out)
}

/// The signer of `signature` over `digest` by the vault's rules: 65 bytes, low s, v 27 or 28.
pub fn recover(digest: &[u8; 32], signature: &[u8]) -> Result<[u8; 20], BridgeError> {
    if signature.len() != SIGNATURE_LEN {
        return Err(BridgeError::malformed(format!(
            "signature: expected {SIGNATURE_LEN} bytes, got {}",
            signature.len()
        )));
    }
    let not_valid = || BridgeError::malformed("signature: not a valid secp256k1 signature");
    let parsed = Signature::from_slice(&signature[..64]).map_err(|_| not_valid())?;
    if parsed.normalize_s().is_some() {
        return Err(BridgeError::malformed("signature: high s"));
    }
    let v = signature[64];
    if v != 27 && v != 28 {
        return Err(not_valid());
    }
    let recovery = RecoveryId::from_byte(v - 27).ok_or_else(not_valid)?;
    let key = VerifyingKey::recover_from_prehash(digest, &parsed, recovery)
        .map_err(|_| BridgeError::malformed("signature: recovers no key"))?;
    Ok(address_of(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).unwrap();
        out
    }

    fn h20(s: &str) -> [u8; 20] {
        let mut out = [0u8; 20];
        hex::decode_to_slice(s, &mut out).unwrap();
        out
    }

    fn chain(id: u64) -> [u8; 32] {
        u256(id)
    }

    /// docs/protocol.md section 9; tests/vectors/encoding.json, bridge.checkpoints[0].
    #[test]
    fn release_checkpoint_vector() {
        let genesis = h32("3aeb8a5182eaf0a0bfd6c46fdc33eb4205ca42944551b50739bd8c02dd6cca23");
        let root = h32("ef95dd37158624aa8e7921ce0b52c1e139df9387e911e02c507b241de5e0b26f");
        let vault = h20("5fbdb2315678afecb367f032d93f642f64180aa3");
        assert_eq!(
            hex::encode(domain_separator(&chain(31337), &vault)),
            "9a1f18421c0d8ed846b4512e0d2a5cb901ec6958b258e067ab4422c61d57ec28"
        );
        assert_eq!(
            hex::encode(struct_hash(&genesis, 5, &root)),
            "88eef0a3012984eb4b0e7a0f9eb8d7fb2113c2cc5675f92c39cb4ed5b0257e5e"
        );
        let d = digest(&genesis, 5, &root, &chain(31337), &vault);
        assert_eq!(
            hex::encode(d),
            "d37ac3f98f328ce4ae5d0ee1e208bc6e5a2ecc92084d5369826078eef329b95f"
        );
        let cases = [
            ("01", "1a642f0e3c3af545e7acbd38b07251b3990914f1", "01531c6609780a90cfb2e669d2dcf5015249cecded6e938e57e83be2a809d6a708477bd0c49cbc2b0df3d2861d4f8c8e0677c570b24dbc0197b45f472aae11821b"),
            ("03", "3325a78425f17a7e487eb5666b2bfd93abb06c70", "e2d172f1030cc368f7e11f25268b31fd9b18451bffb92400934a998f84849ef326e8bca4ee89f20ef8475626254b43e4da4643f5a98a33c9be265abdfb47ecf91c"),
            ("02", "5050a4f4b3f9338c3472dcc01a87c76a144b3c9c", "38c69418e0ca301f49ddc1023ac67384aede868856120806a9c8e9c52fbf404c02092c2d6ff86ae1631b6afcebbe1bbbe3ca18f6e7cd9c10d04a063be68089f61b"),
        ];
        for (byte, address, signature) in cases {
            let key = SigningKey::from_slice(&hex::decode(byte.repeat(32)).unwrap()).unwrap();
            assert_eq!(hex::encode(address_of(key.verifying_key())), address);
            let sig = sign(&key, &d).unwrap();
            assert_eq!(hex::encode(sig), signature);
            assert_eq!(hex::encode(recover(&d, &sig).unwrap()), address);
        }
    }

    /// bridge.checkpoints[1]: another chain, the largest height.
    #[test]
    fn largest_height_vector() {
        let genesis = h32("3aeb8a5182eaf0a0bfd6c46fdc33eb4205ca42944551b50739bd8c02dd6cca23");
        let root = h32("ab28c48e653638247579e9586fdba84eae49739a39d089353ae4b38142d1eeed");
        let vault = h20("e7f1725e7734ce288f8367e1bb143e90bb3f0512");
        let d = digest(&genesis, u64::MAX, &root, &chain(1), &vault);
        assert_eq!(
            hex::encode(d),
            "743f39469f25b6595650aae81991fb3ce18da500d84203145dcd7db48450962f"
        );
        let key = SigningKey::from_slice(&[4u8; 32]).unwrap();
        assert_eq!(
            hex::encode(sign(&key, &d).unwrap()),
            "47f18f42474830c3e85cdc81843e4f29adb6ee1fa6085d6d2908a881ae757ff676c018f08f0aee9287378c81429cb2ac0a7c085289c1711f54de7ac6b05b17081c"
        );
    }

    const HALF_N: [u8; 32] = [
        0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b,
        0x20, 0xa0,
    ];

    /// Every signature is low s with v in {27, 28}, over many digests and keys.
    #[test]
    fn signatures_are_low_s() {
        for i in 1..=64u8 {
            let key = SigningKey::from_slice(&[i; 32]).unwrap();
            let d = keccak(&[&[i]]);
            let sig = sign(&key, &d).unwrap();
            assert!(sig[32..64] <= HALF_N[..], "high s for key {i}");
            assert!(sig[64] == 27 || sig[64] == 28);
            assert_eq!(recover(&d, &sig).unwrap(), address_of(key.verifying_key()));
        }
    }

    /// What the vault refuses, `recover` refuses: high s, bad v, bad length.
    #[test]
    fn recover_refuses_what_the_vault_refuses() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let d = keccak(&[b"x"]);
        let sig = sign(&key, &d).unwrap();
        assert!(recover(&d, &sig[..64]).is_err());
        let mut bad_v = sig;
        bad_v[64] = 29;
        assert!(recover(&d, &bad_v).is_err());
        // The high-s twin (n - s, v flipped) is the same signature to secp256k1, not to the vault.
        let n = h32("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
        let mut high = sig;
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let diff = n[i] as i16 - sig[32 + i] as i16 - borrow;
            borrow = i16::from(diff < 0);
            high[32 + i] = diff.rem_euclid(256) as u8;
        }
        high[64] = if sig[64] == 27 { 28 } else { 27 };
        assert_eq!(
            recover(&d, &high),
            Err(BridgeError::malformed("signature: high s"))
        );
        assert!(recover(&d, &[0u8; 65]).is_err());
    }
}
