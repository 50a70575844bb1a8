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

use decode::{py_repr, Code, DecodeError, EntryRef, Tx};

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
    tx: Layout,
    outpoint: Layout,
    output: Layout,
    withdrawal: Layout,
    witness: Layout,
    object_new: Py<PyAny>,
    kinds: Vec<Py<PyAny>>,
    encoding_error: Py<PyAny>,
    amount_error: Py<PyAny>,
}

/// How to build one model: its class, its fields in encoding order, then its other
/// (cached) attributes with their defaults, as the model's unchecked constructor does.
struct Layout {
    cls: Py<PyAny>,
    names: Vec<Py<PyString>>,
    rest: Vec<(Py<PyString>, Py<PyAny>)>,
}

type LayoutParts = (Py<PyAny>, Vec<Py<PyString>>, Vec<(Py<PyString>, Py<PyAny>)>);

impl Layout {
    fn from_py(layout: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (cls, names, rest): LayoutParts = layout.extract()?;
        Ok(Layout { cls, names, rest })
    }

    /// A new instance from decoded values, without running the attrs validators (the
    /// decoder made the same checks), exactly as `Model._codec.new(*values)` does.
    fn build<'py>(
        &self,
        py: Python<'py>,
        object_new: &Py<PyAny>,
        values: &[Bound<'py, PyAny>],
    ) -> PyResult<Bound<'py, PyAny>> {
        if values.len() != self.names.len() {
            return Err(PyTypeError::new_err("native-tx: model layout mismatch"));
        }
        let obj = object_new.bind(py).call1((self.cls.bind(py),))?;
        for (name, value) in self.names.iter().zip(values) {
            generic_setattr(&obj, name.bind(py), value)?;
        }
        for (name, value) in &self.rest {
            generic_setattr(&obj, name.bind(py), value.bind(py))?;
        }
        Ok(obj)
    }
}

/// `object.__setattr__(obj, name, value)`: sets a slot of a frozen attrs instance.
fn generic_setattr(
    obj: &Bound<'_, PyAny>,
    name: &Bound<'_, PyString>,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    // SAFETY: the three pointers are live objects borrowed for the duration of the call.
    let rc =
        unsafe { pyo3::ffi::PyObject_GenericSetAttr(obj.as_ptr(), name.as_ptr(), value.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(PyErr::fetch(obj.py()))
    }
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
        let message = match &e.quoted {
            Some(text) => match PyString::new(py, text).repr() {
                // `{text!r:.40}`: the first 40 characters of the repr
                Ok(exact) => {
                    let exact: String = exact.to_string().chars().take(40).collect();
                    e.message.replacen(&py_repr(text), &exact, 1)
                }
                Err(err) => return err,
            },
            None => e.message,
        };
        match class.bind(py).call1((message,)) {
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
                quoted: None,
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
        let _ = py;
        generic_setattr(obj, name, &value)
    }

    /// The model object of a decoded transaction; `whole` is the input when it is exactly it.
    fn build(
        &self,
        py: Python<'_>,
        tx: &Tx<'_>,
        whole: Option<&Bound<'_, PyBytes>>,
    ) -> PyResult<Py<PyAny>> {
        let new = &self.object_new;
        let bytes = |b: &[u8]| PyBytes::new(py, b).into_any();
        let int = |v: u64| -> PyResult<Bound<'_, PyAny>> { Ok(v.into_pyobject(py)?.into_any()) };
        let mut inputs = Vec::with_capacity(tx.inputs.len());
        for i in &tx.inputs {
            let index = int(u64::from(i.index))?;
            inputs.push(self.outpoint.build(py, new, &[bytes(i.txid), index])?);
        }
        let mut outputs = Vec::with_capacity(tx.outputs.len());
        for o in &tx.outputs {
            outputs.push(
                self.output
                    .build(py, new, &[bytes(o.owner), int(o.amount)?])?,
            );
        }
        let mut witnesses = Vec::with_capacity(tx.witnesses.len());
        for w in &tx.witnesses {
            witnesses.push(
                self.witness
                    .build(py, new, &[bytes(w.pubkey), bytes(w.signature)])?,
            );
        }
        let withdrawal = match &tx.withdrawal {
            None => py.None().into_bound(py),
            Some(w) => {
                let values = [bytes(w.l1_recipient), int(w.amount)?, bytes(w.token)];
                self.withdrawal.build(py, new, &values)?
            }
        };
        let kind = self
            .kinds
            .get(usize::from(tx.kind).wrapping_sub(1))
            .ok_or_else(|| {
                self.malformed(py, format!("transaction.kind: unknown value {}", tx.kind))
            })?;
        let payload_hash = match tx.payload_hash {
            None => py.None().into_bound(py),
            Some(h) => bytes(h),
        };
        let values = [
            int(u64::from(decode::TX_VERSION))?,
            kind.bind(py).clone(),
            PyString::new(py, tx.chain_id).into_any(),
            PyTuple::new(py, inputs)?.into_any(),
            PyTuple::new(py, outputs)?.into_any(),
            int(tx.fee)?,
            int(tx.expiry_ms)?,
            payload_hash,
            bytes(tx.memo),
            withdrawal,
            PyTuple::new(py, witnesses)?.into_any(),
        ];
        let obj = self.tx.build(py, new, &values)?;
        let encoded = match whole {
            Some(b) => b.clone().into_any(),
            None => bytes(tx.encoded),
        };
        self.set(py, &obj, intern!(py, "_txid"), bytes(&txid(tx.unsigned)))?;
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
    /// Bind the codec to the models, each as ``(class, field names, [(cached attribute,
    /// default)])`` (Transaction, OutPoint, TxOutput, WithdrawalRequest, Witness), and to
    /// ``TxKind``'s members.
    #[new]
    fn new(
        py: Python<'_>,
        layouts: Vec<Bound<'_, PyAny>>,
        kinds: Vec<Py<PyAny>>,
    ) -> PyResult<Self> {
        let [tx, outpoint, output, withdrawal, witness] =
            <[Bound<'_, PyAny>; 5]>::try_from(layouts)
                .map_err(|_| PyTypeError::new_err("layouts: expected the 5 transaction models"))?;
        if kinds.len() != 3 {
            return Err(PyTypeError::new_err("kinds: expected the 3 TxKind members"));
        }
        let errors = py.import("fontana.errors")?;
        let object = py.import("builtins")?.getattr("object")?;
        Ok(TxCodec {
            tx: Layout::from_py(&tx)?,
            outpoint: Layout::from_py(&outpoint)?,
            output: Layout::from_py(&output)?,
            withdrawal: Layout::from_py(&withdrawal)?,
            witness: Layout::from_py(&witness)?,
            object_new: object.getattr("__new__")?.unbind(),
            kinds,
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
