//! Tests of the Merkle tree and the signed checkpoints.
//!
//! Known answers: the eight leaves, roots and proofs of certificate
//! transparency's Merkle tests, as published in transparency-dev/merkle
//! (`testonly/constants.go`, `proof/verify_test.go`); the PeterNeumann key and
//! note of golang.org/x/mod/sumdb/note (`note.go` package documentation).

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::checkpoint::{
    self, open, read_key_file, sign, write_key_file, Checkpoint, CheckpointError, SignerKey,
    VerifierKey,
};
use super::merkle::{
    consistency_proof, empty_root, inclusion_proof, root, verify_consistency, verify_inclusion,
    Hash, ProofError, Tree,
};
use super::{leaf_hash, Entry};

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn hs(list: &[&str]) -> Vec<Hash> {
    list.iter().map(|s| h(s)).collect()
}

// ---- RFC 6962 known answers ----

const LEAF_DATA: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Roots of the trees of the first 0..=8 leaves.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index from 0, tree size, PATH).
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, PROOF).
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn rfc_leaves() -> Vec<Hash> {
    LEAF_DATA
        .iter()
        .map(|d| leaf_hash(&hex::decode(d).unwrap()))
        .collect()
}

// ---- A reference written straight from RFC 9162 §2.1, recursive and slow ----

fn ref_hash(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

fn ref_node(l: &Hash, r: &Hash) -> Hash {
    let mut v = vec![1u8];
    v.extend_from_slice(l);
    v.extend_from_slice(r);
    ref_hash(&v)
}

/// The largest power of two smaller than n.
fn ref_k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) over leaf hashes.
fn ref_mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => ref_hash(&[]),
        1 => d[0],
        n => {
            let k = ref_k(n);
            ref_node(&ref_mth(&d[..k]), &ref_mth(&d[k..]))
        }
    }
}

/// PATH(m, D[n]).
fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n == 1 {
        return vec![];
    }
    let k = ref_k(n);
    if m < k {
        let mut p = ref_path(m, &d[..k]);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &d[k..]);
        p.push(ref_mth(&d[..k]));
        p
    }
}

/// SUBPROOF(m, D[n], b).
fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![ref_mth(d)] };
    }
    let k = ref_k(n);
    if m <= k {
        let mut p = ref_subproof(m, &d[..k], b);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_subproof(m - k, &d[k..], false);
        p.push(ref_mth(&d[..k]));
        p
    }
}

/// PROOF(m, D[n]); empty for m = 0 and m = n.
fn ref_proof(m: usize, d: &[Hash]) -> Vec<Hash> {
    if m == 0 || m == d.len() {
        return vec![];
    }
    ref_subproof(m, d, true)
}

/// The root a PATH leads to, read the way PATH is built: the last element
/// is the sibling at the top split.
fn ref_root_from_path(leaf: &Hash, m: u64, n: u64, path: &[Hash]) -> Option<Hash> {
    if m >= n {
        return None;
    }
    if n == 1 {
        return path.is_empty().then_some(*leaf);
    }
    let (last, rest) = path.split_last()?;
    let k = ref_k(n as usize) as u64;
    if m < k {
        Some(ref_node(&ref_root_from_path(leaf, m, k, rest)?, last))
    } else {
        Some(ref_node(
            last,
            &ref_root_from_path(leaf, m - k, n - k, rest)?,
        ))
    }
}

/// Distinct leaves for property tests.
fn leaves(seed: u64, n: usize) -> Vec<Hash> {
    (0..n as u64)
        .map(|i| leaf_hash(&[seed.to_le_bytes(), i.to_le_bytes()].concat()))
        .collect()
}

/// Reference roots of prefixes of `d`, computed when first asked for.
struct RefRoots<'a> {
    d: &'a [Hash],
    memo: std::collections::HashMap<u64, Hash>,
}

impl<'a> RefRoots<'a> {
    fn new(d: &'a [Hash]) -> Self {
        Self {
            d,
            memo: Default::default(),
        }
    }

    fn at(&mut self, n: u64) -> Hash {
        let d = self.d;
        *self
            .memo
            .entry(n)
            .or_insert_with(|| ref_mth(&d[..n as usize]))
    }
}

