//! `vigil backup` and `vigil restore`: the whole database as one archive of
//! JSON Lines, read in one consistent transaction and restored in one.
//!
//! An archive is a header line, one line per row (tables in the order of
//! [`db::BACKUP_TABLES`]) and a closing line with the row counts and the
//! SHA-256 of every byte before it. A restore stores nothing unless every
//! line is intact, every version's document still has its hash, and the
//! audit log's leaves and tree match its checkpoints.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Audit, Context};
use crate::audit::checkpoint::{self, VerifierKey};
use crate::audit::merkle::Tree;
use crate::audit::{self};
use crate::db::{self, Db, Peek, Record};
use crate::document;
use crate::error::{Error, Result};

const FORMAT: &str = "vigil-backup";
const FORMAT_VERSION: u32 = 1;
/// Rows stored per batch while restoring.
const BATCH: usize = 1000;

/// The first line of an archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// When the backup was taken (RFC 3339, UTC).
    #[serde(with = "crate::time::secs::serde")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The newest migration of the database it was taken from.
    pub schema: String,
    /// The backend it was taken from: `sqlite` or `postgres`.
    pub from: String,
    /// Whether password hashes and API tokens are included.
    pub secrets: bool,
    /// The public key that signed the checkpoints, when the backup knew it.
    pub audit_key: Option<String>,
}

/// The last line of an archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct End {
    /// Rows per table.
    rows: BTreeMap<String, i64>,
    /// SHA-256 (hex) of every byte before this line.
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndLine {
    end: End,
}

/// What a backup wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BackedUp {
    pub rows: BTreeMap<String, i64>,
    /// SHA-256 of the archive up to its closing line, as that line states.
    pub sha256: String,
    pub bytes: u64,
}

/// A writer that counts and hashes what passes through it.
struct Hashing<'a> {
    out: &'a mut dyn Write,
    hash: Sha256,
    bytes: u64,
}

impl Hashing<'_> {
    fn line(&mut self, text: &str) -> Result<()> {
        let io = |e: std::io::Error| Error::Io(format!("cannot write the archive: {e}"));
        self.out.write_all(text.as_bytes()).map_err(io)?;
        self.out.write_all(b"\n").map_err(io)?;
        self.hash.update(text.as_bytes());
        self.hash.update(b"\n");
        self.bytes += text.len() as u64 + 1;
        Ok(())
    }
}

fn to_line(v: &impl Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Io(format!("cannot encode a row: {e}")))
}

/// Writes the whole database to `out`. The backup is itself recorded in the
/// audit log first, so the archive holds the entry that says it was taken.
pub fn backup(
    db: &Db,
    ctx: &Context,
    with_secrets: bool,
    key: Option<&VerifierKey>,
    out: &mut dyn Write,
) -> Result<BackedUp> {
    db.write(|c| {
        Audit::new("backup.create", "database", "")
            .after(serde_json::json!({ "secrets": with_secrets }))
            .summary(if with_secrets {
                "took a backup, with password hashes and API tokens"
            } else {
                "took a backup, without secrets"
            })
            .write(c, ctx)
            .map(|_| ())
    })?;
    let header = Header {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        created_at: ctx.at(),
        schema: Db::schema_version(),
        from: match db.target() {
            db::Target::Sqlite(_) => "sqlite".into(),
            db::Target::Postgres(_) => "postgres".into(),
        },
        secrets: with_secrets,
        audit_key: key.map(|k| k.to_string()),
    };
    let mut w = Hashing {
        out,
        hash: Sha256::new(),
        bytes: 0,
    };
    let mut rows: BTreeMap<String, i64> = BTreeMap::new();
    db.read(|c| {
        w.line(&to_line(&header)?)?;
        db::dump(c, with_secrets, &mut |record| {
            *rows.entry(record.table().to_string()).or_default() += 1;
            w.line(&to_line(&record)?)
        })
    })?;
    let sha256 = hex::encode(w.hash.clone().finalize());
    w.line(&to_line(&EndLine {
        end: End {
            rows: rows.clone(),
            sha256: sha256.clone(),
        },
    })?)?;
    w.out
        .flush()
        .map_err(|e| Error::Io(format!("cannot write the archive: {e}")))?;
    Ok(BackedUp {
        rows,
        sha256,
        bytes: w.bytes,
    })
}

