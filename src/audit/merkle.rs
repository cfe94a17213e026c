//! The RFC 9162 (formerly RFC 6962) Merkle tree over leaf hashes: the tree
//! head, inclusion and consistency proofs, and their verification.
//!
//! Leaves are hashes already (see [`super::leaf_hash`]); interior nodes are
//! [`super::node_hash`]. Everything here is iterative, so a million leaves
//! need no deep recursion and no more than one hash per interior node.

use sha2::{Digest, Sha256};

use super::node_hash;

/// A SHA-256 hash: a leaf hash, a node hash or a tree head.
pub type Hash = [u8; 32];

/// Why a proof cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The tree asked for is bigger than the leaves given.
    #[error("tree size {size} is larger than the {leaves} leaves available")]
    SizeTooLarge { size: u64, leaves: u64 },
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof from a bigger tree to a smaller one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldLargerThanNew { old_size: u64, new_size: u64 },
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// MTH(D): the root of the tree whose leaves hash to `leaves`.
pub fn root(leaves: &[Hash]) -> Hash {
    let mut tree = Tree::new();
    for leaf in leaves {
        tree.push(*leaf);
    }
    tree.root()
}

/// A tree built one leaf at a time. It keeps only the roots of its complete
/// subtrees (one per set bit of the size), so it can give the root at every
/// size it passes through without keeping the leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    size: u64,
    /// Roots of the complete subtrees, largest (leftmost) first.
    stack: Vec<Hash>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut size = self.size;
        // Each trailing one bit of the old size is a complete subtree of the
        // same height as `hash`: merge them.
        while size & 1 == 1 {
            let Some(left) = self.stack.pop() else { break };
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.stack.push(hash);
        self.size += 1;
    }

    /// A tree of `size` leaves from the roots of its complete subtrees,
    /// largest first (see [`compact_range`]); none when their number does
    /// not match the size.
    pub fn from_compact(size: u64, stack: Vec<Hash>) -> Option<Self> {
        (stack.len() == size.count_ones() as usize).then_some(Self { size, stack })
    }

    /// The number of leaves pushed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// MTH of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// The largest power of two smaller than `n` (`n` > 1): RFC 9162's `k`.
