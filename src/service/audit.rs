//! The audit log's head: signed checkpoints, proofs, verification, export.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::accounts::{Permission, Principal};
use crate::audit::checkpoint::{self, Checkpoint, SignerKey, VerifierKey};
use crate::audit::merkle::{self, Hash, Tree};
use crate::audit::AuditFilter;
use crate::audit::{self, Entry};
/// A signed checkpoint as stored: the tree's size, root, time and note.
use crate::db::CheckpointRow;
use crate::db::{self, Db};
use crate::error::{Error, Result};

/// The default place of the signing key: beside the database, not in it.
pub const DEFAULT_KEY_FILE: &str = "vigil-audit.key";

fn key_error(e: checkpoint::CheckpointError) -> Error {
    Error::Io(e.to_string())
}

/// Writes a new signing key (mode 0600) named `name`; never overwrites.
pub fn keygen(path: &Path, name: &str) -> Result<VerifierKey> {
    let key = SignerKey::generate(name).map_err(key_error)?;
    checkpoint::write_key_file(path, &key).map_err(key_error)?;
    Ok(key.verifier())
}

/// Reads the signing key.
pub fn load_key(path: &Path) -> Result<SignerKey> {
    checkpoint::read_key_file(path).map_err(key_error)
}

/// Reads the signing key, making one named `name` first when the file does
/// not exist. True when it was made.
pub fn load_or_create_key(path: &Path, name: &str) -> Result<(SignerKey, bool)> {
    if path.exists() {
        return Ok((load_key(path)?, false));
    }
    keygen(path, name)?;
    Ok((load_key(path)?, true))
}

fn unhex(what: &str, s: &str) -> Result<Hash> {
    let v = hex::decode(s).map_err(|e| Error::Internal(format!("{what} '{s}' is not hex: {e}")))?;
    v.try_into()
        .map_err(|_| Error::Internal(format!("{what} '{s}' is not 32 bytes")))
}

fn gap(upto: i64, found: usize) -> Error {
    Error::Internal(format!(
        "the audit log is missing some of its first {upto} entries ({found} read); run `vigil audit verify`"
    ))
}

/// One node of the tree as stored: a leaf (level 0) from its entry, an
/// interior node from `audit_nodes`.
fn stored_node(c: &mut db::Conn, level: u32, idx: u64) -> Result<Option<Hash>> {
    if level == 0 {
        let seq = idx as i64 + 1;
        return db::audit_leaf_range(c, seq - 1, seq)?
            .first()
            .map(|(_, l)| unhex("stored leaf", l))
            .transpose();
    }
    db::audit_node(c, level as i32, idx as i64)?
        .map(|h| {
            <Hash>::try_from(h.as_slice())
                .map_err(|_| Error::Internal(format!("tree node {level}/{idx} is not 32 bytes")))
        })
        .transpose()
}

/// The tree of the first `size` entries, as stored: the interior nodes
/// that `audit_nodes` holds, and the leaves beyond them (written since the
/// last checkpoint) read once and hashed in memory.
struct Nodes<'c> {
    c: &'c mut db::Conn,
    /// Leaves covered by stored interior nodes.
    covered: u64,
    /// The leaves from `covered` to the size asked for.
    tail: Vec<Hash>,
}

