//! Python bindings of the tree and the verifier.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList, PyTuple};

use super::cache::{self, NodeCache, Pending};
use super::proof;
use super::tree::{self, Batch, Child, Hash, Node, NodeSource, Pos};

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

fn version_error(py: Python<'_>, msg: &str) -> PyErr {
    fontana_error(py, "fontana.smt", "VersionError", msg)
}

fn storage_error(py: Python<'_>, msg: &str) -> PyErr {
    fontana_error(py, "fontana.errors", "StorageError", msg)
}

/// A key as the reference checks it: exactly `bytes`, 32 of them.
fn check_key(py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Hash> {
    key.cast_exact::<PyBytes>()
        .ok()
        .and_then(|b| arr32(b.as_bytes()))
        .ok_or_else(|| encoding_error(py, "smt key must be 32 bytes"))
}

/// `None`, or an optional `u64` that is `None` for Python's None.
fn opt_u64(obj: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    if obj.is_none() {
        Ok(None)
    } else {
        obj.extract().map(Some)
    }
}

fn lock(cache: &Mutex<NodeCache>) -> MutexGuard<'_, NodeCache> {
    // A poisoned lock means a panic elsewhere; the cache holds only immutable nodes.
    cache.lock().unwrap_or_else(|p| p.into_inner())
}

/// Nodes from the process's cache, else from the storage session (and then cached).
///
/// The lock is never held while Python runs, so another thread calling in cannot deadlock.
struct SessionSource<'a, 'py> {
    py: Python<'py>,
    get_node: Bound<'py, PyAny>,
    cache: &'a Mutex<NodeCache>,
}

impl SessionSource<'_, '_> {
    fn read(&self, nk: &[u8]) -> PyResult<Option<Vec<u8>>> {
        let got = self.get_node.call1((PyBytes::new(self.py, nk),))?;
        if got.is_none() {
            return Ok(None);
        }
        Ok(Some(got.extract::<Vec<u8>>()?))
    }
}

impl NodeSource for SessionSource<'_, '_> {
    type Error = PyErr;

    fn node(&mut self, version: u64, pos: &Pos) -> PyResult<Node> {
        if let Some(node) = lock(self.cache).get(version, pos) {
            return Ok(node);
        }
        let nk = pos.node_key(version);
        let Some(bytes) = self.read(&nk)? else {
            let msg = format!(
                "smt node {} is missing (pruned or corrupt store)",
                hex::encode(&nk)
            );
            return Err(storage_error(self.py, &msg));
        };
        let node = Node::decode(&bytes).ok_or_else(|| self.corrupt(version, pos))?;
        lock(self.cache).put(version, pos, &node);
        Ok(node)
    }

    fn corrupt(&mut self, version: u64, pos: &Pos) -> PyErr {
        let msg = format!("smt node {} is corrupt", hex::encode(pos.node_key(version)));
        storage_error(self.py, &msg)
    }
}

/// The root child of the tree at `root_key` (empty: an empty tree).
fn root_from_key<S: NodeSource<Error = PyErr>>(
    py: Python<'_>,
    src: &mut S,
    root_key: &[u8],
) -> PyResult<Option<Child>> {
    if root_key.is_empty() {
        return Ok(None);
    }
    match <[u8; 10]>::try_from(root_key) {
        Ok(k) if k[8..] == [0, 0] => {
            let version = u64::from_be_bytes([k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]]);
            tree::root_child(src, version).map(Some)
        }
        _ => Err(storage_error(
            py,
            &format!("smt root key {} is corrupt", hex::encode(root_key)),
        )),
    }
}

/// Sorted, checked updates: the reference's key check, then its value check.
fn parse_updates(
    py: Python<'_>,
    updates: &Bound<'_, PyAny>,
) -> PyResult<Vec<(Hash, Option<Hash>)>> {
    let mut raw = Vec::new();
    for item in updates.call_method0("items")?.try_iter()? {
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        raw.push((k, v));
    }
    let mut out = Vec::with_capacity(raw.len());
    for (k, _) in &raw {
        out.push((check_key(py, k)?, None));
    }
    for ((_, v), slot) in raw.iter().zip(out.iter_mut()) {
        if !v.is_none() {
            let value = v
                .cast_exact::<PyBytes>()
                .ok()
                .and_then(|b| arr32(b.as_bytes()));
            slot.1 =
                Some(value.ok_or_else(|| {
                    encoding_error(py, "smt value hash must be 32 bytes or None")
                })?);
        }
    }
    out.sort_unstable_by_key(|a| a.0);
    if out.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(encoding_error(py, "smt batch sets a key twice"));
    }
    Ok(out)
}

