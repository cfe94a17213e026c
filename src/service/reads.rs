//! The read model: published versions held in memory, ready to send (the
//! JSON document, the memorial page and the figures CSV, each plain, gzip
//! and brotli), and what follows every publish once its transaction has
//! committed ([`Publisher`]): the new version swapped into memory and a
//! checkpoint of the audit log signed.
//!
//! The service builds and holds the snapshots; HTTP only chooses an
//! encoding and sends the bytes. The memorial page is rendered by a
//! function the caller gives ([`RenderPage`]), so this module knows no
//! templates.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::accounts::Principal;
use crate::audit::checkpoint::SignerKey;
use crate::checks::Report;
use crate::db::{Db, VersionInfo, VersionRow};
use crate::document;
use crate::error::{Error, Result};
use crate::files::{self, Folder};
use crate::model::{Dataset, Table};

use super::changesets::Approved;
use super::{Context, Imported};

/// Renders the memorial page of a version: the dataset, its number, its
/// publication time, its hash and its check results, as HTML.
pub type RenderPage = fn(&Dataset, i64, &str, &str, &Report) -> Result<String>;

/// A body in the encodings a client may accept.
#[derive(Debug)]
pub struct Encoded {
    pub identity: Bytes,
    pub gzip: Bytes,
    pub brotli: Bytes,
}

impl Encoded {
    /// Compresses once per version: at brotli's highest level for bodies of
    /// the size of a memorial's document, lower for very large ones, whose
    /// highest level would take seconds per megabyte.
    pub fn new(body: Vec<u8>) -> Result<Self> {
        let quality = match body.len() {
            0..=262_144 => 11,
            262_145..=2_097_152 => 9,
            _ => 5,
        };
        Self::compress(body, quality, flate2::Compression::best())
    }

    /// Compresses quickly, for a body rebuilt on every publish that grows
    /// with the history (the version list): brotli's highest level would
    /// cost more with every version, and a publish waits for it.
    pub fn quick(body: Vec<u8>) -> Result<Self> {
        Self::compress(body, 5, flate2::Compression::default())
    }

    fn compress(body: Vec<u8>, quality: u32, level: flate2::Compression) -> Result<Self> {
        let gzip = gzip(&body, level)?;
        let brotli = brotli(&body, quality)?;
        Ok(Self {
            identity: Bytes::from(body),
            gzip: Bytes::from(gzip),
            brotli: Bytes::from(brotli),
        })
    }
}

fn gzip(body: &[u8], level: flate2::Compression) -> Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), level);
    gz.write_all(body)
        .map_err(|e| Error::Io(format!("gzip: {e}")))?;
    gz.finish().map_err(|e| Error::Io(format!("gzip: {e}")))
}

fn brotli(body: &[u8], quality: u32) -> Result<Vec<u8>> {
    // The window: the body's size rounded up to a power of two, within
    // brotli's 2^10..2^22. A window larger than the body gains nothing
    // and costs memory: at quality 11 the encoder's match tree takes
    // eight bytes per byte of window (32 MB at 2^22).
    let window = (usize::BITS - body.len().saturating_sub(1).leading_zeros()).clamp(10, 22);
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, quality, window);
        w.write_all(body)
            .map_err(|e| Error::Io(format!("brotli: {e}")))?;
    }
    Ok(out)
}

/// One published version, ready to send.
#[derive(Debug)]
pub struct Snapshot {
    pub event: String,
    pub title: String,
    pub version: i64,
    pub published_at: String,
    pub changeset: Option<i64>,
    pub sha256: String,
    pub document: Encoded,
    pub page: Encoded,
    pub figures_csv: Encoded,
}

impl Snapshot {
    /// Builds everything a reader can ask for about this version. The
    /// parsed dataset and check results serve the page and the CSV, and are
    /// dropped once they are built.
    pub fn build(row: VersionRow, render: RenderPage) -> Result<Self> {
        let ds = document::dataset(&row.document)?;
        let doc: serde_json::Value = serde_json::from_str(&row.document)?;
        let report: Report = serde_json::from_value(doc["checks"].clone())?;
        drop(doc);
        let page = render(&ds, row.number, &row.published_at, &row.sha256, &report)?;
        let csv = figures_csv(&ds)?;
        Ok(Self {
            title: ds.event.title.clone(),
            event: row.event,
            version: row.number,
            published_at: row.published_at,
            changeset: row.changeset_id,
            sha256: row.sha256,
            document: Encoded::new(row.document.into_bytes())?,
            page: Encoded::new(page.into_bytes())?,
            figures_csv: Encoded::new(csv)?,
        })
    }
}

