//! The batch engine of docs/smt.md ("Shape", "Versions and storage", "Batches"), over any
//! node source.
//!
//! It is `fontana/smt/tree.py` step for step: the same recursion over the sorted keys,
//! the same collapse and lift rules, so it writes the same node bytes under the same node
//! keys and lists the same stale entries in the same order. It never writes: a batch is
//! returned for the caller to store in its own transaction.

use super::proof::{key_bit, leaf_hash, node_hash, Proof, ProofKind, EMPTY, MAX_DEPTH};

pub type Hash = [u8; 32];

/// Child kinds inside an internal node's kinds byte.
pub const KIND_EMPTY: u8 = 0;
pub const KIND_LEAF: u8 = 1;
pub const KIND_INTERNAL: u8 = 2;

/// A child as its parent stores it: the version that wrote it, its hash and whether it is a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child {
    pub version: u64,
    pub hash: Hash,
    pub leaf: bool,
}

impl Child {
    fn kind(&self) -> u8 {
        if self.leaf {
            KIND_LEAF
        } else {
            KIND_INTERNAL
        }
    }
}

/// A decoded stored node (docs/smt.md, "node format").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Leaf {
        key: Hash,
        value: Hash,
    },
    Internal {
        left: Option<Child>,
        right: Option<Child>,
    },
}

fn child_at(data: &[u8], at: usize, kind: u8) -> Option<Child> {
    let version = u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?);
    let hash = data.get(at + 8..at + 40)?.try_into().ok()?;
    Some(Child {
        version,
        hash,
        leaf: kind == KIND_LEAF,
    })
}

impl Node {
    /// Strict decoding of stored bytes; None for anything the tree would not have written.
    pub fn decode(data: &[u8]) -> Option<Node> {
        match *data.first()? {
            0 if data.len() == 65 => Some(Node::Leaf {
                key: data.get(1..33)?.try_into().ok()?,
                value: data.get(33..65)?.try_into().ok()?,
            }),
            1 => {
                let kinds = *data.get(1)?;
                let (lk, rk) = (kinds >> 4, kinds & 15);
                if lk > KIND_INTERNAL || rk > KIND_INTERNAL || (lk == 0 && rk == 0) {
                    return None;
                }
                let count = usize::from(lk != 0) + usize::from(rk != 0);
                if data.len() != 2 + 40 * count {
                    return None;
                }
                let left = if lk != 0 {
                    Some(child_at(data, 2, lk)?)
                } else {
                    None
                };
                let at = if lk != 0 { 42 } else { 2 };
                let right = if rk != 0 {
                    Some(child_at(data, at, rk)?)
                } else {
                    None
                };
                Some(Node::Internal { left, right })
            }
            _ => None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut slot = [0u8; 82];
        let len = self.write_into(&mut slot);
        slot[..len].to_vec()
    }

    /// Write the stored bytes into `out` (82 bytes hold the largest node); return their length.
    pub fn write_into(&self, out: &mut [u8; 82]) -> usize {
        match self {
            Node::Leaf { key, value } => {
                out[0] = 0;
                out[1..33].copy_from_slice(key);
                out[33..65].copy_from_slice(value);
                65
            }
            Node::Internal { left, right } => {
                let lk = left.map_or(KIND_EMPTY, |c| c.kind());
                let rk = right.map_or(KIND_EMPTY, |c| c.kind());
                out[0] = 1;
                out[1] = lk << 4 | rk;
                let mut at = 2;
                for c in [left, right].into_iter().flatten() {
                    out[at..at + 8].copy_from_slice(&c.version.to_be_bytes());
                    out[at + 8..at + 40].copy_from_slice(&c.hash);
                    at += 40;
                }
                at
            }
        }
    }

    pub fn hash(&self) -> Hash {
        match self {
            Node::Leaf { key, value } => leaf_hash(key, value),
            Node::Internal { left, right } => node_hash(
                &left.map_or(EMPTY, |c| c.hash),
                &right.map_or(EMPTY, |c| c.hash),
            ),
        }
    }
}

/// A node's position: the first `depth` bits of `path`, the rest zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    pub depth: u16,
    pub path: Hash,
}

