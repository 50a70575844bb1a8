//! Unit tests on the published vectors (`tests/vectors/smt.json`, read through Python's json).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::*;

fn unhex32(s: &str) -> [u8; 32] {
    let v = hex::decode(s).unwrap();
    v.try_into().unwrap()
}

/// The vectors file as a Python object.
fn with_vectors<R>(f: impl FnOnce(&Bound<'_, PyDict>) -> R) -> R {
    Python::initialize();
    Python::attach(|py| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/smt.json");
        let text = std::fs::read_to_string(path).unwrap();
        let json = py.import("json").unwrap();
        let obj = json.call_method1("loads", (text,)).unwrap();
        f(obj.cast::<PyDict>().unwrap())
    })
}

fn s(obj: &Bound<'_, PyAny>, key: &str) -> String {
    obj.get_item(key).unwrap().extract().unwrap()
}

#[test]
fn hashes_match_the_vectors() {
    with_vectors(|v| {
        let h = v.get_item("hashes").unwrap().unwrap();
        let leaf = h.get_item("leaf").unwrap();
        let got = leaf_hash(
            &unhex32(&s(&leaf, "key")),
            &unhex32(&s(&leaf, "value_hash")),
        );
        assert_eq!(hex::encode(got), s(&leaf, "hash"));
        let node = h.get_item("node").unwrap();
        let got = node_hash(&unhex32(&s(&node, "left")), &unhex32(&s(&node, "right")));
        assert_eq!(hex::encode(got), s(&node, "hash"));
    })
}

#[test]
fn proofs_give_the_vector_verdicts_and_round_trip() {
    with_vectors(|v| {
        let versions = v.get_item("versions").unwrap().unwrap();
        let mut checked = 0;
        for step in versions.cast::<PyList>().unwrap().iter() {
            let root = unhex32(&s(&step, "root"));
            for case in step
                .get_item("proofs")
                .unwrap()
                .cast::<PyList>()
                .unwrap()
                .iter()
            {
                let key = unhex32(&s(&case, "key"));
                let value: Option<String> = case.get_item("value_hash").unwrap().extract().unwrap();
                let value = value.map(|x| unhex32(&x));
                let bytes = hex::decode(s(&case, "proof")).unwrap();
                let valid: bool = case.get_item("valid").unwrap().extract().unwrap();
                assert_eq!(verify_proof(&root, &key, value.as_ref(), &bytes), valid);
                let proof = Proof::from_bytes(&bytes).unwrap();
                assert_eq!(proof.to_bytes(), bytes, "re-encoding is canonical");
                checked += 1;
            }
        }
        assert!(checked > 10);
    })
}

#[test]
fn malformed_proofs_do_not_decode() {
    with_vectors(|v| {
        let bad = v.get_item("malformed_proofs").unwrap().unwrap();
        for case in bad.cast::<PyList>().unwrap().iter() {
            let bytes = hex::decode(s(&case, "proof")).unwrap();
            assert!(Proof::from_bytes(&bytes).is_err(), "{}", s(&case, "note"));
            assert!(!verify_proof(&EMPTY, &EMPTY, None, &bytes));
        }
    })
}

#[test]
fn worked_example_of_docs() {
    let key = |b: u8| {
        let mut k = [0u8; 32];
        k[0] = b;
        k
    };
    let l0 = leaf_hash(&key(0), &[0x11; 32]);
    let l10 = leaf_hash(&key(0x80), &[0x22; 32]);
    let l11 = leaf_hash(&key(0xc0), &[0x33; 32]);
    let root = node_hash(&l0, &node_hash(&l10, &l11));
    let mut inclusion = vec![0, 0, 2, 0xc0];
    inclusion.extend_from_slice(&l0);
    inclusion.extend_from_slice(&l10);
    assert!(verify_proof(
        &root,
        &key(0xc0),
        Some(&[0x33; 32]),
        &inclusion
    ));
    assert!(!verify_proof(
        &root,
        &key(0xc0),
        Some(&[0x34; 32]),
        &inclusion
    ));
    assert!(!verify_proof(&root, &key(0xc0), None, &inclusion));
    let mut other = vec![2, 0, 2, 0xc0];
    other.extend_from_slice(&l0);
    other.extend_from_slice(&l11);
    other.extend_from_slice(&key(0x80));
    other.extend_from_slice(&[0x22; 32]);
    assert!(verify_proof(&root, &key(0xa0), None, &other));
    assert!(
        !verify_proof(&root, &key(0x80), None, &other),
        "other key equal to the key"
    );
    assert!(
        !verify_proof(&root, &key(0x20), None, &other),
        "prefix differs"
    );
}