/// Sizes near `n` (and `n` itself), for changing a size by a little or a lot.
fn near(n: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (n.saturating_sub(2)..=n + 2).collect();
    v.extend([0, 1, n / 2, n * 2, n ^ 1, n ^ 2, n.next_power_of_two()]);
    v.sort_unstable();
    v.dedup();
    v
}

fn flipped(h: &Hash, byte: usize) -> Hash {
    let mut x = *h;
    x[byte] ^= 0x01;
    x
}

// ---- Known answers ----

#[test]
fn rfc_roots_at_every_size() {
    let d = rfc_leaves();
    let mut tree = Tree::new();
    assert_eq!(tree.root(), h(ROOTS[0]));
    assert_eq!(empty_root(), h(ROOTS[0]));
    for n in 0..=8 {
        assert_eq!(root(&d[..n]), h(ROOTS[n]), "root of {n}");
        assert_eq!(ref_mth(&d[..n]), h(ROOTS[n]), "reference root of {n}");
        if n > 0 {
            tree.push(d[n - 1]);
        }
        assert_eq!(tree.size(), n as u64);
        assert_eq!(tree.root(), h(ROOTS[n]), "incremental root of {n}");
    }
}

#[test]
fn rfc_inclusion_proofs() {
    let d = rfc_leaves();
    for (index, size, want) in INCLUSION {
        let want = hs(want);
        let proof = inclusion_proof(&d, index, size).unwrap();
        assert_eq!(proof, want, "PATH({index}, {size})");
        assert_eq!(ref_path(index as usize, &d[..size as usize]), want);
        let r = h(ROOTS[size as usize]);
        let leaf = d[index as usize];
        assert!(verify_inclusion(&leaf, index, size, &proof, &r));

        // The probes of transparency-dev's verifier tests.
        let bad_leaf = leaf_hash(b"WrongLeaf");
        let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            (index.wrapping_sub(1), size, leaf, r, proof.clone()),
            (index + 1, size, leaf, r, proof.clone()),
            (index ^ 2, size, leaf, r, proof.clone()),
            (index, size * 2, leaf, r, proof.clone()),
            (index, size / 2, leaf, r, proof.clone()),
            (index, size, bad_leaf, r, proof.clone()),
            (index, size, leaf, empty_root(), proof.clone()),
            (index, size, leaf, some, proof.clone()),
            (index, size, leaf, r, [proof.clone(), vec![r]].concat()),
            (index, size, leaf, r, [vec![r], proof.clone()].concat()),
        ];
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i][0] ^= 8;
            probes.push((index, size, leaf, r, p));
        }
        if !proof.is_empty() {
            probes.push((index, size, leaf, r, proof[..proof.len() - 1].to_vec()));
        }
        if proof.len() > 1 {
            let p = [vec![proof[0], some], proof[1..].to_vec()].concat();
            probes.push((index, size, leaf, r, p));
        }
        for (i, s, l, rt, p) in probes {
            assert!(
                !verify_inclusion(&l, i, s, &p, &rt),
                "probe ({i}, {s}) verified for PATH({index}, {size})"
            );
        }
    }
}

#[test]
fn rfc_consistency_proofs() {
    let d = rfc_leaves();
    for (old, new, want) in CONSISTENCY {
        let want = hs(want);
        let proof = consistency_proof(&d, old, new).unwrap();
        assert_eq!(proof, want, "PROOF({old}, {new})");
        assert_eq!(ref_proof(old as usize, &d[..new as usize]), want);
        let (r1, r2) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
        assert!(verify_consistency(old, new, &r1, &r2, &proof));
        if proof.is_empty() {
            continue;
        }
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            (old - 1, new, r1, r2, proof.clone()),
            (old + 1, new, r1, r2, proof.clone()),
            (old ^ 2, new, r1, r2, proof.clone()),
            (old, new * 2, r1, r2, proof.clone()),
            (old, new / 2, r1, r2, proof.clone()),
            (old, new, leaf_hash(b"WrongRoot"), r2, proof.clone()),
            (old, new, r1, leaf_hash(b"WrongRoot"), proof.clone()),
            (old, new, r2, r1, proof.clone()),
            (old, new, r1, r2, vec![]),
            (old, new, r1, r2, [proof.clone(), vec![r1]].concat()),
            (old, new, r1, r2, [proof.clone(), vec![r2]].concat()),
            (old, new, r1, r2, [vec![r1], proof.clone()].concat()),
            (old, new, r1, r2, [vec![r2], proof.clone()].concat()),
            (old, new, r1, r2, [vec![proof[0]], proof.clone()].concat()),
            (old, new, r1, r2, proof[..proof.len() - 1].to_vec()),
        ];
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i][0] ^= 16;
            probes.push((old, new, r1, r2, p));
        }
        for (o, n, a, b, p) in probes {
            assert!(
                !verify_consistency(o, n, &a, &b, &p),
                "probe ({o}, {n}) verified for PROOF({old}, {new})"
            );
        }
    }
}