impl<'c> Nodes<'c> {
    fn open(c: &'c mut db::Conn, size: i64) -> Result<Self> {
        let covered = (db::audit_tree_covered(c)?.min(size)).max(0);
        let rows = db::audit_leaf_range(c, covered, size)?;
        if rows.len() as i64 != size - covered {
            return Err(gap(size, covered as usize + rows.len()));
        }
        let tail = rows
            .iter()
            .map(|(_, l)| unhex("stored leaf", l))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            c,
            covered: covered as u64,
            tail,
        })
    }

    /// The root of the 2^level leaves from idx * 2^level.
    fn node(&mut self, level: u32, idx: u64) -> Result<Hash> {
        let lo = idx << level;
        let hi = lo + (1u64 << level);
        if level == 0 && lo >= self.covered {
            return self
                .tail
                .get((lo - self.covered) as usize)
                .copied()
                .ok_or_else(|| gap(hi as i64, self.covered as usize + self.tail.len()));
        }
        if hi <= self.covered || level == 0 {
            if let Some(h) = stored_node(self.c, level, idx)? {
                return Ok(h);
            }
            if level == 0 {
                return Err(gap(hi as i64, 0));
            }
        }
        // Beyond the stored nodes (or one missing): from its children.
        let left = self.node(level - 1, 2 * idx)?;
        let right = self.node(level - 1, 2 * idx + 1)?;
        Ok(audit::node_hash(&left, &right))
    }

    /// MTH of the leaves `lo..hi`.
    fn root(&mut self, lo: u64, hi: u64) -> Result<Hash> {
        merkle::range_root(lo, hi, &mut |l, i| self.node(l, i))
    }
}

/// Leaves hashed per pass while extending the stored tree.
const SEGMENT: u64 = 1 << 16;

/// Stores the interior nodes of the tree of the first `upto` entries that
/// are not stored yet: every complete subtree of two leaves or more. Costs
/// one hash per new node, and a few reads at the edge of what was stored;
/// on a log that has none yet (after the migration that made the table),
/// it fills in the whole tree. Call it inside [`Db::write`].
pub(crate) fn extend_tree(c: &mut db::Conn, upto: i64) -> Result<u64> {
    let end = upto.max(0) as u64;
    let mut a = db::audit_tree_covered(c)?.max(0) as u64;
    let mut made = 0u64;
    while (end >> 1) > (a >> 1) {
        let b = end.min((a / SEGMENT + 1) * SEGMENT);
        let rows = db::audit_leaf_range(c, a as i64, b as i64)?;
        if rows.len() as u64 != b - a || rows.first().is_some_and(|r| r.0 != a as i64 + 1) {
            return Err(gap(b as i64, a as usize + rows.len()));
        }
        let mut prev = rows
            .iter()
            .map(|(_, l)| unhex("stored leaf", l))
            .collect::<Result<Vec<_>>>()?;
        drop(rows);
        let mut prev_start = a;
        let mut level = 1u32;
        let mut out = Vec::new();
        loop {
            let (lo, hi) = (a >> level, b >> level);
            if hi <= lo {
                break;
            }
            let mut cur = Vec::with_capacity((hi - lo) as usize);
            for i in lo..hi {
                let mut child = |j: u64| -> Result<Hash> {
                    if j >= prev_start {
                        prev.get((j - prev_start) as usize)
                            .copied()
                            .ok_or_else(|| gap(b as i64, 0))
                    } else {
                        stored_node(c, level - 1, j)?.ok_or_else(|| gap(b as i64, 0))
                    }
                };
                let left = child(2 * i)?;
                let right = child(2 * i + 1)?;
                cur.push(audit::node_hash(&left, &right));
            }
            out.extend(cur.iter().enumerate().map(|(k, h)| db::NodeRow {
                level: level as i32,
                idx: (lo + k as u64) as i64,
                hash: h.to_vec(),
            }));
            prev = cur;
            prev_start = lo;
            level += 1;
        }
        made += out.len() as u64;
        db::insert_audit_nodes(c, &out)?;
        a = b;
    }
    Ok(made)
}

/// Fills in the stored tree of an existing log (after the migration that
/// made it, or a restore): what a server does at start. Returns the nodes
/// stored.
pub fn complete_tree(db: &Db) -> Result<u64> {
    db.write(|c| {
        let size = db::audit_size(c)?;
        extend_tree(c, size)
    })
}

/// MTH of the first `size` entries, from the stored tree: O(log n) reads
/// plus the leaves written since the nodes were last extended.
fn tree_root(c: &mut db::Conn, size: i64) -> Result<Hash> {
    Nodes::open(c, size)?.root(0, size as u64)
}

