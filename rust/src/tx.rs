//! Transaction decoding, txids and (batch) ed25519 witness checks of docs/protocol.md.

use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