#[test]
fn consistency_edge_cases() {
    let e = empty_root();
    let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
    // Equal sizes: equal roots and an empty proof.
    assert!(verify_consistency(0, 0, &e, &e, &[]));
    assert!(verify_consistency(1, 1, &a, &a, &[]));
    assert!(verify_consistency(5, 5, &a, &a, &[]));
    assert!(!verify_consistency(1, 1, &a, &b, &[]));
    assert!(!verify_consistency(1, 1, &a, &a, &[e]));
    assert!(!verify_consistency(0, 0, &e, &a, &[]));
    // The empty tree is a prefix of every tree, and has the empty root.
    assert!(verify_consistency(0, 1, &e, &a, &[]));
    assert!(verify_consistency(0, 1000, &e, &b, &[]));
    assert!(!verify_consistency(0, 1, &a, &b, &[]));
    assert!(!verify_consistency(0, 1, &e, &a, &[e]));
    // Time does not run backwards; a real step needs a proof.
    assert!(!verify_consistency(1, 0, &a, &e, &[]));
    assert!(!verify_consistency(2, 1, &a, &b, &[]));
    assert!(!verify_consistency(1, 2, &a, &b, &[]));
    assert!(!verify_consistency(u64::MAX, u64::MAX - 1, &a, &b, &[a]));
    // Huge sizes with a short proof fail without panicking.
    assert!(!verify_consistency(3, u64::MAX, &a, &b, &[a, b]));
    assert!(!verify_consistency(u64::MAX - 1, u64::MAX, &a, &b, &[a, b]));
}

#[test]
fn inclusion_edge_cases() {
    let a = leaf_hash(b"a");
    assert!(verify_inclusion(&a, 0, 1, &[], &a));
    assert!(!verify_inclusion(&a, 0, 0, &[], &a));
    assert!(!verify_inclusion(&a, 1, 1, &[], &a));
    assert!(!verify_inclusion(&a, 0, 1, &[a], &a));
    assert!(!verify_inclusion(&a, u64::MAX, u64::MAX, &[a], &a));
    assert!(!verify_inclusion(&a, u64::MAX - 1, u64::MAX, &[a; 3], &a));
}

#[test]
fn proof_errors() {
    let d = rfc_leaves();
    assert_eq!(
        inclusion_proof(&d, 3, 3),
        Err(ProofError::IndexOutOfRange { index: 3, size: 3 })
    );
    assert_eq!(
        inclusion_proof(&d, 0, 0),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        inclusion_proof(&d, 0, 9),
        Err(ProofError::SizeTooLarge { size: 9, leaves: 8 })
    );
    assert_eq!(
        consistency_proof(&d, 5, 4),
        Err(ProofError::OldLargerThanNew {
            old_size: 5,
            new_size: 4
        })
    );
    assert_eq!(
        consistency_proof(&d, 1, u64::MAX),
        Err(ProofError::SizeTooLarge {
            size: u64::MAX,
            leaves: 8
        })
    );
    assert_eq!(consistency_proof(&d, 0, 8), Ok(vec![]));
    assert_eq!(consistency_proof(&d, 8, 8), Ok(vec![]));
    assert_eq!(
        inclusion_proof(&d, 7, 5).unwrap_err().to_string(),
        "leaf index 7 is outside a tree of size 5"
    );
    assert_eq!(
        inclusion_proof(&d, 0, 20).unwrap_err().to_string(),
        "tree size 20 is larger than the 8 leaves available"
    );
    assert_eq!(
        consistency_proof(&d, 6, 2).unwrap_err().to_string(),
        "old tree size 6 is larger than new tree size 2"
    );
}

