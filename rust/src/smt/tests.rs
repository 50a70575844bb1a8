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