/// The batch as Python objects: `(version, root, root_key, new_nodes, stale)`.
fn batch_to_py<'py>(py: Python<'py>, batch: &Batch) -> PyResult<Bound<'py, PyTuple>> {
    let nodes = PyDict::new(py);
    for (pos, node) in &batch.new_nodes {
        nodes.set_item(
            PyBytes::new(py, &pos.node_key(batch.version)),
            PyBytes::new(py, &node.encode()),
        )?;
    }
    let stale = PyList::empty(py);
    for (version, pos) in &batch.stale {
        stale.append((PyBytes::new(py, &pos.node_key(*version)), batch.version))?;
    }
    (
        batch.version,
        PyBytes::new(py, &batch.root),
        PyBytes::new(py, &batch.root_key()),
        nodes,
        stale,
    )
        .into_pyobject(py)
}

/// The native tree on a ledger's storage session, with its own node cache.
///
/// It holds no tree state, only cached node bytes: the storage is the truth, and a new
/// instance on the same storage goes on where another one stopped.
#[pyclass(frozen, module = "fontana_native._native")]
struct NativeTree {
    cache: Mutex<NodeCache>,
}

impl NativeTree {
    fn source<'a, 'py>(&'a self, session: &Bound<'py, PyAny>) -> PyResult<SessionSource<'a, 'py>> {
        Ok(SessionSource {
            py: session.py(),
            get_node: session.getattr("get_tree_node")?,
            cache: &self.cache,
        })
    }

    /// The root child at `version` (None: latest), as the reference's `_root_ref`.
    fn root_ref(
        &self,
        session: &Bound<'_, PyAny>,
        version: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Child>> {
        let py = session.py();
        self.settle_read(session)?;
        let version = match version {
            Some(v) if !v.is_none() => v.clone(),
            _ => {
                let latest = session.call_method0("latest_tree_version")?;
                if latest.is_none() {
                    return Ok(None);
                }
                latest
            }
        };
        let root_key = session.call_method1("get_tree_root", (&version,))?;
        if root_key.is_none() {
            return Err(version_error(
                py,
                &format!("version {version} is not retained"),
            ));
        }
        let root_key: Vec<u8> = root_key.extract()?;
        root_from_key(py, &mut self.source(session)?, &root_key)
    }

    /// Drop what rolled-back batches left in the cache (see `cache.rs`).
    ///
    /// Before a batch (`applying`), the session sees only committed versions: whatever the
    /// cache holds above `latest` was rolled back, and a pending version at or below it is
    /// committed iff the stored root is the one this tree computed. A read may run inside
    /// the transaction that applied a batch, so it only drops pending versions whose stored
    /// root differs, and confirms them through another session only.
    fn settle(&self, session: &Bound<'_, PyAny>, applying: bool) -> PyResult<Option<u64>> {
        let latest = opt_u64(&session.call_method0("latest_tree_version")?)?;
        let due: BTreeMap<u64, Pending> = {
            let mut cache = lock(&self.cache);
            if applying {
                cache.forget_after(latest);
            }
            let Some(l) = latest else {
                return Ok(latest);
            };
            let later = cache.tentative.split_off(&(l.saturating_add(1)));
            std::mem::replace(&mut cache.tentative, later)
        };
        let src = self.source(session)?;
        let here = session.as_ptr() as usize;
        for (version, pending) in due {
            let root_key = session.call_method1("get_tree_root", (version,))?;
            let same = !root_key.is_none()
                && root_key.extract::<Vec<u8>>()? == pending.root_key
                && src.read(&pending.root_key)?.as_deref() == Some(pending.root_node.as_slice());
            let mut cache = lock(&self.cache);
            if !same {
                cache.forget_version(version);
            } else if !applying && pending.session == here {
                cache.tentative.insert(version, pending);
            }
        }
        Ok(latest)
    }

    /// Settle the cache for a read if any batch is pending.
    fn settle_read(&self, session: &Bound<'_, PyAny>) -> PyResult<()> {
        if !lock(&self.cache).tentative.is_empty() {
            self.settle(session, false)?;
        }
        Ok(())
    }
}

#[pymethods]
impl NativeTree {
    /// `generation`: nodes per cache generation; the cache holds up to about twice that.
    #[new]
    fn new(generation: usize) -> NativeTree {
        NativeTree {
            cache: Mutex::new(NodeCache::new(generation)),
        }
    }