#[test]
fn tree_matches_root_at_every_size_up_to_300() {
    let d = leaves(7, 300);
    let mut tree = Tree::new();
    for (n, leaf) in d.iter().enumerate() {
        tree.push(*leaf);
        assert_eq!(tree.root(), root(&d[..=n]), "size {}", n + 1);
    }
    assert_eq!(tree.root(), ref_mth(&d));
}

#[test]
fn entry_leaf_is_in_the_tree() {
    let entry = Entry {
        seq: 1,
        at: "2024-09-01T10:00:00.000Z".into(),
        actor: "user:alice".into(),
        action: "changeset.approve".into(),
        entity: "changeset".into(),
        entity_id: "12".into(),
        before: None,
        after: Some(serde_json::json!({"status": "approved"})),
        reason: Some("checked against the register".into()),
        summary: None,
        request_id: Some("r-1".into()),
        client: Some("192.0.2.1".into()),
        client_request_id: None,
    };
    let mut d = leaves(1, 4);
    d.push(entry.leaf_hash());
    let r = root(&d);
    let proof = inclusion_proof(&d, 4, 5).unwrap();
    assert!(verify_inclusion(&entry.leaf_hash(), 4, 5, &proof, &r));
    let mut changed = entry.clone();
    changed.actor = "user:mallory".into();
    assert!(!verify_inclusion(&changed.leaf_hash(), 4, 5, &proof, &r));
}

// ---- Properties against the reference, sizes 0..=200 ----

/// Leaves generated per case; sizes up to 200 are tested, the rest let
/// mutated sizes go past the tree.
const MAX_LEAVES: usize = 256;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn root_and_tree_agree_with_reference(
        n in 0usize..=200,
        seed: u64,
        probes in proptest::collection::vec(0usize..=200, 4),
    ) {
        let d = leaves(seed, n);
        let mut refs = RefRoots::new(&d);
        prop_assert_eq!(root(&d), refs.at(n as u64));
        let mut tree = Tree::new();
        prop_assert_eq!(tree.root(), refs.at(0));
        for (k, leaf) in d.iter().enumerate() {
            tree.push(*leaf);
            let size = k as u64 + 1;
            prop_assert_eq!(tree.size(), size);
            if size <= 16 || probes.contains(&(k + 1)) {
                prop_assert_eq!(tree.root(), refs.at(size));
            }
        }
        prop_assert_eq!(tree.root(), refs.at(n as u64));
    }

    #[test]
    fn inclusion_agrees_with_reference(n in 1usize..=200, i in 0usize..200, seed: u64) {
        let i = i % n;
        let d = leaves(seed, MAX_LEAVES);
        let mut refs = RefRoots::new(&d);
        let (leaf, size, index) = (d[i], n as u64, i as u64);
        let r = refs.at(size);

        let proof = inclusion_proof(&d, index, size).unwrap();
        prop_assert_eq!(&proof, &ref_path(i, &d[..n]));
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &r));

        // Any changed byte of the proof, the leaf or the root.
        for (j, p) in proof.iter().enumerate() {
            for byte in 0..32 {
                let mut bad = proof.clone();
                bad[j] = flipped(p, byte);
                prop_assert!(!verify_inclusion(&leaf, index, size, &bad, &r));
            }
        }
        for byte in 0..32 {
            prop_assert!(!verify_inclusion(&flipped(&leaf, byte), index, size, &proof, &r));
            prop_assert!(!verify_inclusion(&leaf, index, size, &proof, &flipped(&r, byte)));
        }
        // A proof one element short or long.
        if let Some((_, short)) = proof.split_last() {
            prop_assert!(!verify_inclusion(&leaf, index, size, short, &r));
        }
        let long = [proof.clone(), vec![r]].concat();
        prop_assert!(!verify_inclusion(&leaf, index, size, &long, &r));

        // Another index of the same tree.
        for other in (0..size).filter(|&j| j != index) {
            prop_assert!(!verify_inclusion(&leaf, other, size, &proof, &r));
        }
        // Another size, against that size's root.
        for other in near(size) {
            if other != size && index < other && other <= MAX_LEAVES as u64 {
                let rs = refs.at(other);
                prop_assert!(!verify_inclusion(&leaf, index, other, &proof, &rs));
            }
        }
        // Any size against this root: it verifies exactly when the reference
        // reading of the path gives this root (the path alone does not pin
        // the size when two sizes share its shape).
        for other in 0..=2 * size + 2 {
            let want = ref_root_from_path(&leaf, index, other, &proof) == Some(r);
            prop_assert_eq!(verify_inclusion(&leaf, index, other, &proof, &r), want);
        }
    }

    #[test]
    fn consistency_agrees_with_reference(n in 0usize..=200, m in 0usize..=200, seed: u64) {
        let m = m % (n + 1);
        let d = leaves(seed, MAX_LEAVES);
        let mut refs = RefRoots::new(&d);
        let (old, new) = (m as u64, n as u64);
        let (r1, r2) = (refs.at(old), refs.at(new));

        let proof = consistency_proof(&d, old, new).unwrap();
        prop_assert_eq!(&proof, &ref_proof(m, &d[..n]));
        prop_assert!(verify_consistency(old, new, &r1, &r2, &proof));

        for (j, p) in proof.iter().enumerate() {
            for byte in 0..32 {
                let mut bad = proof.clone();
                bad[j] = flipped(p, byte);
                prop_assert!(!verify_consistency(old, new, &r1, &r2, &bad));
            }
        }
        for byte in 0..32 {
            prop_assert!(!verify_consistency(old, new, &flipped(&r1, byte), &r2, &proof));
            // Every tree extends the empty one, whatever its root.
            let extends_empty = m == 0 && n > 0;
            prop_assert_eq!(
                verify_consistency(old, new, &r1, &flipped(&r2, byte), &proof),
                extends_empty
            );
        }
        if let Some((_, short)) = proof.split_last() {
            prop_assert!(!verify_consistency(old, new, &r1, &r2, short));
        }
        let long = [proof.clone(), vec![r2]].concat();
        prop_assert!(!verify_consistency(old, new, &r1, &r2, &long));
        let front = [vec![r1], proof.clone()].concat();
        prop_assert!(!verify_consistency(old, new, &r1, &r2, &front));

        // Other sizes, with their true roots: the proof verifies exactly when
        // it is the reference proof for those sizes.
        let mut olds = near(old);
        olds.push(new);
        for o in olds {
            for s in [new.saturating_sub(1), new, new + 1, new * 2, new / 2] {
                if (o, s) == (old, new) || o > s || s > MAX_LEAVES as u64 {
                    continue;
                }
                let want = ref_proof(o as usize, &d[..s as usize]) == proof;
                let got = verify_consistency(o, s, &refs.at(o), &refs.at(s), &proof);
                prop_assert_eq!(got, want, "sizes {} -> {}", o, s);
            }
        }
    }
}

