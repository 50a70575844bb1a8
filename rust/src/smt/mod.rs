//! The sparse Merkle tree of docs/smt.md and its proof verifier.
//!
//! `proof` is the store-free verifier (also used by the bridge validator), `tree` the
//! batch engine over any node source, `py` the Python bindings (`fontana_native._native`).

use pyo3::prelude::*;

#[cfg(target_os = "linux")]
mod alloc;
mod cache;
pub mod proof;
mod py;
pub mod tree;

pub use proof::{
    key_bit, leaf_hash, node_hash, verify_proof, Proof, ProofError, ProofKind, EMPTY, MAX_DEPTH,
};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    py::register(m)
}

#[cfg(test)]
mod tests;