/// A signed checkpoint of the log: its size, its root, when it was signed
/// and the signed note (C2SP tlog-checkpoint) that carries all three.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedCheckpoint {
    pub size: i64,
    /// The tree's root hash, hex.
    pub root: String,
    #[serde(with = "crate::time::secs::serde")]
    pub at: DateTime<Utc>,
    pub note: String,
}

impl TryFrom<CheckpointRow> for SignedCheckpoint {
    type Error = Error;
    fn try_from(row: CheckpointRow) -> Result<Self> {
        let at = crate::time::stored(&format!("checkpoint of size {}: at", row.size), &row.at)?;
        Ok(Self {
            size: row.size,
            root: row.root,
            at,
            note: row.note,
        })
    }
}

/// Signs a checkpoint of the log as it stands, when it has grown since the
/// last one. Serialised with every writer, so checkpoints never fork.
pub fn checkpoint(
    db: &Db,
    key: &SignerKey,
    now: DateTime<Utc>,
) -> Result<Option<SignedCheckpoint>> {
    db.write(|c| {
        let size = db::audit_size(c)?;
        let last = db::latest_checkpoint(c)?.map_or(0, |r| r.size);
        if size == 0 || size <= last {
            return Ok(None);
        }
        // The new entries' nodes first: then the root is O(log n) reads.
        extend_tree(c, size)?;
        let root = tree_root(c, size)?;
        let at = crate::time::secs(now);
        let note = checkpoint::sign(
            key,
            &Checkpoint {
                origin: key.name().to_string(),
                size: size as u64,
                root,
                time: Some(at.clone()),
            },
        );
        let row = CheckpointRow {
            size,
            root: hex::encode(root),
            at,
            note,
        };
        db::insert_checkpoint(c, &row)?;
        Ok(Some(row.try_into()?))
    })
}

/// Whether entries arrived since the last checkpoint and it is older than
/// `every` (or there is none).
pub fn checkpoint_due(db: &Db, now: DateTime<Utc>, every: chrono::Duration) -> Result<bool> {
    db.read(|c| {
        let size = db::audit_size(c)?;
        Ok(match db::latest_checkpoint(c)? {
            None => size > 0,
            Some(cp) => {
                size > cp.size && crate::time::parse(&cp.at).map_or(true, |t| now - t >= every)
            }
        })
    })
}

/// The log's head: how many entries it holds, and its latest signed
/// checkpoint if any (public: both are in every checkpoint anyway).
pub fn head(db: &Db) -> Result<(i64, Option<SignedCheckpoint>)> {
    let (size, latest) = db.read(|c| Ok((db::audit_size(c)?, db::latest_checkpoint(c)?)))?;
    Ok((size, latest.map(SignedCheckpoint::try_from).transpose()?))
}

/// The latest signed checkpoint.
pub fn latest_checkpoint(db: &Db) -> Result<SignedCheckpoint> {
    db.read(db::latest_checkpoint)?
        .ok_or_else(|| Error::NotFound("no checkpoint has been signed yet".into()))?
        .try_into()
}

/// An inclusion proof: entry `seq` is leaf `seq - 1` of the tree of `size`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    pub seq: i64,
    pub size: i64,
    /// The entry's leaf hash, hex.
    pub leaf: String,
    /// The audit path, hex, from the leaf up (RFC 9162 §2.1.3).
    pub proof: Vec<String>,
    /// The tree head at `size`, hex; a signed checkpoint has it when `size`
    /// is a checkpoint's size.
    pub root: String,
}

/// A consistency proof between two tree sizes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub from: i64,
    pub to: i64,
    /// RFC 9162 §2.1.4, hex.
    pub proof: Vec<String>,
    pub from_root: String,
    pub to_root: String,
}

fn size_or_latest(c: &mut db::Conn, size: Option<i64>) -> Result<i64> {
    let total = db::audit_size(c)?;
    let size = match size {
        Some(s) => s,
        None => db::latest_checkpoint(c)?.map_or(total, |cp| cp.size),
    };
    if size < 1 || size > total {
        return Err(Error::NotFound(format!(
            "the log has no tree of size {size}; it has {total} entries"
        )));
    }
    Ok(size)
}

