//! Transaction decoding, txids and ed25519 witness checks of docs/protocol.md.
//!
//! `decode` and `ed25519` are pure Rust; this module builds the Python model objects
//! (`fontana.models.Transaction` and its parts, through the models' own unchecked
//! constructors, with the cached txid and encoding filled in) and raises
//! `fontana.errors.EncodingError`/`AmountError` with the codes the Python decoder uses.

pub mod decode;
pub mod ed25519;

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use sha2::{Digest, Sha256};

use decode::{Code, DecodeError, EntryRef, Tx};

pub const TAG_TX: &[u8] = b"fontana/tx";
pub const TAG_SIGN: &[u8] = b"fontana/sign";

/// `tagged_hash(tag, data)` of fontana/hashing.py: sha256(tag || 0x00 || data).
pub fn tagged_hash(tag: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(tag);
    h.update([0u8]);
    for part in parts {
        h.update(part);
    }
    h.finalize().into()
}

pub fn txid(unsigned: &[u8]) -> [u8; 32] {
    tagged_hash(TAG_TX, &[unsigned])
}

/// What every witness signs: the txid bound to one deployment.
pub fn signing_message(genesis_hash: &[u8], txid: &[u8]) -> [u8; 32] {
    tagged_hash(TAG_SIGN, &[genesis_hash, txid])
}

/// The decoder and verifier bound to the Python model classes it builds.
#[pyclass(frozen, module = "fontana_native._native")]
pub struct TxCodec {
    tx_new: Py<PyAny>,
    outpoint_new: Py<PyAny>,
    output_new: Py<PyAny>,
    withdrawal_new: Py<PyAny>,
    witness_new: Py<PyAny>,
    kinds: Vec<Py<PyAny>>,
    setattr: Py<PyAny>,
    encoding_error: Py<PyAny>,
    amount_error: Py<PyAny>,
}

struct Job {
    tx: usize,
    message: [u8; 32],
    pubkey: [u8; 32],
    signature: [u8; 64],
}

impl TxCodec {
    fn error(&self, py: Python<'_>, e: DecodeError) -> PyErr {
        let class = match e.code {
            Code::Malformed => &self.encoding_error,
            Code::BadAmount => &self.amount_error,
        };
        match class.bind(py).call1((e.message,)) {
            Ok(exc) => PyErr::from_value(exc),
            Err(err) => err,
        }
    }

    fn malformed(&self, py: Python<'_>, message: String) -> PyErr {
        self.error(
            py,
            DecodeError {
                code: Code::Malformed,
                message,
            },
        )
    }