/// What a restore stored.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub header: Header,
    pub rows: BTreeMap<String, i64>,
    /// Every version restored: event, number, SHA-256.
    pub versions: Vec<(String, i64, String)>,
    pub audit_entries: i64,
    pub checkpoints: usize,
    /// Whether the checkpoints' signatures were checked (a key was known).
    pub signatures_checked: bool,
    /// Users restored without a password (the archive had no secrets).
    pub without_password: Vec<String>,
}

/// Checks the audit log as its rows stream past, before anything commits.
struct LogCheck<'a> {
    key: Option<&'a VerifierKey>,
    /// Checkpoints by tree size, with their stored roots.
    roots: BTreeMap<i64, [u8; 32]>,
    tree: Tree,
    text: String,
}

impl LogCheck<'_> {
    fn checkpoint(&mut self, row: &db::CheckpointRow) -> std::result::Result<(), String> {
        let mut root = [0u8; 32];
        hex::decode_to_slice(&row.root, &mut root)
            .map_err(|_| format!("checkpoint at size {}: its root is not hex", row.size))?;
        if let Some(key) = self.key {
            let signed = checkpoint::open(&row.note, key).map_err(|e| {
                format!(
                    "checkpoint at size {}: its signature does not verify: {e}",
                    row.size
                )
            })?;
            if signed.size as i64 != row.size || signed.root != root {
                return Err(format!(
                    "checkpoint at size {}: the stored size or root differs from the signed note",
                    row.size
                ));
            }
        }
        self.roots.insert(row.size, root);
        Ok(())
    }

    fn entry(&mut self, row: &db::EntryRow) -> std::result::Result<(), String> {
        let next = self.tree.size() as i64 + 1;
        if row.seq != next {
            return Err(format!(
                "audit entry {} where entry {next} was due: the log has a gap or is out of order",
                row.seq
            ));
        }
        audit::canonical_parts_into(&row.parts(), &mut self.text);
        let leaf = audit::leaf_hash(self.text.as_bytes());
        if hex::encode(leaf) != row.leaf {
            return Err(format!(
                "audit entry {}: its content does not match its leaf hash",
                row.seq
            ));
        }
        self.tree.push(leaf);
        let size = self.tree.size() as i64;
        if let Some(root) = self.roots.get(&size) {
            if self.tree.root() != *root {
                return Err(format!(
                    "audit entry {size}: the log's first {size} entries do not have the root of the checkpoint at that size"
                ));
            }
        }
        Ok(())
    }
}