#[test]
fn hostile_bytes_never_panic() {
    // Every short input and a spread of lengths and header values decode or fail cleanly.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in 0..700usize {
        for _ in 0..8 {
            let mut data = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                data.push(seed as u8);
            }
            if len >= 3 {
                data[0] %= 4;
                data[1] %= 2;
            }
            let _ = verify_proof(&EMPTY, &EMPTY, None, &data);
            let _ = verify_proof(&EMPTY, &[0xff; 32], Some(&EMPTY), &data);
        }
    }
    for n in [0u16, 1, 7, 8, 9, 255, 256, 257, u16::MAX] {
        for kind in 0..4u8 {
            let mut data = vec![kind];
            data.extend_from_slice(&n.to_be_bytes());
            data.extend_from_slice(&[0xffu8; 40]);
            assert!(!verify_proof(&EMPTY, &EMPTY, None, &data));
        }
    }
}

// -- the tree engine ------------------------------------------------------------------

use std::collections::HashMap;

use super::tree::{compute_batch, walk, Batch, Child, Node, NodeSource, Pos};

/// A store for the engine alone: every node of every version.
#[derive(Default)]
struct Store {
    nodes: HashMap<(u64, Pos), Node>,
    roots: Vec<(u64, Option<Child>)>,
}

impl NodeSource for Store {
    type Error = String;
    fn node(&mut self, version: u64, pos: &Pos) -> Result<Node, String> {
        self.nodes
            .get(&(version, *pos))
            .copied()
            .ok_or_else(|| self.corrupt(version, pos))
    }
    fn corrupt(&mut self, version: u64, pos: &Pos) -> String {
        hex::encode(pos.node_key(version))
    }
}

impl Store {
    fn apply(&mut self, version: u64, updates: &[([u8; 32], Option<[u8; 32]>)]) -> Batch {
        let mut sorted = updates.to_vec();
        sorted.sort_by_key(|u| u.0);
        let root = self.roots.last().and_then(|r| r.1);
        let batch = compute_batch(self, version, root, &sorted).unwrap();
        for (pos, node) in &batch.new_nodes {
            self.nodes.insert((version, *pos), *node);
        }
        self.roots.push((version, batch.root_ref));
        batch
    }

    fn prove(&mut self, key: &[u8; 32]) -> (Proof, Option<[u8; 32]>) {
        let root = self.roots.last().and_then(|r| r.1);
        walk(self, root, key).unwrap()
    }
}

fn k(first: u8) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[0] = first;
    key
}

