//! The bridge validator: withdrawal proofs checked against a block's state root, EIP-712
//! checkpoints signed with keys that never reach Python (docs/native.md, "Bridge validator").
//!
//! `Validator(key_files, key_env)` reads its secp256k1 keys in Rust. `sign_checkpoint(ledger,
//! height, burns, chain_id, vault)` calls back into the Python ledger for block `height`'s
//! signed header and each burn's leaf and proof, checks the header (chain, height, the
//! sequencer's signature) and every proof against the header's state root here, and only
//! then signs the checkpoint digest with every key. Nothing can make it sign a digest it
//! did not compute from a header it checked.

mod checkpoint;
mod errors;
mod header;
mod keys;
mod withdrawal;

use std::path::PathBuf;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyInt, PyList, PyTuple};

use errors::{BridgeError, IntoPyResult};
use keys::ValidatorKey;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Validator>()?;
    m.add_function(wrap_pyfunction!(checkpoint_digest, m)?)?;
    m.add_function(wrap_pyfunction!(domain_separator, m)?)?;
    m.add_function(wrap_pyfunction!(recover_signer, m)?)?;
    m.add_function(wrap_pyfunction!(withdrawal_key, m)?)?;
    m.add_function(wrap_pyfunction!(withdrawal_value_hash, m)?)?;
    m.add_function(wrap_pyfunction!(check_withdrawal, m)?)?;
    Ok(())
}

// ---------------------------------------------------------------------- arguments

fn fixed<const N: usize>(obj: &Bound<'_, PyAny>, what: &str) -> Result<[u8; N], BridgeError> {
    obj.cast::<PyBytes>()
        .ok()
        .and_then(|b| <[u8; N]>::try_from(b.as_bytes()).ok())
        .ok_or_else(|| BridgeError::malformed(format!("{what}: expected {N} bytes")))
}

fn some_bytes(obj: &Bound<'_, PyAny>, what: &str) -> Result<Vec<u8>, BridgeError> {
    obj.cast::<PyBytes>()
        .map(|b| b.as_bytes().to_vec())
        .map_err(|_| BridgeError::malformed(format!("{what}: expected bytes")))
}

fn integer<'py>(obj: &Bound<'py, PyAny>, what: &str) -> Result<Bound<'py, PyInt>, BridgeError> {
    if obj.is_instance_of::<PyBool>() {
        return Err(BridgeError::malformed(format!(
            "{what}: expected an integer"
        )));
    }
    obj.cast::<PyInt>()
        .cloned()
        .map_err(|_| BridgeError::malformed(format!("{what}: expected an integer")))
}

fn height_arg(obj: &Bound<'_, PyAny>) -> Result<u64, BridgeError> {
    integer(obj, "checkpoint.height")?
        .extract::<u64>()
        .map_err(|_| BridgeError::malformed(format!("checkpoint.height: {obj} is not a u64")))
}

fn chain_id_arg(obj: &Bound<'_, PyAny>) -> Result<[u8; 32], BridgeError> {
    let value = integer(obj, "chain_id")?;
    value
        .call_method1("to_bytes", (32, "big"))
        .ok()
        .and_then(|b| fixed::<32>(&b, "chain_id").ok())
        .ok_or_else(|| BridgeError::malformed("chain_id: expected a uint256"))
}

fn vault_arg(obj: &Bound<'_, PyAny>) -> Result<[u8; 20], BridgeError> {
    fixed::<20>(obj, "vault")
        .map_err(|_| BridgeError::malformed("vault: expected a 20-byte address"))
}

// ---------------------------------------------------------------------- the validator

/// Bridge validator keys held in Rust; signs checkpoints of headers and proofs it checked.
#[pyclass(frozen, module = "fontana_native._native")]
pub struct Validator {
    /// In increasing address order (the vault's signer order), no address twice.
    keys: Vec<ValidatorKey>,
}

impl Validator {
    fn from_keys(mut keys: Vec<ValidatorKey>) -> Result<Self, BridgeError> {
        if keys.is_empty() {
            return Err(BridgeError::Config(format!(
                "{} or {}: name at least one validator key",
                keys::FILES_SETTING,
                keys::ENV_SETTING
            )));
        }
        keys.sort_by_key(ValidatorKey::address);
        if let Some(twice) = keys.windows(2).find(|w| w[0].address() == w[1].address()) {
            return Err(BridgeError::Config(format!(
                "validator 0x{} is given twice",
                hex::encode(twice[0].address())
            )));
        }
        Ok(Validator { keys })
    }

    fn load(key_files: &[PathBuf], key_env: Option<&str>) -> Result<Self, BridgeError> {
        let mut keys = key_files
            .iter()
            .map(|p| keys::read_key_file(p))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(name) = key_env {
            keys.extend(keys::read_key_env(name)?);
        }
        Self::from_keys(keys)
    }