#[test]
fn tree_agrees_with_reference_at_every_size_up_to_256() {
    let d = leaves(42, MAX_LEAVES);
    let mut tree = Tree::new();
    for (k, leaf) in d.iter().enumerate() {
        tree.push(*leaf);
        assert_eq!(tree.root(), ref_mth(&d[..=k]), "size {}", k + 1);
    }
}

// ---- Checkpoints ----

const GO_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n\
                       \n\
                       \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn go_note_keys_and_signature_match_byte_for_byte() {
    let skey = SignerKey::parse(GO_SKEY).unwrap();
    assert_eq!(skey.name(), "PeterNeumann");
    assert_eq!(skey.to_string(), GO_SKEY);
    assert_eq!(skey.verifier().to_string(), GO_VKEY);
    let vkey = VerifierKey::parse(GO_VKEY).unwrap();
    assert_eq!(vkey, skey.verifier());
    // Ed25519 is deterministic: the same key and text give the same note.
    assert_eq!(checkpoint::sign_text(&skey, GO_TEXT), GO_NOTE);
    assert_eq!(checkpoint::open_text(GO_NOTE, &vkey).unwrap(), GO_TEXT);
}

fn sample() -> Checkpoint {
    Checkpoint {
        origin: "vigil.example.org/audit".into(),
        size: 1_000_000,
        root: h(ROOTS[8]),
        time: Some("2024-09-01T10:00:00.123Z".into()),
    }
}

