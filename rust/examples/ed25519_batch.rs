//! Measures what batch ed25519 verification would gain over the libsodium-equal single check.
//!
//! `cargo run --release --example ed25519_batch [signatures]`. Three ways to verify the
//! same signatures (64 keys, one message each): one by one as `native-tx` does
//! (`tx::ed25519::verify`: libsodium's verdicts); ed25519-dalek's cofactored
//! `verify_batch` (fast, but it accepts mixed-order signatures that libsodium refuses);
//! and that batch made to agree with libsodium by proving every `R` and key torsion-free
//! first (keys cached, as a ledger would). docs/native.md, "Transactions", has the figures.

use std::time::Instant;

use _native::tx::ed25519;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2048);
    let keys: Vec<SigningKey> = (0..64u8)
        .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
        .collect();
    let messages: Vec<[u8; 32]> = (0..n).map(|i| [(i % 251) as u8; 32]).collect();
    let signed: Vec<(VerifyingKey, Signature)> = (0..n)
        .map(|i| {
            let key = &keys[i % keys.len()];
            (key.verifying_key(), key.sign(&messages[i]))
        })
        .collect();

    let start = Instant::now();
    let ok = signed
        .iter()
        .zip(&messages)
        .all(|((k, s), m)| ed25519::verify(k.as_bytes(), m, &s.to_bytes()));
    let single = start.elapsed().as_secs_f64();
    assert!(ok);

    let msgs: Vec<&[u8]> = messages.iter().map(|m| m.as_slice()).collect();
    let sigs: Vec<Signature> = signed.iter().map(|(_, s)| *s).collect();
    let vks: Vec<VerifyingKey> = signed.iter().map(|(k, _)| *k).collect();
    let start = Instant::now();
    let batch_ok = ed25519_dalek::verify_batch(&msgs, &sigs, &vks).is_ok();
    let batch = start.elapsed().as_secs_f64();
    assert!(batch_ok);

    let start = Instant::now();
    let keys_free = keys
        .iter()
        .all(|k| k.verifying_key().to_edwards().is_torsion_free());
    let rs_free = sigs.iter().all(|s| {
        VerifyingKey::from_bytes(s.r_bytes()).is_ok_and(|r| r.to_edwards().is_torsion_free())
    });
    let agreed = keys_free && rs_free && ed25519_dalek::verify_batch(&msgs, &sigs, &vks).is_ok();
    let safe = start.elapsed().as_secs_f64();
    assert!(agreed);

    let per = |t: f64| t / n as f64 * 1e6;
    println!("{n} signatures, µs per signature:");
    println!("  one by one, libsodium's verdicts: {:6.1}", per(single));
    println!(
        "  cofactored batch (disagrees):     {:6.1}  ({:.2}x)",
        per(batch),
        single / batch
    );
    println!(
        "  batch + torsion checks (agrees):  {:6.1}  ({:.2}x)",
        per(safe),
        single / safe
    );
}