    /// The signed header of block `height` from the ledger, checked against its genesis.
    fn checked_header(
        ledger: &Bound<'_, PyAny>,
        height: u64,
        genesis_hash: &[u8; 32],
    ) -> PyResult<header::Header> {
        let py = ledger.py();
        let genesis = ledger.getattr("genesis")?;
        let chain_id: String = genesis.getattr("chain_id")?.extract().map_err(|_| {
            BridgeError::malformed("ledger.genesis.chain_id: expected text").into_py(py)
        })?;
        let sequencer =
            fixed::<32>(&genesis.getattr("sequencer")?, "ledger.genesis.sequencer").or_raise(py)?;
        let raw = ledger.call_method1("signed_header", (height,))?;
        let bytes = some_bytes(&raw, "ledger.signed_header").or_raise(py)?;
        let header = header::decode_signed_header(&bytes).or_raise(py)?;
        let refuse = |why: String| Err(BridgeError::Refused(why).into_py(py));
        if header.height != height {
            return refuse(format!(
                "the ledger gave the header of block {} for block {height}",
                header.height
            ));
        }
        if header.chain_id != chain_id.as_bytes() {
            return refuse(format!(
                "the header of block {height} is of chain {:?}, not {chain_id:?}",
                String::from_utf8_lossy(&header.chain_id)
            ));
        }
        if header.proposer != sequencer {
            return refuse(format!(
                "the header of block {height} was proposed by {}, not the genesis sequencer",
                hex::encode(header.proposer)
            ));
        }
        if !header.signature_verifies(genesis_hash) {
            return refuse(format!(
                "the header of block {height} does not carry the sequencer's signature"
            ));
        }
        Ok(header)
    }
}

#[pymethods]
impl Validator {
    /// Read the keys: files (64 hex digits, mode 0600 or stricter) and/or one environment
    /// variable (keys separated by commas). ConfigError or KeyFilePermissionError otherwise.
    #[new]
    #[pyo3(signature = (key_files = Vec::new(), key_env = None))]
    fn new(py: Python<'_>, key_files: Vec<PathBuf>, key_env: Option<String>) -> PyResult<Self> {
        Self::load(&key_files, key_env.as_deref()).or_raise(py)
    }

    /// The validators' 20-byte addresses, increasing (the order the vault wants signatures in).
    fn addresses<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.keys
            .iter()
            .map(|k| PyBytes::new(py, &k.address()))
            .collect()
    }

    fn __len__(&self) -> usize {
        self.keys.len()
    }

    fn __repr__(&self) -> String {
        let names: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("0x{}", hex::encode(k.address())))
            .collect();
        format!("Validator({})", names.join(", "))
    }

    /// Private keys do not travel: no pickling, no copies.
    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "a Validator holds private keys: it cannot be pickled or copied",
        ))
    }

    /// Check block `height` and the proofs of `burns` in it, then sign its checkpoint.
    ///
    /// Calls back ``ledger.genesis_hash``, ``ledger.genesis`` (``chain_id``, ``sequencer``),
    /// ``ledger.signed_header(height)`` and ``ledger.prove_withdrawal(burn, height)`` for each
    /// burn; an exception any of them raises reaches the caller unchanged. Returns
    /// ``(state_root, signatures, [(leaf, proof), ...])``, the signatures 65 bytes each in
    /// increasing signer address order, the leaves as the ledger gave them.
    #[pyo3(signature = (ledger, height, burns, chain_id, vault))]
    fn sign_checkpoint<'py>(
        &self,
        ledger: &Bound<'py, PyAny>,
        height: &Bound<'py, PyAny>,
        burns: &Bound<'py, PyAny>,
        chain_id: &Bound<'py, PyAny>,
        vault: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let py = ledger.py();
        let height = height_arg(height).or_raise(py)?;
        let chain_id = chain_id_arg(chain_id).or_raise(py)?;
        let vault = vault_arg(vault).or_raise(py)?;
        let mut wanted = Vec::new();
        for (i, burn) in burns.try_iter()?.enumerate() {
            wanted.push(fixed::<32>(&burn?, &format!("burns[{i}]")).or_raise(py)?);
        }
        let genesis_hash =
            fixed::<32>(&ledger.getattr("genesis_hash")?, "ledger.genesis_hash").or_raise(py)?;
        let header = Self::checked_header(ledger, height, &genesis_hash)?;
        let proven = PyList::empty(py);
        for burn in &wanted {
            let answer =
                ledger.call_method1("prove_withdrawal", (PyBytes::new(py, burn), height))?;
            let (leaf, proof): (Bound<'py, PyAny>, Bound<'py, PyAny>) =
                answer.extract().map_err(|_| {
                    BridgeError::malformed("ledger.prove_withdrawal: expected (leaf, proof)")
                        .into_py(py)
                })?;
            let leaf_bytes =
                some_bytes(&leaf.call_method0("to_bytes")?, "withdrawal_leaf").or_raise(py)?;
            let proof_bytes = some_bytes(&proof, "proof").or_raise(py)?;
            withdrawal::check_withdrawal(
                &header.state_root,
                height,
                burn,
                &leaf_bytes,
                &proof_bytes,
            )
            .or_raise(py)?;
            proven.append((leaf, PyBytes::new(py, &proof_bytes)))?;
        }
        let digest =
            checkpoint::digest(&genesis_hash, height, &header.state_root, &chain_id, &vault);
        let mut signatures = Vec::with_capacity(self.keys.len());
        for key in &self.keys {
            signatures.push(PyBytes::new(py, &key.sign(&digest).or_raise(py)?));
        }
        (PyBytes::new(py, &header.state_root), signatures, proven).into_pyobject(py)
    }
}

