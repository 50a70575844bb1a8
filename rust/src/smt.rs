//! The sparse Merkle tree of docs/smt.md and its proof verifier.

use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