/// Proves that entry `seq` is in the tree of `size` (the latest checkpoint's
/// when not given).
pub fn inclusion(db: &Db, seq: i64, size: Option<i64>) -> Result<InclusionProof> {
    db.read(|c| {
        let size = size_or_latest(c, size)?;
        if seq < 1 || seq > size {
            return Err(Error::NotFound(format!(
                "entry {seq} is not in the tree of size {size}"
            )));
        }
        let mut nodes = Nodes::open(c, size)?;
        let index = (seq - 1) as u64;
        let leaf = nodes.node(0, index)?;
        let proof = merkle::inclusion_path(index, size as u64, |lo, hi| nodes.root(lo, hi))?;
        // The root follows from the leaf and its path: no more reads.
        let root = merkle::inclusion_root(&leaf, index, size as u64, &proof).ok_or_else(|| {
            Error::Internal(format!(
                "the inclusion path of entry {seq} in {size} does not lead to a root"
            ))
        })?;
        Ok(InclusionProof {
            seq,
            size,
            leaf: hex::encode(leaf),
            proof: proof.iter().map(hex::encode).collect(),
            root: hex::encode(root),
        })
    })
}

/// Proves that the tree of size `to` extends the tree of size `from`.
pub fn consistency(db: &Db, from: i64, to: Option<i64>) -> Result<ConsistencyProof> {
    db.read(|c| {
        let to = size_or_latest(c, to)?;
        if from < 1 || from > to {
            return Err(Error::BadRequest(format!(
                "from must be between 1 and {to}, not {from}"
            )));
        }
        let mut nodes = Nodes::open(c, to)?;
        let (from_size, to_size) = (from as u64, to as u64);
        let proof = merkle::consistency_path(from_size, to_size, |lo, hi| nodes.root(lo, hi))?;
        // Both roots follow from the proof, as a client computes them to
        // check it: beyond the proof's own nodes, only the old root of a
        // complete subtree (one stored node) is read.
        let complete = if from_size.is_power_of_two() || from == to {
            nodes.root(0, from_size)?
        } else {
            merkle::empty_root()
        };
        let (from_root, to_root) = if from == to {
            (complete, complete)
        } else {
            merkle::consistency_roots(from_size, to_size, &complete, &proof).ok_or_else(|| {
                Error::Internal(format!(
                    "the consistency proof from {from} to {to} does not lead to two roots"
                ))
            })?
        };
        Ok(ConsistencyProof {
            from,
            to,
            proof: proof.iter().map(hex::encode).collect(),
            from_root: hex::encode(from_root),
            to_root: hex::encode(to_root),
        })
    })
}

/// Entries matching a filter, in order.
/// Entries that match `filter` (auditors and admins).
pub fn entries(db: &Db, who: &Principal, filter: &AuditFilter) -> Result<Vec<Entry>> {
    who.require(Permission::ReadAudit)?;
    Ok(db
        .read(|c| db::audit_entries(c, filter))?
        .into_iter()
        .map(|(e, _)| e)
        .collect())
}

/// How many entries match a filter (its limit aside).
pub fn count(db: &Db, filter: &AuditFilter) -> Result<i64> {
    db.read(|c| db::audit_count(c, filter))
}

/// The actors, actions and entities the log holds: what its filters offer.
pub fn values(db: &Db) -> Result<[Vec<String>; 3]> {
    db.read(db::audit_values)
}