#[test]
fn body_format() {
    let mut c = sample();
    assert_eq!(
        c.body(),
        "vigil.example.org/audit\n1000000\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntime 2024-09-01T10:00:00.123Z\n"
    );
    assert_eq!(Checkpoint::parse_body(&c.body()).unwrap(), c);
    c.time = None;
    c.size = 0;
    c.root = empty_root();
    assert_eq!(
        c.body(),
        "vigil.example.org/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    );
    assert_eq!(Checkpoint::parse_body(&c.body()).unwrap(), c);
}

#[test]
fn sign_then_open() {
    let key = SignerKey::generate("vigil.example.org/audit").unwrap();
    let c = sample();
    let note = sign(&key, &c);
    assert!(note.starts_with(&format!("{}\n\u{2014} vigil.example.org/audit ", c.body())));
    assert_eq!(open(&note, &key.verifier()).unwrap(), c);

    let c = Checkpoint { time: None, ..c };
    assert_eq!(open(&sign(&key, &c), &key.verifier()).unwrap(), c);
}

#[test]
fn open_refuses_tampering() {
    let key = SignerKey::generate("vigil.example.org/audit").unwrap();
    let v = key.verifier();
    let note = sign(&key, &sample());

    // A changed body.
    let tampered = note.replacen("1000000", "1000001", 1);
    assert!(matches!(
        open(&tampered, &v),
        Err(CheckpointError::BadSignature(_))
    ));
    let tampered = note.replacen("10:00:00", "10:00:01", 1);
    assert!(matches!(
        open(&tampered, &v),
        Err(CheckpointError::BadSignature(_))
    ));

    // Reordered body lines.
    let lines: Vec<&str> = note.split('\n').collect();
    let mut swapped = lines.clone();
    swapped.swap(1, 2);
    assert!(open(&swapped.join("\n"), &v).is_err());
    let mut swapped = lines.clone();
    swapped.swap(0, 3);
    assert!(open(&swapped.join("\n"), &v).is_err());
    // The signature above the body.
    let sig = lines[5];
    let moved = format!("{sig}\n\n{}\n", lines[..4].join("\n"));
    assert!(open(&moved, &v).is_err());

    // A truncated signature, by one base64 quantum and by one character.
    let cut = note.trim_end();
    let short = format!("{}\n", &cut[..cut.len() - 4]);
    assert!(matches!(
        open(&short, &v),
        Err(CheckpointError::BadSignature(_))
    ));
    let short = format!("{}\n", &cut[..cut.len() - 1]);
    assert!(matches!(open(&short, &v), Err(CheckpointError::Note(_))));
    // No final newline.
    assert!(matches!(open(cut, &v), Err(CheckpointError::Note(_))));
    // A control character.
    assert!(matches!(
        open(&note.replacen("vigil", "vi\rgil", 1), &v),
        Err(CheckpointError::Note(_))
    ));
}

#[test]
fn open_needs_our_key() {
    let ours = SignerKey::generate("vigil.example.org/audit").unwrap();
    let same_name = SignerKey::generate("vigil.example.org/audit").unwrap();
    let other = SignerKey::generate("witness.example.net").unwrap();
    let c = sample();

    // Signed by a different key of the same name: not ours, so unsigned.
    let err = open(&sign(&same_name, &c), &ours.verifier()).unwrap_err();
    assert!(matches!(err, CheckpointError::Unsigned(_)), "{err}");
    assert!(err.to_string().contains("vigil.example.org/audit+"));
    let err = open(&sign(&other, &c), &ours.verifier()).unwrap_err();
    assert!(matches!(err, CheckpointError::Unsigned(_)), "{err}");

    // Cosigned: each verifier finds its own line and ignores the other.
    let note = sign(&ours, &c);
    let theirs = sign(&other, &c);
    let theirs_line = theirs.rsplit_once("\n\n").unwrap().1;
    let both = format!("{note}{theirs_line}");
    assert_eq!(open(&both, &ours.verifier()).unwrap(), c);
    assert_eq!(open(&both, &other.verifier()).unwrap(), c);

    // A bad signature by our key refuses the note, even beside a good one.
    let bad_line = {
        let line = note.rsplit_once("\n\n").unwrap().1.trim_end();
        let (prefix, b64) = line.rsplit_once(' ').unwrap();
        let mut blob = base64::Engine::decode(&base64::prelude::BASE64_STANDARD, b64).unwrap();
        blob[10] ^= 1;
        let b64 = base64::Engine::encode(&base64::prelude::BASE64_STANDARD, blob);
        format!("{prefix} {b64}\n")
    };
    let mixed = format!("{note}{bad_line}");
    assert!(matches!(
        open(&mixed, &ours.verifier()),
        Err(CheckpointError::BadSignature(_))
    ));
}

#[test]
fn body_errors_name_the_line() {
    let root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let cases = [
        ("\n0\nx\n", "checkpoint line 1 (origin)"),
        ("o\n", "checkpoint line 2 (tree size): missing"),
        ("o\n01\nx\n", "checkpoint line 2 (tree size)"),
        ("o\n-1\nx\n", "checkpoint line 2 (tree size)"),
        (
            "o\n18446744073709551616\nx\n",
            "checkpoint line 2 (tree size)",
        ),
        ("o\n1\n", "checkpoint line 3 (root hash): missing"),
        ("o\n1\nAAAA\n", "checkpoint line 3 (root hash)"),
        (&format!("o\n1\n{root}"), "checkpoint line 3 (end)"),
        (
            &format!("o\n1\n{root}\n\n"),
            "checkpoint line 4 (extension): empty",
        ),
        (
            &format!("o\n1\n{root}\nfoo\n"),
            "checkpoint line 4 (extension): unknown",
        ),
        (
            &format!("o\n1\n{root}\ntime yesterday\n"),
            "checkpoint line 4 (time)",
        ),
        (
            &format!("o\n1\n{root}\ntime 2024-09-01T10:00:00Z\ntime 2024-09-01T10:00:00Z\n"),
            "checkpoint line 5 (time): a second",
        ),
    ];
    for (text, want) in cases {
        let err = Checkpoint::parse_body(text).unwrap_err().to_string();
        assert!(err.starts_with(want), "{text:?}: {err}");
    }
    let c = Checkpoint::parse_body(&format!("o\n18446744073709551615\n{root}\n")).unwrap();
    assert_eq!(c.size, u64::MAX);
}

#[test]
fn key_strings() {
    let key = SignerKey::generate("vigil.example.org/audit").unwrap();
    let s = key.to_string();
    assert!(s.starts_with("PRIVATE+KEY+vigil.example.org/audit+"));
    let again = SignerKey::parse(&s).unwrap();
    assert_eq!(again.to_string(), s);
    assert_eq!(again.verifier(), key.verifier());
    let v = key.verifier().to_string();
    assert_eq!(VerifierKey::parse(&v).unwrap(), key.verifier());
    // The secret stays out of Debug. (PRIVATE+KEY+name+hash+base64: the
    // base64 may itself hold '+', so it is everything after the fourth.)
    let seed64 = s.splitn(5, '+').nth(4).unwrap();
    assert!(seed64.len() > 40, "{seed64}");
    assert!(!format!("{key:?}").contains(seed64));

    for name in ["", "a b", "a+b", "tab\tname", "nbsp\u{a0}name"] {
        assert!(SignerKey::generate(name).is_err(), "{name:?}");
    }
    let (name_id, key64) = GO_VKEY.rsplit_once('+').unwrap();
    let bad = [
        // Wrong key id.
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".to_owned(),
        // Another name, same id.
        "PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".to_owned(),
        // Short id, missing parts, not base64.
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".to_owned(),
        "PeterNeumann+c74f20a3".to_owned(),
        format!("{name_id}+{}", &key64[1..]),
        // Another algorithm byte.
        format!("{name_id}+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
    ];
    for s in &bad {
        assert!(VerifierKey::parse(s).is_err(), "{s}");
    }
    assert!(SignerKey::parse(GO_VKEY).is_err());
    assert!(SignerKey::parse(&GO_SKEY.replace("c74f20a3", "c74f20a4")).is_err());
}

#[test]
fn key_files() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.key");
    let key = SignerKey::generate("vigil.example.org/audit").unwrap();
    write_key_file(&path, &key).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(read_key_file(&path).unwrap().to_string(), key.to_string());

    // Never overwritten.
    let other = SignerKey::generate("vigil.example.org/audit").unwrap();
    let err = write_key_file(&path, &other).unwrap_err();
    assert!(matches!(err, CheckpointError::KeyFileExists(_)));
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(read_key_file(&path).unwrap().to_string(), key.to_string());

    // Readable by others: refused, naming the path and the mode.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = read_key_file(&path).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("0644"), "{err}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(read_key_file(&path).is_err());

    let missing = read_key_file(&dir.path().join("none")).unwrap_err();
    assert!(matches!(missing, CheckpointError::Io { .. }));
}