/// Restores an archive into an empty, migrated database, in one
/// transaction: on any problem nothing is stored. `name` is the archive's
/// name in messages. The checkpoints' signatures are checked with `key`, or
/// else with the key the archive names. The restore is recorded in the
/// audit log, after the restored entries.
pub fn restore(
    db: &Db,
    ctx: &Context,
    name: &str,
    input: &mut dyn BufRead,
    key: Option<&VerifierKey>,
) -> Result<Restored> {
    let bad = |line: usize, msg: String| Error::BadRequest(format!("{name}, line {line}: {msg}"));
    let mut text = String::new();
    let mut hash = Sha256::new();
    let mut read = |text: &mut String, n: usize| -> Result<bool> {
        text.clear();
        let got = input
            .read_line(text)
            .map_err(|e| bad(n, format!("cannot read: {e}")))?;
        if got == 0 {
            return Ok(false);
        }
        if !text.ends_with('\n') {
            return Err(bad(
                n,
                "the line is cut short: the archive is incomplete".into(),
            ));
        }
        Ok(true)
    };

    if !read(&mut text, 1)? {
        return Err(bad(1, "the archive is empty".into()));
    }
    hash.update(text.as_bytes());
    let header: Header = serde_json::from_str(&text).map_err(|e| {
        bad(
            1,
            format!("not a vigil backup header ({e}); is this a vigil backup?"),
        )
    })?;
    if header.format != FORMAT || header.version != FORMAT_VERSION {
        return Err(bad(
            1,
            format!(
                "format {} version {}; this vigil reads {FORMAT} version {FORMAT_VERSION}",
                header.format, header.version
            ),
        ));
    }
    let schema = Db::schema_version();
    if header.schema != schema {
        return Err(bad(
            1,
            format!(
                "the archive is of database schema {}, this vigil's is {schema}; restore it with the vigil that made it",
                header.schema
            ),
        ));
    }
    let header_key = match &header.audit_key {
        Some(k) => Some(VerifierKey::parse(k).map_err(|e| bad(1, format!("audit_key: {e}")))?),
        None => None,
    };
    let key = key.or(header_key.as_ref());

    db.write(|c| {
        let held = db::nonempty_tables(c)?;
        if !held.is_empty() {
            return Err(Error::Conflict(format!(
                "a restore needs an empty database; this one holds {}",
                held.iter()
                    .map(|(t, n)| format!("{n} row(s) in {t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut check = LogCheck {
            key,
            roots: BTreeMap::new(),
            tree: Tree::new(),
            text: String::new(),
        };
        let mut rows: BTreeMap<String, i64> = BTreeMap::new();
        let mut versions = Vec::new();
        let mut without_password = Vec::new();
        let mut batch: Vec<Record> = Vec::new();
        let mut rank = 0usize;
        let mut n = 1usize;
        let end = loop {
            n += 1;
            if !read(&mut text, n)? {
                return Err(bad(
                    n,
                    "the archive ends without its closing line: it is incomplete".into(),
                ));
            }
            let record: Record = match serde_json::from_str(&text) {
                Ok(r) => r,
                Err(e) => match serde_json::from_str::<EndLine>(&text) {
                    Ok(end) => break end.end,
                    Err(_) => return Err(bad(n, format!("not a row of a known table: {e}"))),
                },
            };
            hash.update(text.as_bytes());
            if record.rank() < rank {
                return Err(bad(
                    n,
                    format!(
                        "a row of {} after rows of {}: the archive is out of order",
                        record.table(),
                        db::BACKUP_TABLES[rank]
                    ),
                ));
            }
            match record.peek() {
                Peek::Version(v) => match document::verified_hash(&v.document) {
                    Ok(Some(h)) if h == v.sha256 => {
                        versions.push((v.event.clone(), v.number, h));
                    }
                    _ => {
                        return Err(bad(
                            n,
                            format!(
                                "version {} of {}: the document does not have its SHA-256 {}",
                                v.number, v.event, v.sha256
                            ),
                        ))
                    }
                },
                Peek::Checkpoint(cp) => check.checkpoint(cp).map_err(|m| bad(n, m))?,
                Peek::Entry(e) => check.entry(e).map_err(|m| bad(n, m))?,
                Peek::User(u) if u.password_hash.is_empty() => {
                    without_password.push(u.name.clone());
                }
                Peek::User(_) | Peek::Other => {}
            }
            if record.rank() != rank || batch.len() >= BATCH {
                db::insert_records(c, std::mem::take(&mut batch))
                    .map_err(|e| bad(n, format!("cannot store the rows before this one: {e}")))?;
                rank = record.rank();
            }
            *rows.entry(record.table().to_string()).or_default() += 1;
            batch.push(record);
        };
        db::insert_records(c, batch)
            .map_err(|e| bad(n, format!("cannot store the last rows: {e}")))?;
        let digest = hex::encode(hash.clone().finalize());
        if end.sha256 != digest {
            return Err(bad(
                n,
                format!(
                    "the archive's SHA-256 is {digest}, its closing line says {}: it was changed or damaged",
                    end.sha256
                ),
            ));
        }
        if end.rows != rows {
            return Err(bad(
                n,
                format!(
                    "the closing line counts {:?} rows, the archive holds {rows:?}",
                    end.rows
                ),
            ));
        }
        if read(&mut text, n + 1)? {
            return Err(bad(n + 1, "a line after the closing line".into()));
        }
        let size = check.tree.size() as i64;
        if let Some((cp, _)) = check.roots.range(size + 1..).next() {
            return Err(bad(
                n,
                format!("the log has {size} entries but a checkpoint at size {cp}: entries are missing"),
            ));
        }
        db::reset_sequences(c)?;
        Audit::new("backup.restore", "database", "")
            .after(serde_json::json!({
                "archive_sha256": digest,
                "taken_at": crate::time::secs(header.created_at),
                "from": header.from,
                "secrets": header.secrets,
                "rows": rows,
            }))
            .summary(format!(
                "restored the backup taken at {}",
                crate::time::secs(header.created_at)
            ))
            .write(c, ctx)?;
        Ok(Restored {
            header: header.clone(),
            rows,
            versions,
            audit_entries: size,
            checkpoints: check.roots.len(),
            signatures_checked: key.is_some(),
            without_password,
        })
    })
}