fn split(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// The leaves of the first `size` entries, as a slice.
fn prefix(leaves: &[Hash], size: u64) -> Result<&[Hash], ProofError> {
    let available = leaves.len() as u64;
    match usize::try_from(size) {
        Ok(n) if size <= available => Ok(&leaves[..n]),
        _ => Err(ProofError::SizeTooLarge {
            size,
            leaves: available,
        }),
    }
}

/// Converts an index known to be at most a slice length.
fn at(i: u64) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

/// PATH(index, D[0:size]) (RFC 9162 §2.1.3.1): the sibling subtree roots
/// from the leaf up to the root.
pub fn inclusion_proof(leaves: &[Hash], index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
    let d = prefix(leaves, size)?;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    inclusion_path(index, size, |lo, hi| {
        Ok::<_, ProofError>(root(&d[at(lo)..at(hi)]))
    })
}

/// PATH(index, D[0:size]), with the root of the leaves `lo..hi` of every
/// subtree it names from `root_of(lo, hi)`: from the leaves in memory, or
/// from stored interior nodes in O(log n) reads. `index < size`.
pub fn inclusion_path<E>(
    index: u64,
    size: u64,
    mut root_of: impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    // Walk down from the root, collecting siblings top first.
    let (mut lo, mut hi) = (0u64, size);
    let mut path = Vec::new();
    while hi - lo > 1 {
        let mid = lo + split(hi - lo);
        if index < mid {
            path.push(root_of(mid, hi)?);
            hi = mid;
        } else {
            path.push(root_of(lo, mid)?);
            lo = mid;
        }
    }
    path.reverse();
    Ok(path)
}

/// PROOF(old_size, D[0:new_size]) (RFC 9162 §2.1.4.1). Empty when
/// `old_size` is 0 or equal to `new_size`.
pub fn consistency_proof(
    leaves: &[Hash],
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError> {
    let d = prefix(leaves, new_size)?;
    if old_size > new_size {
        return Err(ProofError::OldLargerThanNew { old_size, new_size });
    }
    consistency_path(old_size, new_size, |lo, hi| {
        Ok::<_, ProofError>(root(&d[at(lo)..at(hi)]))
    })
}

/// PROOF(old_size, D[0:new_size]), with subtree roots from `root_of`, as
/// in [`inclusion_path`]. `old_size <= new_size`.
pub fn consistency_path<E>(
    old_size: u64,
    new_size: u64,
    mut root_of: impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    let mut proof = Vec::new();
    if old_size == 0 || old_size >= new_size {
        return Ok(proof);
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled; m counts from lo.
    let (mut lo, mut hi, mut m, mut b) = (0u64, new_size, old_size, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !b {
                proof.push(root_of(lo, hi)?);
            }
            break;
        }
        let k = split(n);
        if m <= k {
            proof.push(root_of(lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(root_of(lo, lo + k)?);
            lo += k;
            m -= k;
            b = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// MTH(D[lo:hi]) from complete subtrees: `node(level, idx)` gives the root
/// of the 2^level leaves from idx * 2^level. The ranges RFC 9162's proofs
/// name start at a multiple of the largest power of two below their
/// length, so this reads at most one node per level.
pub fn range_root<E>(
    lo: u64,
    hi: u64,
    node: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
) -> Result<Hash, E> {
    let n = hi - lo;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && lo % n == 0 {
        let level = n.trailing_zeros();
        return node(level, lo >> level);
    }
    if n == 1 {
        return node(0, lo);
    }
    let k = split(n);
    let left = range_root(lo, lo + k, node)?;
    let right = range_root(lo + k, hi, node)?;
    Ok(node_hash(&left, &right))
}

/// The complete subtrees a tree of `size` leaves is made of, one per set
/// bit of the size, largest (leftmost) first: (level, index).
pub fn compact_range(size: u64) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    for level in (0..64u32).rev() {
        if size & (1u64 << level) != 0 {
            out.push((level, offset >> level));
            offset += 1u64 << level;
        }
    }
    out
}

/// The root an inclusion proof leads to, as RFC 9162 §2.1.3.2 computes
/// it: from `leaf`, entry `index` of a tree of `size` leaves, up `proof`.
/// `None` when the proof has the wrong length for that place.
pub fn inclusion_root(leaf: &Hash, index: u64, size: u64, proof: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(r)
}

/// Checks an inclusion proof as RFC 9162 §2.1.3.2 says: `leaf` is entry
/// `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    inclusion_root(leaf, index, size, proof).is_some_and(|r| r == *root)
}

/// The two roots a consistency proof leads to, as RFC 9162 §2.1.4.2
/// computes them for 0 < old_size < new_size: the old tree's and the new
/// tree's. When the old tree is a complete subtree its root is not in the
/// proof: `old_root` gives it (and is returned as it is); otherwise
/// `old_root` is not read. `None` when the proof has the wrong shape.
pub fn consistency_roots(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    proof: &[Hash],
) -> Option<(Hash, Hash)> {
    if old_size == 0 || old_size >= new_size {
        return None;
    }
    let (first, rest) = proof.split_first()?;
    let (start, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (first, rest)
    };
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in rest {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some((fr, sr))
}

/// Checks a consistency proof as RFC 9162 §2.1.4.2 says: the tree of
/// `old_size` leaves with root `old_root` is a prefix of the tree of
/// `new_size` leaves with root `new_root`.
///
/// The RFC's algorithm covers 0 < old_size < new_size. For the other cases
/// the proof must be empty: equal sizes need equal roots, and an old size of
/// 0 needs the empty tree's root as `old_root` (any tree extends it).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == 0 {
        return proof.is_empty()
            && *old_root == empty_root()
            && (new_size > 0 || *new_root == empty_root());
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    consistency_roots(old_size, new_size, old_root, proof)
        .is_some_and(|(fr, sr)| fr == *old_root && sr == *new_root)
}