/// What became of a changeset, for an entity's history: its state, and
/// the version that published it when it was approved.
pub fn fate(db: &Db, changeset: i64) -> Result<(crate::model::changeset::State, Option<i64>)> {
    db.read(|c| {
        let Some(row) = db::changeset(c, changeset)? else {
            return Err(crate::error::Error::NotFound(format!(
                "no changeset {changeset}"
            )));
        };
        let state = row.state.parse().map_err(|e| {
            crate::error::Error::Internal(format!("changeset {changeset}: stored state: {e}"))
        })?;
        let version = db::versions_of(c, &row.event)?
            .into_iter()
            .find(|v| v.changeset_id == Some(changeset))
            .map(|v| v.number);
        Ok((state, version))
    })
}

/// What `vigil audit verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Entries read.
    pub entries: i64,
    /// Stored checkpoints whose signature and root were checked.
    pub checkpoints: usize,
    /// The latest checkpoint's size, if any.
    pub latest_checkpoint: Option<i64>,
    /// The tree head of the entries read, hex.
    pub root: String,
    /// Everything that does not hold, the first first; empty when all holds.
    pub problems: Vec<String>,
}

impl Verification {
    pub fn holds(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Entries read per query while verifying.
const BATCH: i64 = 20_000;
/// Threads reading the log while verifying.
const READERS: usize = 2;

/// Recomputes every leaf from the stored entry and the tree at every stored
/// checkpoint; checks each checkpoint's signature with `verifier` and its
/// root; with `saved` (a signed checkpoint kept by someone), proves the log
/// as it is extends it. Names the first entry or checkpoint that does not
/// match and what differs.
pub fn verify(
    db: &Db,
    who: &Principal,
    verifier: &VerifierKey,
    saved: Option<&str>,
) -> Result<Verification> {
    who.require(Permission::ReadAudit)?;
    let mut problems = Vec::new();
    let checkpoints = db.read(db::checkpoints)?;
    let saved = match saved {
        Some(note) => Some(checkpoint::open(note, verifier).map_err(|e| {
            Error::BadRequest(format!("the saved checkpoint does not verify: {e}"))
        })?),
        None => None,
    };
    // The roots to compare, by tree size.
    let mut wanted: Vec<(i64, Hash, String)> = Vec::new();
    for cp in &checkpoints {
        match checkpoint::open(&cp.note, verifier) {
            Err(e) => problems.push(format!(
                "checkpoint at size {}: its signature does not verify: {e}",
                cp.size
            )),
            Ok(signed) => {
                if signed.size as i64 != cp.size || hex::encode(signed.root) != cp.root {
                    problems.push(format!(
                        "checkpoint at size {}: the stored size or root differs from the signed note",
                        cp.size
                    ));
                }
                wanted.push((
                    signed.size as i64,
                    signed.root,
                    format!("checkpoint at size {}", cp.size),
                ));
            }
        }
    }
    if let Some(s) = &saved {
        wanted.push((
            s.size as i64,
            s.root,
            format!("the saved checkpoint (size {})", s.size),
        ));
    }
    wanted.sort_by_key(|w| w.0);
    let mut tree = Tree::new();
    let mut next = 1i64;
    let mut at = 0usize;
    let mut last_good_checkpoint = 0i64;
    let mut text = String::new();
    let mut stored = [0u8; 32];
    // Reading rows is most of the work: two threads read alternate batches
    // (by sequence number, so gaps show) while this one hashes in order.
    let (last_seq, misnumbered) =
        db.read(|c| Ok((db::audit_size(c)?, db::audit_misnumbered(c)?)))?;
    if misnumbered > 0 {
        problems.push(format!(
            "{misnumbered} entr{} with a sequence number below 1: inserted outside the log",
            if misnumbered == 1 { "y" } else { "ies" }
        ));
    }
    let batches = (last_seq + BATCH - 1) / BATCH;
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..READERS)
        .map(|_| std::sync::mpsc::sync_channel::<Result<Vec<db::EntryRow>>>(2))
        .unzip();
    std::thread::scope(|scope| -> Result<()> {
        for (i, tx) in txs.into_iter().enumerate() {
            scope.spawn(move || {
                let mut j = i as i64;
                while j < batches {
                    let batch = db.read(|c| db::audit_range(c, j * BATCH, (j + 1) * BATCH));
                    let failed = batch.is_err();
                    if tx.send(batch).is_err() || failed {
                        break;
                    }
                    j += READERS as i64;
                }
            });
        }
        let rx = (0..batches).map(|j| {
            rxs[(j as usize) % READERS]
                .recv()
                .map_err(|_| Error::Internal("a reader of the log stopped".into()))
                .and_then(|b| b)
        });
        for batch in rx {
            for row in batch? {
                if row.seq != next {
                    problems.push(format!(
                        "entries {next} to {} are missing: entry {} is followed by entry {}",
                        row.seq - 1,
                        next - 1,
                        row.seq
                    ));
                    // Go on with the entries that are there.
                    next = row.seq;
                }
                audit::canonical_parts_into(&row.parts(), &mut text);
                let leaf = audit::leaf_hash(text.as_bytes());
                let same = hex::decode_to_slice(&row.leaf, &mut stored).is_ok() && stored == leaf;
                if !same {
                    problems.push(format!(
                        "entry {}: its content does not match its stored leaf hash (action {}, actor {}, at {}); it was changed after it was written",
                        row.seq, row.action, row.actor, row.at
                    ));
                }
                tree.push(leaf);
                next += 1;
                while at < wanted.len() && wanted[at].0 == tree.size() as i64 {
                    let (size, root, what) = &wanted[at];
                    if tree.root() == *root {
                        last_good_checkpoint = *size;
                    } else {
                        problems.push(format!(
                            "{what}: the log's first {size} entries no longer have the signed root; \
                             an entry between {} and {size} was changed, removed or inserted",
                            last_good_checkpoint + 1
                        ));
                    }
                    at += 1;
                }
            }
        }
        Ok(())
    })?;
    for (size, _, what) in &wanted[at..] {
        problems.push(format!(
            "{what}: the log has only {} entries; entries {} to {size} are gone",
            tree.size(),
            tree.size() + 1
        ));
    }
    Ok(Verification {
        entries: tree.size() as i64,
        checkpoints: checkpoints.len(),
        latest_checkpoint: checkpoints.last().map(|c| c.size),
        root: hex::encode(tree.root()),
        problems,
    })
}

/// A verification the panel ran and recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// The tree size verified up to.
    pub size: i64,
    /// Its root, hex.
    pub root: String,
    /// When, RFC 3339 UTC with milliseconds.
    #[serde(with = "crate::time::millis::serde")]
    pub verified_at: DateTime<Utc>,
    /// Every entry read; else those after the previous verification.
    pub full: bool,
    /// Entries read this time.
    pub entries_read: i64,
    /// Signed checkpoints checked this time.
    pub checkpoints_checked: usize,
    pub problems: Vec<String>,
}