impl Pos {
    pub const ROOT: Pos = Pos {
        depth: 0,
        path: EMPTY,
    };

    fn child(&self, bit: u8) -> Pos {
        let mut path = self.path;
        let d = usize::from(self.depth);
        if bit == 1 {
            path[d >> 3] |= 0x80 >> (d & 7);
        }
        Pos {
            depth: self.depth + 1,
            path,
        }
    }

    /// `node_key` of docs/smt.md: `u64_be(version) ‖ u16_be(depth) ‖ path` (ceil(depth/8) bytes).
    pub fn node_key(&self, version: u64) -> Vec<u8> {
        let n = usize::from(self.depth).div_ceil(8);
        let mut out = Vec::with_capacity(10 + n);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&self.depth.to_be_bytes());
        out.extend_from_slice(&self.path[..n]);
        out
    }
}

/// Where the engine reads stored nodes; a missing or corrupt node is the source's error.
pub trait NodeSource {
    type Error;
    fn node(&mut self, version: u64, pos: &Pos) -> Result<Node, Self::Error>;
    /// The error for a node that contradicts its parent (a corrupt store).
    fn corrupt(&mut self, version: u64, pos: &Pos) -> Self::Error;
}

/// Everything one batch changes (the `TreeBatch` of docs/smt.md).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub version: u64,
    pub root: Hash,
    /// The root child (None for an empty tree); its version and `Pos::ROOT` give the root key.
    pub root_ref: Option<Child>,
    /// New nodes, all at `version`, in the order the engine wrote them.
    pub new_nodes: Vec<(Pos, Node)>,
    /// Older nodes (their version and position) replaced by this batch, stale since `version`.
    pub stale: Vec<(u64, Pos)>,
}

impl Batch {
    pub fn root_key(&self) -> Vec<u8> {
        self.root_ref
            .map_or_else(Vec::new, |c| Pos::ROOT.node_key(c.version))
    }
}

/// A child while a batch runs: stored, or a new leaf not yet placed (it may still move).
#[derive(Clone, Copy)]
enum Ref {
    Stored(Child),
    New { hash: Hash, key: Hash, value: Hash },
}

/// The result of updating a subtree: unchanged (keep the stored child) or a new child.
enum Upd {
    Same,
    Changed(Option<Ref>),
}

struct Engine<'a, S: NodeSource> {
    src: &'a mut S,
    version: u64,
    keys: &'a [(Hash, Option<Hash>)],
    new_nodes: Vec<(Pos, Node)>,
    stale: Vec<(u64, Pos)>,
}

/// Index of the first item in `items[lo..hi]` whose key has bit `depth` set.
fn split(items: &[(Hash, Option<Hash>)], depth: usize, lo: usize, hi: usize) -> usize {
    lo + items[lo..hi].partition_point(|(k, _)| key_bit(k, depth) == 0)
}

