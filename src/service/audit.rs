//! The audit log's head: signed checkpoints, proofs, verification, export.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::audit::checkpoint::{self, Checkpoint, SignerKey, VerifierKey};
use crate::audit::merkle::{self, Hash, Tree};
use crate::audit::{self, Entry};
use crate::db::{self, AuditFilter, CheckpointRow, Db};
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

/// The stored leaf hashes of entries 1 to `upto`; refused when some are
/// missing (a log with gaps has no tree to prove anything in).
fn leaves(c: &mut db::Conn, upto: i64) -> Result<Vec<Hash>> {
    let all = db::audit_leaves(c, upto)?
        .iter()
        .map(|l| unhex("stored leaf", l))
        .collect::<Result<Vec<_>>>()?;
    if all.len() as i64 != upto.max(0) {
        return Err(Error::Internal(format!(
            "the audit log has {} of its first {upto} entries; run `vigil audit verify`",
            all.len()
        )));
    }
    Ok(all)
}

/// Signs a checkpoint of the log as it stands, when it has grown since the
/// last one. Serialised with every writer, so checkpoints never fork.
pub fn checkpoint(db: &Db, key: &SignerKey, now: DateTime<Utc>) -> Result<Option<CheckpointRow>> {
    db.write(|c| {
        let size = db::audit_size(c)?;
        let last = db::latest_checkpoint(c)?.map_or(0, |r| r.size);
        if size == 0 || size <= last {
            return Ok(None);
        }
        let root = merkle::root(&leaves(c, size)?);
        let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
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
        Ok(Some(row))
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
                size > cp.size
                    && DateTime::parse_from_rfc3339(&cp.at)
                        .map_or(true, |t| now - t.with_timezone(&Utc) >= every)
            }
        })
    })
}

/// The latest signed checkpoint.
pub fn latest_checkpoint(db: &Db) -> Result<CheckpointRow> {
    db.read(db::latest_checkpoint)?
        .ok_or_else(|| Error::NotFound("no checkpoint has been signed yet".into()))
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
        let all = leaves(c, size)?;
        let proof = merkle::inclusion_proof(&all, (seq - 1) as u64, size as u64)
            .map_err(|e| Error::BadRequest(e.to_string()))?;
        Ok(InclusionProof {
            seq,
            size,
            leaf: all
                .get((seq - 1) as usize)
                .map(hex::encode)
                .unwrap_or_default(),
            proof: proof.iter().map(hex::encode).collect(),
            root: hex::encode(merkle::root(&all)),
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
        let all = leaves(c, to)?;
        let proof = merkle::consistency_proof(&all, from as u64, to as u64)
            .map_err(|e| Error::BadRequest(e.to_string()))?;
        Ok(ConsistencyProof {
            from,
            to,
            proof: proof.iter().map(hex::encode).collect(),
            from_root: hex::encode(merkle::root(all.get(..from as usize).unwrap_or(&[]))),
            to_root: hex::encode(merkle::root(&all)),
        })
    })
}

/// Entries matching a filter, in order.
pub fn entries(db: &Db, filter: &AuditFilter) -> Result<Vec<Entry>> {
    Ok(db
        .read(|c| db::audit_entries(c, filter))?
        .into_iter()
        .map(|(e, _)| e)
        .collect())
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
pub fn verify(db: &Db, verifier: &VerifierKey, saved: Option<&str>) -> Result<Verification> {
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
        problems,
    })
}

/// Writes the whole log as JSON Lines (one canonical entry per line) or CSV.
pub fn export(db: &Db, csv_format: bool, out: &mut dyn std::io::Write) -> Result<i64> {
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
        let rows = db.read(|c| db::audit_rows(c, next, BATCH))?;
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
