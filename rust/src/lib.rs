//! Fontana's native engine, exposed to Python as `fontana_native._native`.
//!
//! Every function here mirrors a Python reference implementation byte for byte
//! (docs/protocol.md, docs/smt.md); errors surface as Python exceptions, never panics.

use pyo3::prelude::*;

pub mod bridge;
pub mod smt;
pub mod tx;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    smt::register(m)?;
    tx::register(m)?;
    bridge::register(m)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_builds() {
        Python::initialize();
        Python::attach(|py| {
            let m = PyModule::new(py, "_native").unwrap();
            _native(&m).unwrap();
            assert!(m.getattr("__version__").is_ok());
        });
    }
}
