// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Verifier of Fontana's sparse Merkle tree proofs (docs/smt.md, "Proofs").
/// @notice Checks the canonical proof bytes the Python tree produces against a root:
/// the same structural rules as the Python decoder (a proof that would not decode
/// verifies nothing) and the same hashing. Never reverts on hostile bytes.
library SparseMerkleProof {
    uint8 internal constant INCLUSION = 0;
    uint8 internal constant EMPTY_SUBTREE = 1;
    uint8 internal constant OTHER_LEAF = 2;

    /// "fontana/smt/leaf" ‖ 0x00 and "fontana/smt/node" ‖ 0x00, left-aligned in a word.
    bytes32 private constant LEAF_TAG = "fontana/smt/leaf";
    bytes32 private constant NODE_TAG = "fontana/smt/node";
    uint256 private constant TAG_LEN = 17;

    /// @notice Whether `proof` shows `key` present with `valueHash` (when `present`)
    /// or absent (when not) under `root`.
    function verify(bytes32 root, bytes32 key, bytes32 valueHash, bool present, bytes calldata proof)
        internal
        view
        returns (bool)
    {
        (bool ok, uint256 kind, uint256 n, uint256 siblingsEnd) = _layout(proof);
        if (!ok) return false;
        bytes32 h;
        (ok, h) = _start(kind, n, key, valueHash, present, proof[siblingsEnd:]);
        if (!ok) return false;
        uint256 cursor = siblingsEnd;
        for (uint256 i = n; i > 0;) {
            --i;
            bytes32 sibling;
            if (_bit(proof, i)) {
                cursor -= 32;
                sibling = bytes32(proof[cursor:cursor + 32]);
                if (sibling == bytes32(0)) return false; // must have been encoded as absent
            }
            if ((uint256(key) >> (255 - i)) & 1 == 1) {
                h = _hash(NODE_TAG, sibling, h);
            } else {
                h = _hash(NODE_TAG, h, sibling);
            }
        }
        return h == root;
    }

    /// @notice Whether `proof` follows every rule of "Proof encoding" (the Python decoder's).
    function wellFormed(bytes calldata proof) internal pure returns (bool) {
        (bool ok,, uint256 n, uint256 siblingsEnd) = _layout(proof);
        if (!ok) return false;
        for (uint256 cursor = 3 + ((n + 7) >> 3); cursor < siblingsEnd; cursor += 32) {
            if (bytes32(proof[cursor:cursor + 32]) == bytes32(0)) return false;
        }
        return true;
    }

    /// The structural rules of "Proof encoding": kind, sibling count, bitmap, exact length.
    function _layout(bytes calldata proof)
        private
        pure
        returns (bool ok, uint256 kind, uint256 n, uint256 siblingsEnd)
    {
        uint256 len = proof.length;
        if (len < 3) return (false, 0, 0, 0);
        kind = uint8(proof[0]);
        n = (uint256(uint8(proof[1])) << 8) | uint8(proof[2]);
        if (kind > OTHER_LEAF || n > 256) return (false, 0, 0, 0);
        uint256 mapLen = (n + 7) >> 3;
        if (len < 3 + mapLen) return (false, 0, 0, 0);
        uint256 count = 0;
        for (uint256 b = 0; b < mapLen; ++b) {
            count += _popcount(uint8(proof[3 + b]));
        }
        // The spare low bits of the last bitmap byte must be zero.
        if (n & 7 != 0 && uint8(proof[2 + mapLen]) & uint8((1 << (8 - (n & 7))) - 1) != 0) {
            return (false, 0, 0, 0);
        }
        siblingsEnd = 3 + mapLen + 32 * count;
        if (len != siblingsEnd + (kind == OTHER_LEAF ? 64 : 0)) return (false, 0, 0, 0);
        // A leaf or empty slot at depth n > 0 always has a non-empty sibling.
        if (n > 0 && !_bit(proof, n - 1)) return (false, 0, 0, 0);
        ok = true;
    }

    /// The hash at depth n where the path ends; `tail` is the proof after its siblings.
    function _start(
        uint256 kind,
        uint256 n,
        bytes32 key,
        bytes32 valueHash,
        bool present,
        bytes calldata tail
    ) private view returns (bool, bytes32) {
        if (kind == INCLUSION) {
            return present ? (true, _hash(LEAF_TAG, key, valueHash)) : (false, bytes32(0));
        }
        if (present) return (false, bytes32(0));
        if (kind == EMPTY_SUBTREE) return (true, bytes32(0));
        bytes32 otherKey = bytes32(tail[0:32]);
        if (otherKey == key) return (false, bytes32(0));
        // The first n bits agree (so n < 256: the keys differ somewhere).
        if (n > 0 && (uint256(otherKey) ^ uint256(key)) >> (256 - n) != 0) return (false, bytes32(0));
        return (true, _hash(LEAF_TAG, otherKey, bytes32(tail[32:64])));
    }

    /// Bit `i` of the proof's bitmap (MSB first).
    function _bit(bytes calldata proof, uint256 i) private pure returns (bool) {
        return (uint8(proof[3 + (i >> 3)]) >> (7 - (i & 7))) & 1 == 1;
    }

    function _popcount(uint8 x) private pure returns (uint256 c) {
        while (x != 0) {
            x &= x - 1;
            ++c;
        }
    }

    /// SHA-256(tag ‖ 0x00 ‖ a ‖ b) through the precompile, in scratch memory past the free pointer.
    function _hash(bytes32 tag, bytes32 a, bytes32 b) private view returns (bytes32 out) {
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore(buf, tag)
            mstore(add(buf, TAG_LEN), a)
            mstore(add(buf, add(TAG_LEN, 32)), b)
            if iszero(staticcall(gas(), 0x02, buf, add(TAG_LEN, 64), buf, 32)) { revert(0, 0) }
            out := mload(buf)
        }
    }
}