#[test]
fn the_worked_example_writes_the_documented_nodes() {
    let mut store = Store::default();
    let batch = store.apply(
        1,
        &[
            (k(0), Some([0x11; 32])),
            (k(0x80), Some([0x22; 32])),
            (k(0xc0), Some([0x33; 32])),
        ],
    );
    assert_eq!(
        hex::encode(batch.root),
        "9e4aa447ed66d156431a5e2c97fc2131bc30738c0f7360d3ae7b68ec0101e7cd"
    );
    let mut keys: Vec<String> = batch
        .new_nodes
        .iter()
        .map(|(pos, _)| hex::encode(pos.node_key(1)))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "00000000000000010000",
            "0000000000000001000100",
            "0000000000000001000180",
            "0000000000000001000280",
            "00000000000000010002c0"
        ]
    );
    assert_eq!(
        batch.root_key(),
        hex::decode("00000000000000010000").unwrap()
    );
    for (_, node) in &batch.new_nodes {
        assert_eq!(
            Node::decode(&node.encode()),
            Some(*node),
            "node bytes round-trip"
        );
    }
    let (proof, value) = store.prove(&k(0xc0));
    assert_eq!(value, Some([0x33; 32]));
    assert!(proof.verify(&batch.root, &k(0xc0), Some(&[0x33; 32])));
    assert_eq!(proof.to_bytes().len(), 68);
    let (proof, value) = store.prove(&k(0xa0));
    assert_eq!((proof.kind, value), (ProofKind::OtherLeaf, None));
    assert_eq!(proof.to_bytes().len(), 132);

    // Deleting 80.. lifts c0.. to depth 1 and retires four version-1 nodes, in the
    // reference's order (fontana.smt.tree).
    let batch = store.apply(2, &[(k(0x80), None)]);
    assert_eq!(
        hex::encode(batch.root),
        "42fb485d6c50ac3ecc5ea72bcdeac43b44c053d4b98c17c4cb8e956cbb9c754e"
    );
    let stale: Vec<String> = batch
        .stale
        .iter()
        .map(|(v, p)| hex::encode(p.node_key(*v)))
        .collect();
    assert_eq!(
        stale,
        [
            "0000000000000001000280",
            "0000000000000001000180",
            "00000000000000010002c0",
            "00000000000000010000"
        ]
    );
    let mut keys: Vec<String> = batch
        .new_nodes
        .iter()
        .map(|(pos, _)| hex::encode(pos.node_key(2)))
        .collect();
    keys.sort();
    assert_eq!(keys, ["00000000000000020000", "0000000000000002000180"]);
}

#[test]
fn no_op_batches_write_nothing_and_keep_the_root() {
    let mut store = Store::default();
    let first = store.apply(1, &[(k(1), Some([1; 32])), (k(2), Some([2; 32]))]);
    for updates in [vec![], vec![(k(1), Some([1; 32]))], vec![(k(9), None)]] {
        let batch = store.apply(store.roots.len() as u64 + 1, &updates);
        assert_eq!(batch.root, first.root);
        assert_eq!(
            batch.root_key(),
            first.root_key(),
            "the old version's root key"
        );
        assert!(batch.new_nodes.is_empty() && batch.stale.is_empty());
    }
    let gone = store.apply(9, &[(k(1), None), (k(2), None)]);
    assert_eq!((gone.root, gone.root_key()), (EMPTY, vec![]));
}

#[test]
fn keys_that_differ_only_in_the_last_bit_sit_at_depth_256() {
    let mut store = Store::default();
    let mut a = [0xffu8; 32];
    a[31] = 0xfe;
    let b = [0xffu8; 32];
    let batch = store.apply(1, &[(a, Some([1; 32])), (b, Some([2; 32]))]);
    assert_eq!(
        batch.new_nodes.len(),
        258,
        "256 internal nodes and two leaves"
    );
    let (proof, _) = store.prove(&b);
    assert_eq!(proof.siblings.len(), 256);
    assert!(proof.verify(&batch.root, &b, Some(&[2; 32])));
    let batch = store.apply(2, &[(a, None)]);
    assert_eq!(
        batch.root,
        leaf_hash(&b, &[2; 32]),
        "the survivor is lifted to the root"
    );
}

#[test]
fn hostile_node_bytes_never_panic_and_decode_strictly() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..100usize {
        for _ in 0..50 {
            let mut data = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                data.push(seed as u8);
            }
            if let Some(first) = data.first_mut() {
                *first %= 3;
            }
            if let Some(node) = Node::decode(&data) {
                assert_eq!(node.encode(), data, "only canonical bytes decode");
            }
        }
    }
    assert_eq!(
        Node::decode(&[1, 0x00]),
        None,
        "an internal node needs a child"
    );
    assert_eq!(Node::decode(&[1, 0x30]), None, "kind 3 is unknown");
}

#[test]
fn a_missing_node_is_the_source_error() {
    let mut store = Store::default();
    store.apply(1, &[(k(1), Some([1; 32])), (k(2), Some([2; 32]))]);
    store.nodes.clear();
    let root = store.roots.last().and_then(|r| r.1);
    assert!(compute_batch(&mut store, 2, root, &[(k(3), Some([3; 32]))]).is_err());
    assert!(walk(&mut store, root, &k(1)).is_err());
}
