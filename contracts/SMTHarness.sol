// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {SparseMerkleProof} from "./SparseMerkleProof.sol";

/// @title Test harness: the vault's proof verifier as an external call.
/// @notice Lets the tests check the Solidity verifier against the Python tree on every
/// vector of docs/smt.md and on random proofs. Not deployed in production.
contract SMTHarness {
    /// `valueHash` is ignored when `present` is false (a claim of absence).
    function verifyProof(bytes32 root, bytes32 key, bytes32 valueHash, bool present, bytes calldata proof)
        external
        view
        returns (bool)
    {
        return SparseMerkleProof.verify(root, key, valueHash, present, proof);
    }

    /// Whether `proof` decodes: every structural rule of docs/smt.md, "Proof encoding".
    function wellFormed(bytes calldata proof) external pure returns (bool) {
        return SparseMerkleProof.wellFormed(proof);
    }

    /// Many `verifyProof` (and `wellFormed`) calls in one: the differential test checks
    /// thousands of claims.
    function verifyBatch(
        bytes32[] calldata roots,
        bytes32[] calldata keys,
        bytes32[] calldata valueHashes,
        bool[] calldata present,
        bytes[] calldata proofs
    ) external view returns (bool[] memory results, bool[] memory formed) {
        results = new bool[](proofs.length);
        formed = new bool[](proofs.length);
        for (uint256 i = 0; i < proofs.length; ++i) {
            results[i] = SparseMerkleProof.verify(roots[i], keys[i], valueHashes[i], present[i], proofs[i]);
            formed[i] = SparseMerkleProof.wellFormed(proofs[i]);
        }
    }
}