impl Verified {
    pub fn holds(&self) -> bool {
        self.problems.is_empty()
    }

    fn of(row: db::VerificationRow) -> Result<Self> {
        Ok(Self {
            verified_at: crate::time::stored(
                &format!("verification {}: verified_at", row.id),
                &row.verified_at,
            )?,
            size: row.size,
            root: row.root,
            full: row.full_check,
            entries_read: 0,
            checkpoints_checked: 0,
            problems: serde_json::from_str(&row.problems).unwrap_or_else(|_| {
                vec!["the recorded verification's problems do not parse".into()]
            }),
        })
    }
}

fn record(db: &Db, v: &Verified) -> Result<()> {
    let row = db::VerificationRow {
        id: 0,
        size: v.size,
        root: v.root.clone(),
        verified_at: crate::time::millis(v.verified_at),
        full_check: v.full,
        problems: serde_json::to_string(&v.problems)?,
    };
    db.write(|c| db::insert_verification(c, &row))
}

/// The latest verification recorded, if any.
pub fn last_verification(db: &Db) -> Result<Option<Verified>> {
    db.read(|c| db::latest_verification(c, false))?
        .map(Verified::of)
        .transpose()
}

/// Verifies everything now, as `vigil audit verify` does (every entry
/// recomputed, every checkpoint), and records it.
pub fn verify_everything(
    db: &Db,
    who: &Principal,
    verifier: &VerifierKey,
    now: DateTime<Utc>,
) -> Result<Verified> {
    let v = verify(db, who, verifier, None)?;
    let done = Verified {
        size: v.entries,
        root: v.root,
        verified_at: crate::time::to_millis(now),
        full: true,
        entries_read: v.entries,
        checkpoints_checked: v.checkpoints,
        problems: v.problems,
    };
    record(db, &done)?;
    Ok(done)
}

