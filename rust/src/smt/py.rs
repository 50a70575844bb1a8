//! Python bindings of the tree and the verifier.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::proof;

fn arr32(b: &[u8]) -> Option<[u8; 32]> {
    b.try_into().ok()
}

/// `verify_proof(root, key, value_hash, proof) -> bool`: the reference verdict on proof
/// bytes (`fontana.smt.verify_proof` after `Proof.from_bytes`; False if they do not
/// decode or any field has the wrong length). Never raises for bytes arguments.
#[pyfunction]
#[pyo3(name = "verify_proof")]
fn py_verify_proof(root: &[u8], key: &[u8], value_hash: Option<&[u8]>, proof: &[u8]) -> bool {
    let (Some(root), Some(key)) = (arr32(root), arr32(key)) else {
        return false;
    };
    let value = match value_hash.map(arr32) {
        None => None,
        Some(Some(v)) => Some(v),
        Some(None) => return false,
    };
    proof::verify_proof(&root, &key, value.as_ref(), proof)
}

/// `leaf_hash(key, value_hash)` of docs/smt.md; both must be 32 bytes.
#[pyfunction]
#[pyo3(name = "leaf_hash")]
fn py_leaf_hash<'py>(
    py: Python<'py>,
    key: &[u8],
    value_hash: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    match (arr32(key), arr32(value_hash)) {
        (Some(k), Some(v)) => Ok(PyBytes::new(py, &proof::leaf_hash(&k, &v))),
        _ => Err(encoding_error(
            py,
            "smt leaf_hash takes 32-byte key and value hash",
        )),
    }
}

/// `node_hash(left, right)` of docs/smt.md; both must be 32 bytes.
#[pyfunction]
#[pyo3(name = "node_hash")]
fn py_node_hash<'py>(py: Python<'py>, left: &[u8], right: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    match (arr32(left), arr32(right)) {
        (Some(l), Some(r)) => Ok(PyBytes::new(py, &proof::node_hash(&l, &r))),
        _ => Err(encoding_error(py, "smt node_hash takes two 32-byte hashes")),
    }
}

/// A `fontana.errors` exception of class `name` with `msg` (or the import error itself).
pub(crate) fn fontana_error(py: Python<'_>, module: &str, name: &str, msg: &str) -> PyErr {
    match py
        .import(module)
        .and_then(|m| m.getattr(name))
        .and_then(|cls| cls.call1((msg,)))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

pub(crate) fn encoding_error(py: Python<'_>, msg: &str) -> PyErr {
    fontana_error(py, "fontana.errors", "EncodingError", msg)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(py_verify_proof, m)?)?;
    m.add_function(wrap_pyfunction!(py_leaf_hash, m)?)?;
    m.add_function(wrap_pyfunction!(py_node_hash, m)?)?;
    Ok(())
}