// ---------------------------------------------------------------------- helpers for tests

/// The EIP-712 digest of ``Checkpoint(genesis_hash, height, state_root)`` for one vault.
#[pyfunction]
fn checkpoint_digest<'py>(
    genesis_hash: &Bound<'py, PyAny>,
    height: &Bound<'py, PyAny>,
    state_root: &Bound<'py, PyAny>,
    chain_id: &Bound<'py, PyAny>,
    vault: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let py = genesis_hash.py();
    let run = || -> Result<[u8; 32], BridgeError> {
        let genesis = fixed::<32>(genesis_hash, "checkpoint.genesis_hash")?;
        let root = fixed::<32>(state_root, "checkpoint.state_root")?;
        let height = height_arg(height)?;
        Ok(checkpoint::digest(
            &genesis,
            height,
            &root,
            &chain_id_arg(chain_id)?,
            &vault_arg(vault)?,
        ))
    };
    Ok(PyBytes::new(py, &run().or_raise(py)?))
}

/// The EIP-712 domain separator of the vault at ``vault`` on chain ``chain_id``.
#[pyfunction]
fn domain_separator<'py>(
    chain_id: &Bound<'py, PyAny>,
    vault: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let py = chain_id.py();
    let separator = checkpoint::domain_separator(
        &chain_id_arg(chain_id).or_raise(py)?,
        &vault_arg(vault).or_raise(py)?,
    );
    Ok(PyBytes::new(py, &separator))
}

/// The address that made ``signature`` over ``digest``, by the vault's rules (EncodingError).
#[pyfunction]
fn recover_signer<'py>(
    digest: &Bound<'py, PyAny>,
    signature: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let py = digest.py();
    let digest = fixed::<32>(digest, "digest").or_raise(py)?;
    let signature = some_bytes(signature, "signature").or_raise(py)?;
    Ok(PyBytes::new(
        py,
        &checkpoint::recover(&digest, &signature).or_raise(py)?,
    ))
}

/// The state tree key of burn ``burn_txid``'s withdrawal leaf.
#[pyfunction]
fn withdrawal_key<'py>(burn_txid: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let py = burn_txid.py();
    let id = fixed::<32>(burn_txid, "burn_txid").or_raise(py)?;
    Ok(PyBytes::new(py, &withdrawal::withdrawal_key(&id)))
}

/// The value hash the state tree stores for a WithdrawalLeaf's bytes.
#[pyfunction]
fn withdrawal_value_hash<'py>(leaf: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let py = leaf.py();
    let leaf = fixed::<{ withdrawal::LEAF_LEN }>(leaf, "withdrawal_leaf").or_raise(py)?;
    Ok(PyBytes::new(py, &withdrawal::leaf_value_hash(&leaf)))
}

/// The validator's proof check alone: None, or the typed error it would refuse with.
#[pyfunction]
fn check_withdrawal(
    state_root: &Bound<'_, PyAny>,
    height: &Bound<'_, PyAny>,
    burn_txid: &Bound<'_, PyAny>,
    leaf: &Bound<'_, PyAny>,
    proof: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let py = state_root.py();
    let run = || -> Result<(), BridgeError> {
        let root = fixed::<32>(state_root, "state_root")?;
        let burn = fixed::<32>(burn_txid, "burn_txid")?;
        let leaf = some_bytes(leaf, "withdrawal_leaf")?;
        let proof = some_bytes(proof, "proof")?;
        withdrawal::check_withdrawal(&root, height_arg(height)?, &burn, &leaf, &proof)
    };
    run().or_raise(py)
}