/// The figures of a dataset as `figures.csv` (the import format).
pub fn figures_csv(ds: &Dataset) -> Result<Vec<u8>> {
    let files = files::write(ds).map_err(|e| Error::Io(e.to_string()))?;
    Ok(files
        .into_iter()
        .find(|(t, _)| *t == Table::Figures)
        .map(|(_, b)| b)
        .unwrap_or_default())
}

/// The version history of an event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionList {
    pub event: String,
    pub versions: Vec<VersionInfo>,
}

/// The latest snapshot of every event, with its version history.
#[derive(Default)]
struct Latest {
    map: RwLock<HashMap<String, Held>>,
}

/// What is held of an event: its latest version, and the list of its
/// versions up to that one (`GET …/versions`), encoded once per publish
/// rather than compressed on every request.
struct Held {
    snapshot: Arc<Snapshot>,
    history: Arc<Encoded>,
}

impl Latest {
    fn read<T>(&self, f: impl FnOnce(&HashMap<String, Held>) -> T) -> T {
        match self.map.read() {
            Ok(m) => f(&m),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// Swaps in a snapshot and its history, unless a newer one is already
    /// held.
    fn put(&self, s: Arc<Snapshot>, history: Arc<Encoded>) {
        let mut m = match self.map.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let newer = m
            .get(&s.event)
            .is_some_and(|old| old.snapshot.version > s.version);
        if !newer {
            m.insert(
                s.event.clone(),
                Held {
                    snapshot: s,
                    history,
                },
            );
        }
    }
}

/// Older versions kept in memory after a first read; they never change.
const OLD_VERSIONS_KEPT: usize = 64;

/// The published versions, as readers ask for them.
pub struct Reads {
    db: Db,
    render: RenderPage,
    latest: Latest,
    old: Mutex<HashMap<(String, i64), Arc<Snapshot>>>,
}

impl Reads {
    /// A read model over `db`, empty until [`Reads::refresh`].
    pub fn new(db: Db, render: RenderPage) -> Self {
        Self {
            db,
            render,
            latest: Latest::default(),
            old: Mutex::new(HashMap::new()),
        }
    }

    /// The latest snapshot of an event.
    pub fn latest(&self, slug: &str) -> Option<Arc<Snapshot>> {
        self.latest
            .read(|m| m.get(slug).map(|h| h.snapshot.clone()))
    }

    /// The latest snapshot of an event and its version history.
    pub fn history(&self, slug: &str) -> Option<(Arc<Snapshot>, Arc<Encoded>)> {
        self.latest
            .read(|m| m.get(slug).map(|h| (h.snapshot.clone(), h.history.clone())))
    }

    /// Every event's latest snapshot, by slug.
    pub fn all(&self) -> Vec<Arc<Snapshot>> {
        let mut v: Vec<_> = self
            .latest
            .read(|m| m.values().map(|h| h.snapshot.clone()).collect());
        v.sort_by(|a, b| a.event.cmp(&b.event));
        v
    }

    /// The version number held for each event.
    fn held(&self) -> HashMap<String, i64> {
        self.latest.read(|m| {
            m.iter()
                .map(|(k, h)| (k.clone(), h.snapshot.version))
                .collect()
        })
    }

    /// Loads every event whose latest version is newer than the one held.
    /// Returns how many were swapped in.
    pub fn refresh(&self) -> Result<usize> {
        let held = self.held();
        let mut swapped = 0;
        for (slug, number) in super::latest_numbers(&self.db)? {
            if held.get(&slug).is_some_and(|n| *n >= number) {
                continue;
            }
            let row = super::version(&self.db, &slug, Some(number))?;
            // Up to this version: another may have been published since.
            let mut versions = super::versions(&self.db, &slug)?;
            versions.retain(|v| v.number <= number);
            let history = VersionList {
                event: slug.clone(),
                versions,
            };
            let history = Encoded::quick(serde_json::to_vec(&history)?)?;
            let snapshot = Snapshot::build(row, self.render)?;
            self.latest.put(Arc::new(snapshot), Arc::new(history));
            swapped += 1;
        }
        Ok(swapped)
    }

    /// A published version: the latest from memory, an older one from the
    /// cache or the database. Reads the database: call it off the async
    /// workers when `version` is given.
    pub fn snapshot(&self, slug: &str, version: Option<i64>) -> Result<Arc<Snapshot>> {
        let latest = self.latest(slug);
        match (version, latest) {
            (None, Some(s)) => return Ok(s),
            (Some(n), Some(s)) if s.version == n => return Ok(s),
            (None, None) => return Err(Error::NotFound(format!("no published event '{slug}'"))),
            _ => {}
        }
        let n = version.unwrap_or(0);
        if n < 1 {
            return Err(Error::NotFound(format!(
                "event '{slug}' has no version {n}"
            )));
        }
        let key = (slug.to_string(), n);
        if let Some(s) = self.old.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(s);
        }
        let s = Arc::new(Snapshot::build(
            super::version(&self.db, slug, Some(n))?,
            self.render,
        )?);
        if let Ok(mut m) = self.old.lock() {
            if m.len() >= OLD_VERSIONS_KEPT {
                m.clear();
            }
            m.insert(key, s.clone());
        }
        Ok(s)
    }
}

/// The service's operations that publish, each followed, once its
/// transaction has committed, by the one post-publish hook
/// ([`Publisher::published`]): the new version swapped into memory (when
/// there is a read model) and a checkpoint signed (when there is a key).
/// The HTTP handlers and the CLI publish only through it.
pub struct Publisher<'a> {
    pub db: &'a Db,
    pub reads: Option<&'a Reads>,
    pub key: Option<&'a SignerKey>,
    pub now: DateTime<Utc>,
}