impl<S: NodeSource> Engine<'_, S> {
    /// Unplace a stored leaf so its parent can move it up.
    fn lift(&mut self, child: Child, pos: Pos) -> Result<Option<Ref>, S::Error> {
        let Node::Leaf { key, value } = self.src.node(child.version, &pos)? else {
            return Err(self.src.corrupt(child.version, &pos));
        };
        self.stale.push((child.version, pos));
        Ok(Some(Ref::New {
            hash: child.hash,
            key,
            value,
        }))
    }

    /// Place a final child of the node at `parent`: new leaves are written here.
    fn place(&mut self, r: Option<Ref>, pos: Pos) -> Option<Child> {
        match r? {
            Ref::Stored(c) => Some(c),
            Ref::New { hash, key, value } => {
                self.new_nodes.push((pos, Node::Leaf { key, value }));
                Some(Child {
                    version: self.version,
                    hash,
                    leaf: true,
                })
            }
        }
    }

    /// The node at `pos` over two final children; a lone leaf child is handed up.
    fn combine(
        &mut self,
        pos: Pos,
        left: Option<Ref>,
        right: Option<Ref>,
    ) -> Result<Option<Ref>, S::Error> {
        match (left, right) {
            (None, None) => return Ok(None),
            (None, Some(r @ Ref::New { .. })) | (Some(r @ Ref::New { .. }), None) => {
                return Ok(Some(r))
            }
            (None, Some(Ref::Stored(c))) if c.leaf => return self.lift(c, pos.child(1)),
            (Some(Ref::Stored(c)), None) if c.leaf => return self.lift(c, pos.child(0)),
            _ => {}
        }
        let left = self.place(left, pos.child(0));
        let right = self.place(right, pos.child(1));
        let node = Node::Internal { left, right };
        let hash = node.hash();
        self.new_nodes.push((pos, node));
        Ok(Some(Ref::Stored(Child {
            version: self.version,
            hash,
            leaf: false,
        })))
    }

    /// Subtree of `items[lo..hi]` (sorted, non-empty) over an empty base.
    fn build(
        &mut self,
        items: &[(Hash, Option<Hash>)],
        pos: Pos,
        lo: usize,
        hi: usize,
    ) -> Result<Option<Ref>, S::Error> {
        if hi - lo == 1 {
            let (key, value) = items[lo];
            return Ok(value.map(|value| Ref::New {
                hash: leaf_hash(&key, &value),
                key,
                value,
            }));
        }
        let depth = usize::from(pos.depth);
        let mid = split(items, depth, lo, hi);
        let left = if mid > lo {
            self.build(items, pos.child(0), lo, mid)?
        } else {
            None
        };
        let right = if hi > mid {
            self.build(items, pos.child(1), mid, hi)?
        } else {
            None
        };
        self.combine(pos, left, right)
    }

    /// Apply `keys[lo..hi]` (all under `pos`) to the stored subtree `stored`.
    fn update(
        &mut self,
        stored: Option<Child>,
        pos: Pos,
        lo: usize,
        hi: usize,
    ) -> Result<Upd, S::Error> {
        let keys = self.keys;
        let Some(me) = stored else {
            return Ok(match self.build(keys, pos, lo, hi)? {
                None => Upd::Same,
                some => Upd::Changed(some),
            });
        };
        let node = self.src.node(me.version, &pos)?;
        match node {
            Node::Leaf { key: other, value } if me.leaf => {
                let i = lo + keys[lo..hi].partition_point(|(k, _)| *k < other);
                let result = if i < hi && keys[i].0 == other {
                    self.build(keys, pos, lo, hi)?
                } else {
                    let mut items = Vec::with_capacity(hi - lo + 1);
                    items.extend_from_slice(&keys[lo..i]);
                    items.push((other, Some(value)));
                    items.extend_from_slice(&keys[i..hi]);
                    let n = items.len();
                    self.build(&items, pos, 0, n)?
                };
                let unchanged = match result {
                    Some(Ref::New { hash, .. }) | Some(Ref::Stored(Child { hash, .. })) => {
                        hash == me.hash
                    }
                    None => false,
                };
                if unchanged {
                    return Ok(Upd::Same);
                }
                self.stale.push((me.version, pos));
                Ok(Upd::Changed(result))
            }
            Node::Internal { left, right } if !me.leaf && usize::from(pos.depth) < MAX_DEPTH => {
                let depth = usize::from(pos.depth);
                let mid = if hi - lo == 1 {
                    if key_bit(&keys[lo].0, depth) == 1 {
                        lo
                    } else {
                        hi
                    }
                } else {
                    split(keys, depth, lo, hi)
                };
                let new_left = if mid > lo {
                    self.update(left, pos.child(0), lo, mid)?
                } else {
                    Upd::Same
                };
                let new_right = if hi > mid {
                    self.update(right, pos.child(1), mid, hi)?
                } else {
                    Upd::Same
                };
                if let (Upd::Same, Upd::Same) = (&new_left, &new_right) {
                    return Ok(Upd::Same);
                }
                self.stale.push((me.version, pos));
                let resolve = |u: Upd, old: Option<Child>| match u {
                    Upd::Same => old.map(Ref::Stored),
                    Upd::Changed(r) => r,
                };
                let (l, r) = (resolve(new_left, left), resolve(new_right, right));
                Ok(Upd::Changed(self.combine(pos, l, r)?))
            }
            // Not the kind its parent records, or an internal node at full depth.
            _ => Err(self.src.corrupt(me.version, &pos)),
        }
    }
}

