//! The validator's refusals, as Rust values and as the Python exceptions of the Python path.
//!
//! The pure parts (digests, key files, headers, proofs) return [`BridgeError`] so they
//! can be tested without an interpreter; the Python boundary turns each into the class
//! Python code already catches (`fontana.errors`, `fontana.bridge.signer`). No message
//! ever carries key material: they name paths, heights, ids and roots only.

use pyo3::prelude::*;
use pyo3::types::PyDict;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeError {
    /// Bytes that do not decode, with the `EncodingError` code (`malformed`, `bad_amount`).
    Encoding(&'static str, String),
    /// A bad setting or key file (`config_invalid`).
    Config(String),
    /// A key file others may read (`key_permissions`).
    KeyPermissions(String),
    /// The ledger's data does not hold up: header of another block or chain, bad signature.
    Refused(String),
    /// A withdrawal's proof does not verify against the header's state root.
    ProofMismatch(String),
    /// The proof shows the withdrawal absent from the block's state.
    UnknownWithdrawal(String),
}

impl BridgeError {
    pub fn malformed(message: impl Into<String>) -> Self {
        BridgeError::Encoding("malformed", message.into())
    }

    pub fn message(&self) -> &str {
        match self {
            BridgeError::Encoding(_, m)
            | BridgeError::Config(m)
            | BridgeError::KeyPermissions(m)
            | BridgeError::Refused(m)
            | BridgeError::ProofMismatch(m)
            | BridgeError::UnknownWithdrawal(m) => m,
        }
    }

    /// The Python exception of the same meaning, with the same `code` as the Python path.
    pub fn into_py(self, py: Python<'_>) -> PyErr {
        let (module, class, code) = match &self {
            BridgeError::Encoding(code, _) => ("fontana.errors", "EncodingError", Some(*code)),
            BridgeError::Config(_) => ("fontana.errors", "ConfigError", None),
            BridgeError::KeyPermissions(_) => ("fontana.errors", "KeyFilePermissionError", None),
            BridgeError::Refused(_) => ("fontana.bridge.signer", "CheckpointRefusedError", None),
            BridgeError::ProofMismatch(_) => ("fontana.bridge.signer", "ProofMismatchError", None),
            BridgeError::UnknownWithdrawal(_) => ("fontana.errors", "UnknownWithdrawalError", None),
        };
        python_error(py, module, class, self.message(), code)
    }
}

impl std::fmt::Display for BridgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// `module.class(message, code=code)`; if even that fails (a broken install), its error.
pub fn python_error(
    py: Python<'_>,
    module: &str,
    class: &str,
    message: &str,
    code: Option<&str>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = py.import(module)?.getattr(class)?;
        let kwargs = PyDict::new(py);
        if let Some(code) = code {
            kwargs.set_item("code", code)?;
        }
        Ok(PyErr::from_value(cls.call((message,), Some(&kwargs))?))
    };
    build().unwrap_or_else(|err| err)
}

pub trait IntoPyResult<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, BridgeError> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| e.into_py(py))
    }
}