impl Publisher<'_> {
    /// The post-commit hook of every publish. The publish has committed,
    /// so nothing here can undo it: a failure is logged, and the poll loop
    /// catches up (it loads new versions and signs overdue checkpoints).
    pub fn published(&self) {
        if let Some(reads) = self.reads {
            if let Err(e) = reads.refresh() {
                tracing::warn!(error = %e, "could not load the version just published");
            }
        }
        if let Err(e) = self.checkpoint(true) {
            tracing::warn!(error = %e, "could not sign an audit checkpoint after a publish");
        }
    }

    /// Signs a checkpoint when the log has grown since the last one: at
    /// once when `force`, else when the last is a minute old.
    pub fn checkpoint(&self, force: bool) -> Result<()> {
        let Some(key) = self.key else {
            return Ok(());
        };
        if force || super::audit::checkpoint_due(self.db, self.now, chrono::Duration::minutes(1))? {
            if let Some(cp) = super::audit::checkpoint(self.db, key, self.now)? {
                tracing::info!(size = cp.size, "signed an audit checkpoint");
            }
        }
        Ok(())
    }

    /// What a replica does every poll interval: load versions published
    /// by other replicas, and sign a checkpoint when one is due. Returns
    /// how many events got a new version.
    pub fn poll(&self) -> Result<usize> {
        let loaded = match self.reads {
            Some(r) => r.refresh()?,
            None => 0,
        };
        self.checkpoint(false)?;
        Ok(loaded)
    }

    /// Approves a changeset ([`super::changesets::approve`]), then runs the
    /// post-publish hook.
    pub fn approve(
        &self,
        ctx: &Context,
        reviewer: &Principal,
        id: i64,
        comment: Option<&str>,
    ) -> Result<Approved> {
        let approved = super::changesets::approve(self.db, ctx, reviewer, id, comment)?;
        self.published();
        Ok(approved)
    }

    /// Imports a folder ([`super::import`]); when that published a new
    /// event or stored a changeset, runs the post-publish hook.
    pub fn import(&self, ctx: &Context, folder: &Folder, dry_run: bool) -> Result<Imported> {
        let imported = super::import(self.db, ctx, folder, dry_run)?;
        if !dry_run && !matches!(imported, Imported::Unchanged { .. }) {
            self.published();
        }
        Ok(imported)
    }
}