    fn set<'py>(
        &self,
        py: Python<'py>,
        obj: &Bound<'py, PyAny>,
        name: &Bound<'py, PyString>,
        value: Bound<'py, PyAny>,
    ) -> PyResult<()> {
        self.setattr.bind(py).call1((obj, name, value))?;
        Ok(())
    }

    /// The model object of a decoded transaction; `whole` is the input when it is exactly it.
    fn build(
        &self,
        py: Python<'_>,
        tx: &Tx<'_>,
        whole: Option<&Bound<'_, PyBytes>>,
    ) -> PyResult<Py<PyAny>> {
        let inputs = tx
            .inputs
            .iter()
            .map(|i| {
                self.outpoint_new
                    .bind(py)
                    .call1((PyBytes::new(py, i.txid), i.index))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let outputs = tx
            .outputs
            .iter()
            .map(|o| {
                self.output_new
                    .bind(py)
                    .call1((PyBytes::new(py, o.owner), o.amount))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let witnesses = tx
            .witnesses
            .iter()
            .map(|w| {
                self.witness_new
                    .bind(py)
                    .call1((PyBytes::new(py, w.pubkey), PyBytes::new(py, w.signature)))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let withdrawal = match &tx.withdrawal {
            None => py.None(),
            Some(w) => self
                .withdrawal_new
                .bind(py)
                .call1((
                    PyBytes::new(py, w.l1_recipient),
                    w.amount,
                    PyBytes::new(py, w.token),
                ))?
                .unbind(),
        };
        let kind = self
            .kinds
            .get(usize::from(tx.kind).wrapping_sub(1))
            .ok_or_else(|| {
                self.malformed(py, format!("transaction.kind: unknown value {}", tx.kind))
            })?;
        let payload_hash = match tx.payload_hash {
            None => py.None(),
            Some(h) => PyBytes::new(py, h).into_any().unbind(),
        };
        let args = (
            decode::TX_VERSION,
            kind.clone_ref(py),
            PyString::new(py, tx.chain_id),
            PyTuple::new(py, inputs)?,
            PyTuple::new(py, outputs)?,
            tx.fee,
            tx.expiry_ms,
            payload_hash,
            PyBytes::new(py, tx.memo),
            withdrawal,
            PyTuple::new(py, witnesses)?,
        );
        let obj = self.tx_new.bind(py).call1(args)?;
        let encoded = match whole {
            Some(b) => b.clone().into_any(),
            None => PyBytes::new(py, tx.encoded).into_any(),
        };
        self.set(
            py,
            &obj,
            intern!(py, "_txid"),
            PyBytes::new(py, &txid(tx.unsigned)).into_any(),
        )?;
        self.set(py, &obj, intern!(py, "_encoded"), encoded)?;
        Ok(obj.unbind())
    }

    /// `(txid, encoding)` of a model object: its cached ones, else encoded here and cached.
    fn encoding(&self, py: Python<'_>, tx: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, Vec<u8>)> {
        let cached = tx.getattr(intern!(py, "_encoded"))?;
        let cached_id = tx.getattr(intern!(py, "_txid"))?;
        if let (Ok(enc), Ok(id)) = (cached.cast::<PyBytes>(), cached_id.cast::<PyBytes>()) {
            return Ok((id.as_bytes().to_vec(), enc.as_bytes().to_vec()));
        }
        let (unsigned_len, encoded) = encode_attrs(py, tx).map_err(|e| match e {
            EncodeError::Py(err) => err,
            EncodeError::Invalid(m) => {
                self.malformed(py, format!("transaction: cannot encode: {m}"))
            }
        })?;
        let id = txid(encoded.get(..unsigned_len).unwrap_or_default());
        self.set(
            py,
            tx,
            intern!(py, "_encoded"),
            PyBytes::new(py, &encoded).into_any(),
        )?;
        if cached_id.is_none() {
            self.set(
                py,
                tx,
                intern!(py, "_txid"),
                PyBytes::new(py, &id).into_any(),
            )?;
            return Ok((id.to_vec(), encoded));
        }
        let id = cached_id
            .cast::<PyBytes>()
            .map(|b| b.as_bytes().to_vec())
            .unwrap_or(id.to_vec());
        Ok((id, encoded))
    }
}

#[pymethods]
impl TxCodec {
    /// Bind the codec to the models' constructors (``Model._codec.new``) and ``TxKind``'s members.
    #[new]
    fn new(
        py: Python<'_>,
        tx_new: Py<PyAny>,
        outpoint_new: Py<PyAny>,
        output_new: Py<PyAny>,
        withdrawal_new: Py<PyAny>,
        witness_new: Py<PyAny>,
        kinds: Vec<Py<PyAny>>,
    ) -> PyResult<Self> {
        if kinds.len() != 3 {
            return Err(PyTypeError::new_err("kinds: expected the 3 TxKind members"));
        }
        let errors = py.import("fontana.errors")?;
        let setattr = py
            .import("builtins")?
            .getattr("object")?
            .getattr("__setattr__")?
            .unbind();
        Ok(TxCodec {
            tx_new,
            outpoint_new,
            output_new,
            withdrawal_new,
            witness_new,
            kinds,
            setattr,
            encoding_error: errors.getattr("EncodingError")?.unbind(),
            amount_error: errors.getattr("AmountError")?.unbind(),
        })
    }

    /// ``Transaction.from_bytes(data)``: the same object, errors and cached txid and encoding.
    fn decode(&self, py: Python<'_>, data: &Bound<'_, PyBytes>) -> PyResult<Py<PyAny>> {
        let raw = data.as_bytes();
        let tx = decode::decode_tx(raw).map_err(|e| self.error(py, e))?;
        self.build(py, &tx, Some(data))
    }

    /// A block's entries from ``pos`` in ``data`` (the block's bytes): ``(entries, end)``.
    ///
    /// Transactions are decoded here; every other entry type by ``other(index, type, body)``,
    /// in order, so the first broken rule in encoding order is the one raised.
    fn decode_entries(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyBytes>,
        pos: usize,
        tx_count: u64,
        other: &Bound<'_, PyAny>,
    ) -> PyResult<(Vec<Py<PyAny>>, usize)> {
        let parsed =
            decode::read_entries(data.as_bytes(), pos, tx_count).map_err(|e| self.error(py, e))?;
        let mut out = Vec::with_capacity(parsed.entries.len());
        for (i, entry) in parsed.entries.iter().enumerate() {
            out.push(match entry {
                EntryRef::Tx(tx) => self.build(py, tx, None)?,
                EntryRef::Other { kind, body } => {
                    other.call1((i, *kind, PyBytes::new(py, body)))?.unbind()
                }
            });
        }
        if let Some(e) = parsed.error {
            return Err(self.error(py, e));
        }
        Ok((out, parsed.end))
    }

    /// Per transaction, whether every witness signs its txid for ``genesis_hash`` (libsodium's
    /// verdicts). Fills each object's cached txid and encoding, and ``_verified_for`` on success.
    fn verify(
        &self,
        py: Python<'_>,
        txs: Vec<Bound<'_, PyAny>>,
        genesis_hash: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<bool>> {
        let gh = match genesis_hash.cast::<PyBytes>() {
            Ok(b) if b.as_bytes().len() == 32 => b.clone(),
            _ => {
                return Err(self.malformed(
                    py,
                    "signing_message: the genesis hash is not 32 bytes".into(),
                ))
            }
        };
        let mut verdicts = vec![true; txs.len()];
        let mut jobs: Vec<Job> = Vec::new();
        for (n, tx) in txs.iter().enumerate() {
            let done = tx.getattr(intern!(py, "_verified_for"))?;
            if let Ok(done) = done.cast::<PyBytes>() {
                if done.as_bytes() == gh.as_bytes() {
                    continue;
                }
            }
            let (id, encoded) = self.encoding(py, tx)?;
            let parsed = decode::decode_tx(&encoded).map_err(|e| self.error(py, e))?;
            let message = signing_message(gh.as_bytes(), &id);
            for w in &parsed.witnesses {
                let (Ok(pubkey), Ok(signature)) = (w.pubkey.try_into(), w.signature.try_into())
                else {
                    verdicts[n] = false;
                    continue;
                };
                jobs.push(Job {
                    tx: n,
                    message,
                    pubkey,
                    signature,
                });
            }
        }
        let results: Vec<bool> = py.detach(|| {
            jobs.iter()
                .map(|j| ed25519::verify(&j.pubkey, &j.message, &j.signature))
                .collect()
        });
        for (job, ok) in jobs.iter().zip(results) {
            if !ok {
                if let Some(v) = verdicts.get_mut(job.tx) {
                    *v = false;
                }
            }
        }
        for (tx, ok) in txs.iter().zip(&verdicts) {
            if *ok {
                self.set(py, tx, intern!(py, "_verified_for"), gh.clone().into_any())?;
            }
        }
        Ok(verdicts)
    }
}

enum EncodeError {
    Py(PyErr),
    Invalid(String),
}

impl From<PyErr> for EncodeError {
    fn from(e: PyErr) -> Self {
        EncodeError::Py(e)
    }
}

fn fixed(
    out: &mut Vec<u8>,
    value: &Bound<'_, PyAny>,
    n: usize,
    what: &str,
) -> Result<(), EncodeError> {
    let b = value
        .cast::<PyBytes>()
        .map_err(|_| EncodeError::Invalid(format!("{what} is not bytes")))?;
    if b.as_bytes().len() != n {
        return Err(EncodeError::Invalid(format!("{what} is not {n} bytes")));
    }
    out.extend_from_slice(b.as_bytes());
    Ok(())
}

fn int<T: for<'a, 'py> FromPyObject<'a, 'py>>(
    value: &Bound<'_, PyAny>,
    what: &str,
) -> Result<T, EncodeError> {
    value
        .extract::<T>()
        .map_err(|_| EncodeError::Invalid(format!("{what} is out of range")))
}

fn count(out: &mut Vec<u8>, n: usize, max: usize, what: &str) -> Result<(), EncodeError> {
    if n > max {
        return Err(EncodeError::Invalid(format!("{what}: {n} items")));
    }
    out.extend_from_slice(&(n as u16).to_be_bytes());
    Ok(())
}

/// The canonical encoding of a (validated) model object; `(unsigned length, encoding)`.
fn encode_attrs(py: Python<'_>, tx: &Bound<'_, PyAny>) -> Result<(usize, Vec<u8>), EncodeError> {
    let mut out = Vec::with_capacity(256);
    out.push(int::<u8>(&tx.getattr(intern!(py, "version"))?, "version")?);
    out.push(int::<u8>(&tx.getattr(intern!(py, "kind"))?, "kind")?);
    let chain = tx.getattr(intern!(py, "chain_id"))?;
    let chain = chain
        .cast::<PyString>()
        .map_err(|_| EncodeError::Invalid("chain_id".into()))?;
    let chain = chain.to_str()?.as_bytes();
    if chain.len() > decode::CHAIN_ID_MAX {
        return Err(EncodeError::Invalid("chain_id is too long".into()));
    }
    out.push(chain.len() as u8);
    out.extend_from_slice(chain);
    let inputs = tx.getattr(intern!(py, "inputs"))?;
    let inputs = inputs
        .cast::<PyTuple>()
        .map_err(|_| EncodeError::Invalid("inputs".into()))?;
    count(&mut out, inputs.len(), decode::MAX_INPUTS, "inputs")?;
    for i in inputs.iter() {
        fixed(&mut out, &i.getattr(intern!(py, "txid"))?, 32, "txid")?;
        out.extend_from_slice(
            &int::<u16>(&i.getattr(intern!(py, "index"))?, "index")?.to_be_bytes(),
        );
    }
    let outputs = tx.getattr(intern!(py, "outputs"))?;
    let outputs = outputs
        .cast::<PyTuple>()
        .map_err(|_| EncodeError::Invalid("outputs".into()))?;
    count(&mut out, outputs.len(), decode::MAX_OUTPUTS, "outputs")?;
    for o in outputs.iter() {
        fixed(&mut out, &o.getattr(intern!(py, "owner"))?, 32, "owner")?;
        out.extend_from_slice(
            &int::<u64>(&o.getattr(intern!(py, "amount"))?, "amount")?.to_be_bytes(),
        );
    }
    out.extend_from_slice(&int::<u64>(&tx.getattr(intern!(py, "fee"))?, "fee")?.to_be_bytes());
    out.extend_from_slice(
        &int::<u64>(&tx.getattr(intern!(py, "expiry_ms"))?, "expiry_ms")?.to_be_bytes(),
    );
    let payload = tx.getattr(intern!(py, "payload_hash"))?;
    if payload.is_none() {
        out.push(0);
    } else {
        out.push(1);
        fixed(&mut out, &payload, 32, "payload_hash")?;
    }
    let memo = tx.getattr(intern!(py, "memo"))?;
    let memo = memo
        .cast::<PyBytes>()
        .map_err(|_| EncodeError::Invalid("memo".into()))?
        .as_bytes();
    if memo.len() > decode::MAX_MEMO {
        return Err(EncodeError::Invalid("memo is too long".into()));
    }
    out.extend_from_slice(&(memo.len() as u32).to_be_bytes());
    out.extend_from_slice(memo);
    let w = tx.getattr(intern!(py, "withdrawal"))?;
    if w.is_none() {
        out.push(0);
    } else {
        out.push(1);
        fixed(
            &mut out,
            &w.getattr(intern!(py, "l1_recipient"))?,
            20,
            "l1_recipient",
        )?;
        out.extend_from_slice(
            &int::<u64>(&w.getattr(intern!(py, "amount"))?, "amount")?.to_be_bytes(),
        );
        fixed(&mut out, &w.getattr(intern!(py, "token"))?, 20, "token")?;
    }
    let unsigned_len = out.len();
    let witnesses = tx.getattr(intern!(py, "witnesses"))?;
    let witnesses = witnesses
        .cast::<PyTuple>()
        .map_err(|_| EncodeError::Invalid("witnesses".into()))?;
    count(
        &mut out,
        witnesses.len(),
        decode::MAX_WITNESSES,
        "witnesses",
    )?;
    for w in witnesses.iter() {
        fixed(&mut out, &w.getattr(intern!(py, "pubkey"))?, 32, "pubkey")?;
        fixed(
            &mut out,
            &w.getattr(intern!(py, "signature"))?,
            64,
            "signature",
        )?;
    }
    Ok((unsigned_len, out))
}

/// ``verify_signature(pubkey, message, signature)`` with libsodium's verdicts (tests, benches).
#[pyfunction]
fn ed25519_verify(pubkey: &[u8], message: &[u8], signature: &[u8]) -> bool {
    ed25519::verify(pubkey, message, signature)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TxCodec>()?;
    m.add_function(wrap_pyfunction!(ed25519_verify, m)?)?;
    Ok(())
}