    /// The batch of block `version` as `(version, root, root_key, new_nodes, stale)`;
    /// reads the session, never writes it (the caller writes the batch in its transaction).
    fn compute_batch<'py>(
        &self,
        session: &Bound<'py, PyAny>,
        version: &Bound<'py, PyAny>,
        updates: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let py = session.py();
        let base = self.settle(session, true)?;
        let v = match version.cast::<PyInt>() {
            Ok(i) => i
                .extract::<u64>()
                .ok()
                .filter(|v| base.map_or(true, |b| *v > b)),
            Err(_) => {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "batch version must be an int",
                ))
            }
        };
        let Some(v) = v else {
            let base = base.map_or("None".to_owned(), |b| b.to_string());
            return Err(version_error(
                py,
                &format!("batch version {version} must be above {base} and fit u64"),
            ));
        };
        let updates = parse_updates(py, updates)?;
        let mut src = self.source(session)?;
        let root = match base {
            None => None,
            Some(b) => {
                let root_key = session.call_method1("get_tree_root", (b,))?;
                if root_key.is_none() {
                    return Err(version_error(py, &format!("version {b} is not retained")));
                }
                root_from_key(py, &mut src, &root_key.extract::<Vec<u8>>()?)?
            }
        };
        let batch = tree::compute_batch(&mut src, v, root, &updates)?;
        {
            let mut cache = lock(&self.cache);
            let mut root_node = None;
            for (pos, node) in &batch.new_nodes {
                cache.put(v, pos, node);
                if *pos == Pos::ROOT {
                    root_node = Some(node.encode());
                }
            }
            if let Some(root_node) = root_node {
                cache.tentative.insert(
                    v,
                    Pending {
                        root_key: batch.root_key(),
                        root_node,
                        session: session.as_ptr() as usize,
                    },
                );
            }
        }
        batch_to_py(py, &batch)
    }

    /// Root hash at `version` (default: latest; the empty tree before any batch).
    #[pyo3(signature = (session, version=None))]
    fn root<'py>(
        &self,
        session: &Bound<'py, PyAny>,
        version: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let r = self.root_ref(session, version)?;
        Ok(PyBytes::new(
            session.py(),
            &r.map_or(proof::EMPTY, |c| c.hash),
        ))
    }

    /// Canonical proof bytes of `key` at `version` (default: latest).
    #[pyo3(signature = (session, key, version=None))]
    fn prove<'py>(
        &self,
        session: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
        version: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let key = check_key(session.py(), key)?;
        let root = self.root_ref(session, version)?;
        let (proof, _) = tree::walk(&mut self.source(session)?, root, &key)?;
        Ok(PyBytes::new(session.py(), &proof.to_bytes()))
    }

    /// Value hash of `key` at `version` (default: latest), or None if absent.
    #[pyo3(signature = (session, key, version=None))]
    fn get<'py>(
        &self,
        session: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
        version: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let key = check_key(session.py(), key)?;
        let root = self.root_ref(session, version)?;
        let (_, value) = tree::walk(&mut self.source(session)?, root, &key)?;
        Ok(value.map(|v| PyBytes::new(session.py(), &v)))
    }

    /// Nodes in the cache (both generations).
    fn cached_nodes(&self) -> usize {
        lock(&self.cache).nodes()
    }
}

/// Nodes of a [`MemoryTree`]: every version's, until pruned; packed as in the cache.
#[derive(Default)]
struct MemoryNodes {
    shallow: cache::Map,
    deep: HashMap<(u64, Pos), Node>,
}

impl MemoryNodes {
    fn insert(&mut self, version: u64, pos: Pos, node: &Node) {
        match cache::key(version, &pos) {
            Some(k) => {
                self.shallow.insert(k, cache::pack(node));
            }
            None => {
                self.deep.insert((version, pos), *node);
            }
        }
    }