/// Verifies what is new since the last verification that held: the
/// entries after it (each leaf recomputed from its entry, the tree grown
/// from the verified one) and the checkpoints signed since; records the
/// result. Entries the last verification covered are not read again:
/// [`verify_everything`] does that. Without a verification that held, it
/// verifies everything.
pub fn verify_new(
    db: &Db,
    who: &Principal,
    verifier: &VerifierKey,
    now: DateTime<Utc>,
) -> Result<Verified> {
    who.require(Permission::ReadAudit)?;
    let Some(prev) = db.read(|c| db::latest_verification(c, true))? else {
        return verify_everything(db, who, verifier, now);
    };
    let total = db.read(db::audit_size)?;
    if total == prev.size {
        // Nothing new: the latest verification stands (one that found
        // problems, too, when everything was verified since).
        return db
            .read(|c| db::latest_verification(c, false))?
            .map_or_else(|| Verified::of(prev), Verified::of);
    }
    let mut problems = Vec::new();
    // The verified tree, from the stored nodes of its compact range: they
    // must give the root the last verification computed from the entries.
    let stack = db.read(|c| {
        let mut nodes = Nodes::open(c, prev.size)?;
        merkle::compact_range(prev.size as u64)
            .into_iter()
            .map(|(l, i)| nodes.node(l, i))
            .collect::<Result<Vec<_>>>()
    })?;
    let mut tree = Tree::from_compact(prev.size as u64, stack)
        .ok_or_else(|| Error::Internal("the stored tree's compact range is incomplete".into()))?;
    if hex::encode(tree.root()) != prev.root {
        problems.push(format!(
            "the stored tree of the first {} entries no longer has the root verified at {}; verify everything",
            prev.size, prev.verified_at
        ));
    }
    // The checkpoints signed since.
    let mut wanted: Vec<(i64, Hash)> = Vec::new();
    let checkpoints: Vec<CheckpointRow> = db
        .read(db::checkpoints)?
        .into_iter()
        .filter(|cp| cp.size > prev.size)
        .collect();
    for cp in &checkpoints {
        match checkpoint::open(&cp.note, verifier) {
            Err(e) => problems.push(format!(
                "checkpoint at size {}: its signature does not verify: {e}",
                cp.size
            )),
            Ok(signed) => {
                if signed.size as i64 != cp.size || hex::encode(signed.root) != cp.root {
                    problems.push(format!(
                        "checkpoint at size {}: the stored size or root differs from the signed note",
                        cp.size
                    ));
                }
                wanted.push((signed.size as i64, signed.root));
            }
        }
    }
    wanted.sort_by_key(|w| w.0);
    let mut at = 0usize;
    let mut next = prev.size + 1;
    let mut text = String::new();
    let mut stored = [0u8; 32];
    let mut read = 0i64;
    while next <= total {
        let rows = db.read(|c| db::audit_range(c, next - 1, (next - 1 + BATCH).min(total)))?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            if row.seq != next {
                problems.push(format!(
                    "entries {next} to {} are missing: entry {} is followed by entry {}",
                    row.seq - 1,
                    next - 1,
                    row.seq
                ));
                next = row.seq;
            }
            audit::canonical_parts_into(&row.parts(), &mut text);
            let leaf = audit::leaf_hash(text.as_bytes());
            if !(hex::decode_to_slice(&row.leaf, &mut stored).is_ok() && stored == leaf) {
                problems.push(format!(
                    "entry {}: its content does not match its stored leaf hash (action {}, actor {}, at {}); it was changed after it was written",
                    row.seq, row.action, row.actor, row.at
                ));
            }
            tree.push(leaf);
            read += 1;
            next += 1;
            while at < wanted.len() && wanted[at].0 == tree.size() as i64 {
                if tree.root() != wanted[at].1 {
                    problems.push(format!(
                        "checkpoint at size {}: the log's first {} entries no longer have the signed root",
                        wanted[at].0, wanted[at].0
                    ));
                }
                at += 1;
            }
        }
    }
    for (size, _) in &wanted[at..] {
        problems.push(format!(
            "checkpoint at size {size}: the log has only {} entries",
            tree.size()
        ));
    }
    let done = Verified {
        size: tree.size() as i64,
        root: hex::encode(tree.root()),
        verified_at: crate::time::to_millis(now),
        full: false,
        entries_read: read,
        checkpoints_checked: checkpoints.len(),
        problems,
    };
    record(db, &done)?;
    Ok(done)
}

