//! Decoding a SignedHeader (docs/protocol.md section 4) and checking its proposer's signature.

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::errors::BridgeError;

/// The most entries a block holds (protocol.md, "Block"); a header's `tx_count` bound.
const MAX_BLOCK_ENTRIES: u32 = 65_536;
const MAX_CHAIN_ID: usize = 32;

/// `tagged_hash(tag, data) = SHA-256(tag ‖ 0x00 ‖ data)` (protocol.md section 2).
pub fn tagged_hash(tag: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(tag.as_bytes());
    hasher.update([0u8]);
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The fields of a signed header the validator needs, and the header's hash.
#[derive(Debug)]
pub struct Header {
    pub chain_id: Vec<u8>,
    pub height: u64,
    pub state_root: [u8; 32],
    pub proposer: [u8; 32],
    /// `tagged_hash("fontana/header", header bytes)`: the block hash the proposer signs.
    pub hash: [u8; 32],
    pub signature: [u8; 64],
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, field: &str, n: usize) -> Result<&'a [u8], BridgeError> {
        let left = self.data.len() - self.pos;
        if n > left {
            return Err(BridgeError::malformed(format!(
                "signed_header.{field}: truncated, needs {n} bytes, {left} left"
            )));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], BridgeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    fn u64(&mut self, field: &str) -> Result<u64, BridgeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }
}

/// A SignedHeader from its canonical bytes, by the decoding rules of protocol.md section 1.
///
/// The chain id's text rule is not checked here: the caller compares it with its own.
pub fn decode_signed_header(data: &[u8]) -> Result<Header, BridgeError> {
    let mut r = Reader { data, pos: 0 };
    let [version] = r.array::<1>("header.version")?;
    if version != 1 {
        return Err(BridgeError::malformed(format!(
            "signed_header.header.version: expected 1, got {version}"
        )));
    }
    let [len] = r.array::<1>("header.chain_id")?;
    if usize::from(len) > MAX_CHAIN_ID {
        return Err(BridgeError::malformed(format!(
            "signed_header.header.chain_id: {len} bytes exceed {MAX_CHAIN_ID}"
        )));
    }
    let chain_id = r.take("header.chain_id", usize::from(len))?.to_vec();
    let height = r.u64("header.height")?;
    r.take("header.prev_hash", 32)?;
    r.u64("header.timestamp_ms")?;
    r.take("header.tx_root", 32)?;
    r.take("header.entries_hash", 32)?;
    let state_root = r.array::<32>("header.state_root")?;
    let tx_count = u32::from_be_bytes(r.array::<4>("header.tx_count")?);
    if tx_count > MAX_BLOCK_ENTRIES {
        return Err(BridgeError::malformed(format!(
            "signed_header.header.tx_count: {tx_count} exceeds {MAX_BLOCK_ENTRIES}"
        )));
    }
    let proposer = r.array::<32>("header.proposer")?;
    let hash = tagged_hash("fontana/header", &[&data[..r.pos]]);
    let signature = r.array::<64>("signature")?;
    if r.pos != data.len() {
        return Err(BridgeError::malformed(format!(
            "signed_header: {} trailing bytes",
            data.len() - r.pos
        )));
    }
    Ok(Header {
        chain_id,
        height,
        state_root,
        proposer,
        hash,
        signature,
    })
}

impl Header {
    /// The proposer's ed25519 signature over `signing_message(genesis_hash, hash)`.
    ///
    /// Block 0 is derived from the genesis and carries 64 zero bytes instead (protocol.md).
    pub fn signature_verifies(&self, genesis_hash: &[u8; 32]) -> bool {
        if self.height == 0 {
            return self.signature == [0u8; 64];
        }
        let Ok(key) = VerifyingKey::from_bytes(&self.proposer) else {
            return false;
        };
        let message = tagged_hash("fontana/sign", &[genesis_hash, &self.hash]);
        key.verify_strict(&message, &Signature::from_bytes(&self.signature))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    pub fn encode(chain: &[u8], height: u64, root: [u8; 32], proposer: [u8; 32]) -> Vec<u8> {
        let mut out = vec![1, chain.len() as u8];
        out.extend_from_slice(chain);
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&[9u8; 32]);
        out.extend_from_slice(&7u64.to_be_bytes());
        out.extend_from_slice(&[8u8; 32]);
        out.extend_from_slice(&[6u8; 32]);
        out.extend_from_slice(&root);
        out.extend_from_slice(&3u32.to_be_bytes());
        out.extend_from_slice(&proposer);
        out
    }

    #[test]
    fn decodes_and_verifies_a_signed_header() {
        let sequencer = SigningKey::from_bytes(&[5u8; 32]);
        let genesis = [1u8; 32];
        let mut bytes = encode(
            b"fontana-test",
            4,
            [2u8; 32],
            sequencer.verifying_key().to_bytes(),
        );
        let hash = tagged_hash("fontana/header", &[&bytes]);
        let sig = sequencer.sign(&tagged_hash("fontana/sign", &[&genesis, &hash]));
        bytes.extend_from_slice(&sig.to_bytes());
        let header = decode_signed_header(&bytes).unwrap();
        assert_eq!(
            (header.height, header.state_root, header.hash),
            (4, [2u8; 32], hash)
        );
        assert_eq!(header.chain_id, b"fontana-test");
        assert!(header.signature_verifies(&genesis));
        assert!(!header.signature_verifies(&[2u8; 32]));
        let mut forged = bytes.clone();
        forged[20] ^= 1; // the height: another block, the same signature
        assert!(!decode_signed_header(&forged)
            .unwrap()
            .signature_verifies(&genesis));
    }

    #[test]
    fn every_cut_and_every_extension_is_malformed() {
        let mut bytes = encode(b"c", 1, [0u8; 32], [0u8; 32]);
        bytes.extend_from_slice(&[0u8; 64]);
        for cut in 0..bytes.len() {
            let err = decode_signed_header(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(err, BridgeError::Encoding("malformed", ref m) if m.contains("truncated"))
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_signed_header(&longer)
            .unwrap_err()
            .message()
            .contains("trailing"));
        let mut version = bytes.clone();
        version[0] = 2;
        assert!(decode_signed_header(&version).is_err());
        let mut chain = bytes.clone();
        chain[1] = 33;
        assert!(decode_signed_header(&chain)
            .unwrap_err()
            .message()
            .contains("exceed"));
    }
}