    fn remove(&mut self, version: u64, pos: &Pos) {
        match cache::key(version, pos) {
            Some(k) => self.shallow.remove(&k).map(|_| ()),
            None => self.deep.remove(&(version, *pos)).map(|_| ()),
        };
    }

    fn len(&self) -> usize {
        self.shallow.len() + self.deep.len()
    }
}

impl NodeSource for &mut MemoryNodes {
    type Error = String;

    fn node(&mut self, version: u64, pos: &Pos) -> Result<Node, String> {
        let found = match cache::key(version, pos) {
            Some(k) => self.shallow.get(&k).and_then(cache::unpack),
            None => self.deep.get(&(version, *pos)).copied(),
        };
        found.ok_or_else(|| self.corrupt(version, pos))
    }

    fn corrupt(&mut self, version: u64, pos: &Pos) -> String {
        format!(
            "smt node {} is missing or corrupt",
            hex::encode(pos.node_key(version))
        )
    }
}

/// The native tree on its own in-memory store (benches and tools; like `MemoryNodeStore`).
#[pyclass(module = "fontana_native._native")]
#[derive(Default)]
struct MemoryTree {
    store: MemoryNodes,
    roots: BTreeMap<u64, Option<Child>>,
    /// (stale since, version, position), in batch order, so sorted by stale since.
    stale: Vec<(u64, u64, Pos)>,
}

impl MemoryTree {
    fn root_at(&self, py: Python<'_>, version: Option<u64>) -> PyResult<Option<Child>> {
        let Some(v) = version.or_else(|| self.roots.keys().next_back().copied()) else {
            return Ok(None);
        };
        self.roots
            .get(&v)
            .copied()
            .ok_or_else(|| version_error(py, &format!("version {v} is not retained")))
    }
}

#[pymethods]
impl MemoryTree {
    #[new]
    fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Compute and store the batch of `version`; return the new root.
    fn apply_batch<'py>(
        &mut self,
        py: Python<'py>,
        version: u64,
        updates: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let base = self.roots.keys().next_back().copied();
        if base.is_some_and(|b| version <= b) {
            return Err(version_error(
                py,
                &format!("batch version {version} must be above {base:?}"),
            ));
        }
        let updates = parse_updates(py, updates)?;
        let root = self.root_at(py, None)?;
        let batch = tree::compute_batch(&mut &mut self.store, version, root, &updates)
            .map_err(|e| storage_error(py, &e))?;
        for (pos, node) in &batch.new_nodes {
            self.store.insert(version, *pos, node);
        }
        self.stale
            .extend(batch.stale.iter().map(|(v, pos)| (version, *v, *pos)));
        self.roots.insert(version, batch.root_ref);
        Ok(PyBytes::new(py, &batch.root))
    }

    #[pyo3(signature = (version=None))]
    fn root<'py>(&self, py: Python<'py>, version: Option<u64>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(
            py,
            &self.root_at(py, version)?.map_or(proof::EMPTY, |c| c.hash),
        ))
    }

    #[pyo3(signature = (key, version=None))]
    fn prove<'py>(
        &mut self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        version: Option<u64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let key = check_key(py, key)?;
        let root = self.root_at(py, version)?;
        let (proof, _) =
            tree::walk(&mut &mut self.store, root, &key).map_err(|e| storage_error(py, &e))?;
        Ok(PyBytes::new(py, &proof.to_bytes()))
    }

    /// Forget versions before `keep_from_version` (the Jellyfish rule); return nodes deleted.
    fn prune(&mut self, keep_from_version: u64) -> usize {
        let end = self
            .stale
            .partition_point(|(since, _, _)| *since <= keep_from_version);
        for (_, version, pos) in self.stale.drain(..end) {
            self.store.remove(version, &pos);
        }
        self.roots.retain(|v, _| *v >= keep_from_version);
        end
    }

    /// Nodes stored.
    fn __len__(&self) -> usize {
        self.store.len()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeTree>()?;
    m.add_class::<MemoryTree>()?;
    m.add_function(wrap_pyfunction!(py_verify_proof, m)?)?;
    m.add_function(wrap_pyfunction!(py_leaf_hash, m)?)?;
    m.add_function(wrap_pyfunction!(py_node_hash, m)?)?;
    Ok(())
}