/// Writes the whole log as JSON Lines (one canonical entry per line) or CSV.
pub fn export(
    db: &Db,
    who: &Principal,
    csv_format: bool,
    out: &mut dyn std::io::Write,
) -> Result<i64> {
    export_where(db, who, csv_format, &AuditFilter::default(), out)
}

/// Writes the entries that match `filter` (its paging, order and limit
/// aside), in sequence order, as JSON Lines or CSV: a download of what a
/// filtered view of the log shows.
pub fn export_where(
    db: &Db,
    who: &Principal,
    csv_format: bool,
    filter: &AuditFilter,
    out: &mut dyn std::io::Write,
) -> Result<i64> {
    who.require(Permission::ReadAudit)?;
    let io = |e: std::io::Error| Error::Io(format!("cannot write the export: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    if csv_format {
        w.write_record([
            "seq",
            "at",
            "actor",
            "action",
            "entity",
            "entity_id",
            "before",
            "after",
            "reason",
            "summary",
            "request_id",
            "client",
            "leaf",
        ])
        .map_err(|e| Error::Io(e.to_string()))?;
    }
    let mut next = 0i64;
    let mut n = 0;
    loop {
        let batch = AuditFilter {
            after_seq: Some(next),
            before_seq: None,
            newest_first: false,
            limit: BATCH,
            ..filter.clone()
        };
        let rows = db.read(|c| db::audit_rows_where(c, &batch))?;
        let Some(last) = rows.last() else { break };
        next = last.seq;
        for row in rows {
            n += 1;
            if csv_format {
                let seq = row.seq.to_string();
                let o = |v: &Option<String>| v.clone().unwrap_or_default();
                // The CSV is for spreadsheets: a cell that would run as a
                // formula (an anonymous log-in named `=HYPERLINK(…)`) is
                // prefixed with a quote (OWASP); the JSON Lines export keeps
                // every entry exact.
                let cells = [
                    seq,
                    row.at.clone(),
                    row.actor.clone(),
                    row.action.clone(),
                    row.entity.clone(),
                    row.entity_id.clone(),
                    o(&row.before),
                    o(&row.after),
                    o(&row.reason),
                    o(&row.summary),
                    o(&row.request_id),
                    o(&row.client),
                    row.leaf.clone(),
                ];
                w.write_record(
                    cells
                        .iter()
                        .map(|c| crate::text::neutralise(c).into_owned()),
                )
                .map_err(|e| Error::Io(e.to_string()))?;
            } else {
                out.write_all(audit::canonical_parts(&row.parts()).as_bytes())
                    .map_err(io)?;
                out.write_all(b"\n").map_err(io)?;
            }
        }
        if csv_format {
            let buf = w.into_inner().map_err(|e| Error::Io(e.to_string()))?;
            out.write_all(&buf).map_err(io)?;
            w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
        }
    }
    Ok(n)
}
