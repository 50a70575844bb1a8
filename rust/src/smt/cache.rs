//! A bounded cache of decoded nodes, keyed by (version, position).
//!
//! Nodes are immutable once committed, so a cached node is right for as long as its
//! version is: the one way it goes wrong is a batch that was computed (and cached) and
//! then rolled back with its transaction, after which another batch of the same version
//! may write other bytes under the same keys. The cache therefore remembers the versions
//! it holds that are not known to be committed (`tentative`) and the highest version it
//! holds; `NativeTree` drops what a rollback left behind before every batch.
//!
//! Two generations (the current one, and the one before it) approximate LRU at no cost
//! per hit: a hit in the old generation moves the node to the current one, and when the
//! current generation is full the old one is dropped.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::tree::{Node, Pos};

/// Depth up to which nodes are cached (their path fits a u64); deeper nodes, which random
/// keys never produce, are read from the source every time.
const MAX_CACHED_DEPTH: u16 = 64;

/// (version, first 64 path bits, depth), packed so an entry has no padding.
///
/// Its hash leaves out the low bits of the version, so the versions of one position that
/// are close in time land in the same probe group: a batch reads a node and then writes
/// its replacement at the same position, and the write finds the group already in cache.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key([u8; 18]);

/// Versions that share a hash slot per position (a bound on probe chains when many
/// versions of one position are kept).
const VERSION_WINDOW_BITS: u32 = 6;

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut pos = [0u8; 8];
        pos.copy_from_slice(&self.0[8..16]);
        let depth = u64::from(u16::from_be_bytes([self.0[16], self.0[17]]));
        let window = key_version(self) >> VERSION_WINDOW_BITS;
        state.write_u64(u64::from_be_bytes(pos) ^ depth.rotate_left(56) ^ window.rotate_left(20));
    }
}

/// A node's stored bytes in a fixed slot (82 bytes hold the largest node).
pub(crate) type Slot = [u8; 82];

pub(crate) fn key(version: u64, pos: &Pos) -> Option<Key> {
    if pos.depth > MAX_CACHED_DEPTH {
        return None;
    }
    let mut k = [0u8; 18];
    k[..8].copy_from_slice(&version.to_be_bytes());
    k[8..16].copy_from_slice(&pos.path[..8]);
    k[16..].copy_from_slice(&pos.depth.to_be_bytes());
    Some(Key(k))
}

fn key_version(k: &Key) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&k.0[..8]);
    u64::from_be_bytes(v)
}

/// A folded-multiply hasher: each word is multiplied with a constant in 128 bits and the
/// halves are xored, so every input bit reaches every output bit. The keys are versions
/// and prefixes of hashed keys, which an attacker cannot choose.
#[derive(Default)]
pub struct FastHasher(u64);

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        fold(self.0, MULTIPLIER ^ 0x5851_f42d_4c95_7f2d)
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = fold(self.0 ^ n, MULTIPLIER);
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
}

pub(crate) type Map = HashMap<Key, Slot, BuildHasherDefault<FastHasher>>;

pub(crate) fn pack(node: &Node) -> Slot {
    let mut slot = [0u8; 82];
    node.write_into(&mut slot);
    slot
}

pub(crate) fn unpack(slot: &Slot) -> Option<Node> {
    let len = match slot[0] {
        0 => 65,
        _ => 2 + 40 * ((slot[1] >> 4 != 0) as usize + (slot[1] & 15 != 0) as usize),
    };
    Node::decode(slot.get(..len)?)
}

/// A batch whose commit is not yet known: its root key and root node bytes, and the
/// session (object address) that computed it.
pub struct Pending {
    pub root_key: Vec<u8>,
    pub root_node: Vec<u8>,
    pub session: usize,
}

pub struct NodeCache {
    generation: usize,
    cur: Map,
    old: Map,
    max_version: Option<u64>,
    pub tentative: BTreeMap<u64, Pending>,
}

impl NodeCache {
    /// A cache of at most about `2 * generation` nodes.
    pub fn new(generation: usize) -> NodeCache {
        NodeCache {
            generation: generation.max(1),
            cur: Map::default(),
            old: Map::default(),
            max_version: None,
            tentative: BTreeMap::new(),
        }
    }

    pub fn get(&mut self, version: u64, pos: &Pos) -> Option<Node> {
        let k = key(version, pos)?;
        if let Some(slot) = self.cur.get(&k) {
            return unpack(slot);
        }
        let slot = self.old.remove(&k)?;
        self.insert(k, slot);
        unpack(&slot)
    }

    pub fn put(&mut self, version: u64, pos: &Pos, node: &Node) {
        if let Some(k) = key(version, pos) {
            self.insert(k, pack(node));
            self.max_version = Some(self.max_version.map_or(version, |m| m.max(version)));
        }
    }

    fn insert(&mut self, k: Key, slot: Slot) {
        if self.cur.len() >= self.generation {
            let fresh = Map::with_capacity_and_hasher(self.generation, Default::default());
            self.old = std::mem::replace(&mut self.cur, fresh);
        }
        self.cur.insert(k, slot);
    }

    /// Drop every node written after `base` (None: all of them): what rolled-back batches
    /// left behind, since no version above the committed latest can be committed yet.
    pub fn forget_after(&mut self, base: Option<u64>) {
        let above = |v: u64| match base {
            None => true,
            Some(b) => v > b,
        };
        if self.max_version.is_some_and(above) {
            self.cur.retain(|k, _| !above(key_version(k)));
            self.old.retain(|k, _| !above(key_version(k)));
            self.max_version = base;
        }
        self.tentative.retain(|v, _| !above(*v));
    }

    /// Drop every node of `version`.
    pub fn forget_version(&mut self, version: u64) {
        self.cur.retain(|k, _| key_version(k) != version);
        self.old.retain(|k, _| key_version(k) != version);
    }

    /// Nodes held (both generations).
    pub fn nodes(&self) -> usize {
        self.cur.len() + self.old.len()
    }
}
