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
}