/// The batch of version `version` over the tree whose root is `root` (None: empty).
///
/// `updates` must be sorted by key with no key twice; None deletes. Reads `src`, never writes.
pub fn compute_batch<S: NodeSource>(
    src: &mut S,
    version: u64,
    root: Option<Child>,
    updates: &[(Hash, Option<Hash>)],
) -> Result<Batch, S::Error> {
    let mut e = Engine {
        src,
        version,
        keys: updates,
        new_nodes: Vec::new(),
        stale: Vec::new(),
    };
    let result = if updates.is_empty() {
        Upd::Same
    } else {
        e.update(root, Pos::ROOT, 0, updates.len())?
    };
    let result = match result {
        Upd::Same => root.map(Ref::Stored),
        Upd::Changed(r) => r,
    };
    let (root_hash, root_ref) = match result {
        None => (EMPTY, None),
        Some(Ref::Stored(c)) => (c.hash, Some(c)),
        Some(Ref::New { hash, key, value }) => {
            e.new_nodes.push((Pos::ROOT, Node::Leaf { key, value }));
            (
                hash,
                Some(Child {
                    version,
                    hash,
                    leaf: true,
                }),
            )
        }
    };
    Ok(Batch {
        version,
        root: root_hash,
        root_ref,
        new_nodes: e.new_nodes,
        stale: e.stale,
    })
}

/// The root child of a stored root node written at `version` (its hash recomputed).
pub fn root_child<S: NodeSource>(src: &mut S, version: u64) -> Result<Child, S::Error> {
    let node = src.node(version, &Pos::ROOT)?;
    Ok(Child {
        version,
        hash: node.hash(),
        leaf: matches!(node, Node::Leaf { .. }),
    })
}

/// Follow `key`'s path from `root` to its end: the proof, and the value hash if present.
pub fn walk<S: NodeSource>(
    src: &mut S,
    root: Option<Child>,
    key: &Hash,
) -> Result<(Proof, Option<Hash>), S::Error> {
    let mut siblings = Vec::new();
    let Some(mut at) = root else {
        return Ok((
            Proof {
                kind: ProofKind::EmptySubtree,
                siblings,
                other: None,
            },
            None,
        ));
    };
    let mut pos = Pos::ROOT;
    loop {
        match src.node(at.version, &pos)? {
            Node::Leaf { key: other, value } => {
                return Ok(if other == *key {
                    (
                        Proof {
                            kind: ProofKind::Inclusion,
                            siblings,
                            other: None,
                        },
                        Some(value),
                    )
                } else {
                    let other = Some((other, value));
                    (
                        Proof {
                            kind: ProofKind::OtherLeaf,
                            siblings,
                            other,
                        },
                        None,
                    )
                });
            }
            Node::Internal { .. } if usize::from(pos.depth) >= MAX_DEPTH => {
                return Err(src.corrupt(at.version, &pos));
            }
            Node::Internal { left, right } => {
                let bit = key_bit(key, usize::from(pos.depth));
                let (child, sib) = if bit == 1 {
                    (right, left)
                } else {
                    (left, right)
                };
                siblings.push(sib.map_or(EMPTY, |c| c.hash));
                match child {
                    None => {
                        let proof = Proof {
                            kind: ProofKind::EmptySubtree,
                            siblings,
                            other: None,
                        };
                        return Ok((proof, None));
                    }
                    Some(c) => {
                        at = c;
                        pos = pos.child(bit);
                    }
                }
            }
        }
    }
}
