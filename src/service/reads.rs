//! The read model: published versions held in memory, ready to send (the
//! JSON document, the memorial page and the figures CSV, each plain, gzip
//! and brotli), and what follows every publish once its transaction has
//! committed ([`Publisher`]): the new version swapped into memory and a
//! checkpoint of the audit log signed.
//!
//! The service builds and holds the served versions ([`ServedVersion`]);
//! HTTP only chooses an encoding and sends the bytes. The memorial page is
//! rendered by a function the caller gives ([`RenderPage`]), so this module
//! knows no templates.

use std::collections::HashMap;
use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::accounts::Principal;
use crate::audit::checkpoint::SignerKey;
use crate::checks::Report;
use crate::db::{Db, VersionRow};
use crate::document;
use crate::document::VersionSummary;
use crate::error::{Error, Fault, Result};
use crate::files::{self, Folder};
use crate::model::{Dataset, Table};

use super::changesets::Publication;
use super::{Context, Imported};

/// Renders the memorial page of a version: the dataset, its number, the
/// latest version's number (an older version says so at the top), its
/// publication time, its hash and its check results, as HTML.
pub type RenderPage = fn(&Dataset, i64, i64, DateTime<Utc>, &str, &Report) -> Result<String>;

/// A body in the encodings a client may accept. The plain and gzip forms
/// are made at once; brotli, whose highest level costs tens of
/// milliseconds per document, is made afterwards by the read model's
/// compressor thread, and clients get gzip until it is there.
#[derive(Debug)]
pub struct Encoded {
    pub identity: Bytes,
    pub gzip: Bytes,
    brotli: OnceLock<Bytes>,
    quality: u32,
}

impl Encoded {
    /// For a body made once per version: brotli at its highest level for
    /// bodies of the size of a memorial's document, lower for very large
    /// ones, whose highest level would take seconds per megabyte.
    pub fn new(body: Vec<u8>) -> Result<Self> {
        let quality = match body.len() {
            0..=262_144 => 11,
            262_145..=2_097_152 => 9,
            _ => 5,
        };
        Self::pending(body, quality)
    }

    /// For a body rebuilt on every publish that grows with the history
    /// (the version list): a quicker brotli level.
    pub fn quick(body: Vec<u8>) -> Result<Self> {
        Self::pending(body, 5)
    }

    fn pending(body: Vec<u8>, quality: u32) -> Result<Self> {
        let gzip = gzip(&body, flate2::Compression::default())?;
        Ok(Self {
            identity: Bytes::from(body),
            gzip: Bytes::from(gzip),
            brotli: OnceLock::new(),
            quality,
        })
    }

    /// The brotli form, once the compressor has made it.
    pub fn brotli(&self) -> Option<&Bytes> {
        self.brotli.get()
    }

    /// Makes the brotli form now, if it is not there yet.
    pub fn compress(&self) -> Result<()> {
        if self.brotli.get().is_none() {
            let b = brotli(&self.identity, self.quality)?;
            let _ = self.brotli.set(Bytes::from(b));
        }
        Ok(())
    }

    /// The bytes this body holds, counting brotli at gzip's size until it
    /// is made (brotli is smaller).
    pub fn size(&self) -> usize {
        self.identity.len()
            + self.gzip.len()
            + self.brotli.get().map_or(self.gzip.len(), Bytes::len)
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

/// One published version as the read model holds it in memory, ready to
/// send: its summary fields and its bodies, each pre-encoded.
#[derive(Debug)]
pub struct ServedVersion {
    pub event: String,
    pub title: String,
    pub version: i64,
    pub published_at: DateTime<Utc>,
    pub changeset: Option<i64>,
    pub sha256: String,
    /// The latest version of the event when this one's page was made.
    pub latest: i64,
    pub document: Arc<Encoded>,
    pub page: Arc<Encoded>,
    pub figures_csv: Arc<Encoded>,
}

impl ServedVersion {
    /// Builds everything a reader can ask for about this version. The
    /// parsed dataset and check results serve the page and the CSV, and are
    /// dropped once they are built.
    pub fn build(row: VersionRow, render: RenderPage, latest: i64) -> Result<Self> {
        let ds = document::dataset(&row.document)?;
        let doc: serde_json::Value = serde_json::from_str(&row.document)?;
        let report: Report = serde_json::from_value(doc["checks"].clone())?;
        drop(doc);
        let latest = latest.max(row.number);
        let published_at = crate::time::stored(
            &format!("version {}/{}: published_at", row.event, row.number),
            &row.published_at,
        )?;
        let page = render(&ds, row.number, latest, published_at, &row.sha256, &report)?;
        let csv = figures_csv(&ds)?;
        Ok(Self {
            title: ds.event.title.clone(),
            event: row.event,
            version: row.number,
            published_at,
            changeset: row.changeset_id,
            sha256: row.sha256,
            latest,
            document: Arc::new(Encoded::new(row.document.into_bytes())?),
            page: Arc::new(Encoded::new(page.into_bytes())?),
            figures_csv: Arc::new(Encoded::new(csv)?),
        })
    }

    /// The public summary of this version.
    pub fn summary(&self) -> VersionSummary {
        VersionSummary {
            number: self.version,
            published_at: self.published_at,
            changeset: self.changeset,
            sha256: self.sha256.clone(),
        }
    }

    /// The bodies of this version, for the compressor.
    fn bodies(&self) -> [&Arc<Encoded>; 3] {
        [&self.document, &self.page, &self.figures_csv]
    }

    /// The bytes this version holds in memory.
    pub fn size(&self) -> usize {
        self.bodies().iter().map(|e| e.size()).sum::<usize>()
            + self.event.len()
            + self.title.len()
            + self.sha256.len()
    }
}

/// Makes the brotli forms of bodies on a thread of its own, one at a time,
/// so that no request waits for them. Bodies no longer held by anyone
/// (an old version evicted from the cache) are skipped.
struct Compressor {
    queue: Mutex<mpsc::Sender<Weak<Encoded>>>,
}

impl Compressor {
    fn start() -> Self {
        let (tx, rx) = mpsc::channel::<Weak<Encoded>>();
        let spawned = std::thread::Builder::new()
            .name("vigil-compress".into())
            .spawn(move || {
                // Ends when the read model, and with it the sender, is gone.
                for job in rx {
                    if let Some(body) = job.upgrade() {
                        if let Err(e) = body.compress() {
                            tracing::warn!(error = %e, "could not compress a published body");
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            // Without the thread, bodies are served plain or gzip.
            tracing::warn!(error = %e, "could not start the compressor thread");
        }
        Self {
            queue: Mutex::new(tx),
        }
    }

    fn push(&self, body: &Arc<Encoded>) {
        let q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        // A send fails only when the thread is gone: then gzip it stays.
        let _ = q.send(Arc::downgrade(body));
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

/// The version history of an event: the summary of every version, oldest
/// first.
// The OpenAPI schema keeps the name clients know.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = VersionList)]
pub struct VersionHistory {
    pub event: String,
    pub versions: Vec<VersionSummary>,
}

/// The latest served version of every event, with its version history.
#[derive(Default)]
struct Latest {
    map: RwLock<HashMap<String, Held>>,
    /// Raised each time a version is swapped in: what is made from the
    /// whole map (the event list) is made again when it moved.
    generation: std::sync::atomic::AtomicU64,
}

/// What is held of an event: its latest version, and the list of its
/// versions up to that one (`GET …/versions`), encoded once per publish
/// rather than compressed on every request.
struct Held {
    served: Arc<ServedVersion>,
    history: Arc<Encoded>,
}

impl Latest {
    fn read<T>(&self, f: impl FnOnce(&HashMap<String, Held>) -> T) -> T {
        match self.map.read() {
            Ok(m) => f(&m),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// Swaps in a served version and its history, unless a newer one is already
    /// held.
    fn put(&self, s: Arc<ServedVersion>, history: Arc<Encoded>) {
        let mut m = match self.map.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let newer = m
            .get(&s.event)
            .is_some_and(|old| old.served.version > s.version);
        if !newer {
            m.insert(s.event.clone(), Held { served: s, history });
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::Release);
        }
    }
}

/// The default budget of the old-version cache, in bytes.
pub const DEFAULT_VERSION_CACHE_BYTES: usize = 64 << 20;

/// Older versions kept in memory after a first read (they never change),
/// within a budget in bytes, the least recently read evicted first. Each
/// version is built once however many read it at the same time: the first
/// reader builds it, the others wait for that one (single flight).
struct OldVersions {
    budget: usize,
    inner: Mutex<Cache>,
    /// Builds running now, at most [`BUILDS_AT_ONCE`]: a build holds a
    /// parsed document and a rendered page for a moment, and more at once
    /// than there are cores only adds memory.
    builds: Mutex<usize>,
    build_done: std::sync::Condvar,
}

/// Old versions built at the same time, at most.
const BUILDS_AT_ONCE: usize = 2;

#[derive(Default)]
struct Cache {
    map: HashMap<(String, i64), Slot>,
    /// Bytes of the versions held.
    bytes: usize,
    /// A counter that orders reads, for eviction.
    tick: u64,
}

enum Slot {
    Building(Arc<Flight>),
    Held {
        served: Arc<ServedVersion>,
        size: usize,
        used: u64,
    },
}

/// One build in progress, and what it came to.
#[derive(Default)]
struct Flight {
    done: Mutex<Option<std::result::Result<Arc<ServedVersion>, Shared>>>,
    ready: std::sync::Condvar,
}

/// A build's error, for each of the readers that waited for it (the
/// builder gets the error itself).
#[derive(Clone)]
enum Shared {
    NotFound(String),
    Database(Fault, String),
    Other(String),
}

impl From<&Error> for Shared {
    fn from(e: &Error) -> Self {
        match e {
            Error::NotFound(m) => Shared::NotFound(m.clone()),
            Error::Database(d) => Shared::Database(d.fault, d.message.clone()),
            other => Shared::Other(other.to_string()),
        }
    }
}

impl From<Shared> for Error {
    fn from(e: Shared) -> Self {
        match e {
            Shared::NotFound(m) => Error::NotFound(m),
            Shared::Database(fault, m) => Error::database(fault, m),
            Shared::Other(m) => Error::Internal(m),
        }
    }
}

impl OldVersions {
    fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::new(Cache::default()),
            builds: Mutex::new(0),
            build_done: std::sync::Condvar::new(),
        }
    }

    /// Runs `build` when fewer than [`BUILDS_AT_ONCE`] others run.
    fn limited<T>(&self, build: impl FnOnce() -> T) -> T {
        {
            let mut n = self.builds.lock().unwrap_or_else(|e| e.into_inner());
            while *n >= BUILDS_AT_ONCE {
                n = self.build_done.wait(n).unwrap_or_else(|e| e.into_inner());
            }
            *n += 1;
        }
        let out = build();
        let mut n = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        self.build_done.notify_one();
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The version, from the cache, from a build in progress, or built now
    /// by `build`.
    fn get(
        &self,
        key: (String, i64),
        build: impl FnOnce() -> Result<Arc<ServedVersion>>,
    ) -> Result<Arc<ServedVersion>> {
        let flight = {
            let mut c = self.lock();
            c.tick += 1;
            let tick = c.tick;
            match c.map.get_mut(&key) {
                Some(Slot::Held { served, used, .. }) => {
                    *used = tick;
                    return Ok(served.clone());
                }
                Some(Slot::Building(f)) => Some(f.clone()),
                None => {
                    c.map
                        .insert(key.clone(), Slot::Building(Arc::new(Flight::default())));
                    None
                }
            }
        };
        if let Some(f) = flight {
            // Another reader builds it: wait for that build.
            let mut done = f.done.lock().unwrap_or_else(|e| e.into_inner());
            while done.is_none() {
                done = f.ready.wait(done).unwrap_or_else(|e| e.into_inner());
            }
            return match &*done {
                Some(Ok(s)) => Ok(s.clone()),
                Some(Err(e)) => Err(e.clone().into()),
                None => Err(Error::Internal("a version build vanished".into())),
            };
        }
        let built = self.limited(build);
        let mut c = self.lock();
        let flight = match c.map.remove(&key) {
            Some(Slot::Building(f)) => Some(f),
            _ => None,
        };
        if let Ok(s) = &built {
            let size = s.size();
            if size <= self.budget {
                while c.bytes + size > self.budget && c.evict_one() {}
                c.bytes += size;
                let used = c.tick;
                c.map.insert(
                    key,
                    Slot::Held {
                        served: s.clone(),
                        size,
                        used,
                    },
                );
            }
        }
        drop(c);
        if let Some(f) = flight {
            let mut done = f.done.lock().unwrap_or_else(|e| e.into_inner());
            *done = Some(built.as_ref().map(Arc::clone).map_err(Shared::from));
            f.ready.notify_all();
        }
        built
    }

    /// Drops the versions held of an event (their pages name the latest
    /// version, which has just changed).
    fn forget(&self, slug: &str) {
        let mut c = self.lock();
        let keys: Vec<(String, i64)> = c
            .map
            .iter()
            .filter(|(k, s)| k.0 == slug && matches!(s, Slot::Held { .. }))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if let Some(Slot::Held { size, .. }) = c.map.remove(&k) {
                c.bytes -= size;
            }
        }
    }

    /// Bytes held, and how many versions.
    fn held(&self) -> (usize, usize) {
        let c = self.lock();
        let n = c
            .map
            .values()
            .filter(|s| matches!(s, Slot::Held { .. }))
            .count();
        (c.bytes, n)
    }
}

impl Cache {
    /// Evicts the least recently read version; false when none is held.
    fn evict_one(&mut self) -> bool {
        let oldest = self
            .map
            .iter()
            .filter_map(|(k, s)| match s {
                Slot::Held { used, .. } => Some((*used, k.clone())),
                Slot::Building(_) => None,
            })
            .min();
        let Some((_, key)) = oldest else {
            return false;
        };
        if let Some(Slot::Held { size, .. }) = self.map.remove(&key) {
            self.bytes -= size;
        }
        true
    }
}

/// The published versions, as readers ask for them.
pub struct Reads {
    db: Db,
    render: RenderPage,
    latest: Latest,
    old: OldVersions,
    compressor: Compressor,
}

impl Reads {
    /// A read model over `db`, empty until [`Reads::load`], with the
    /// default budget for old versions.
    pub fn new(db: Db, render: RenderPage) -> Self {
        Self::with_budget(db, render, DEFAULT_VERSION_CACHE_BYTES)
    }

    /// The same, keeping old versions within `budget` bytes.
    pub fn with_budget(db: Db, render: RenderPage, budget: usize) -> Self {
        Self {
            db,
            render,
            latest: Latest::default(),
            old: OldVersions::new(budget),
            compressor: Compressor::start(),
        }
    }

    /// Builds a version to serve and queues its bodies for brotli, or
    /// makes brotli at once when `now`.
    fn build(&self, row: VersionRow, now: bool, latest: i64) -> Result<Arc<ServedVersion>> {
        let s = Arc::new(ServedVersion::build(row, self.render, latest)?);
        for body in s.bodies() {
            self.compress(body, now)?;
        }
        Ok(s)
    }

    fn compress(&self, body: &Arc<Encoded>, now: bool) -> Result<()> {
        if now {
            body.compress()
        } else {
            self.compressor.push(body);
            Ok(())
        }
    }

    /// Loads the latest version of every event, fully compressed before it
    /// returns: what a replica does before it serves.
    pub fn load(&self) -> Result<usize> {
        self.refresh_with(true)
    }

    /// The latest served version of an event.
    pub fn latest(&self, slug: &str) -> Option<Arc<ServedVersion>> {
        self.latest.read(|m| m.get(slug).map(|h| h.served.clone()))
    }

    /// The latest served version of an event and its version history.
    pub fn history(&self, slug: &str) -> Option<(Arc<ServedVersion>, Arc<Encoded>)> {
        self.latest
            .read(|m| m.get(slug).map(|h| (h.served.clone(), h.history.clone())))
    }

    /// A number that moves each time a latest version is swapped in:
    /// whatever was made from [`Reads::all`] at one generation stays true
    /// until it moves.
    pub fn generation(&self) -> u64 {
        self.latest
            .generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Every event's latest served version, by slug.
    pub fn all(&self) -> Vec<Arc<ServedVersion>> {
        let mut v: Vec<_> = self
            .latest
            .read(|m| m.values().map(|h| h.served.clone()).collect());
        v.sort_by(|a, b| a.event.cmp(&b.event));
        v
    }

    /// The version number held for each event.
    fn held(&self) -> HashMap<String, i64> {
        self.latest.read(|m| {
            m.iter()
                .map(|(k, h)| (k.clone(), h.served.version))
                .collect()
        })
    }

    /// Loads every event whose latest version is newer than the one held.
    /// Returns how many were swapped in.
    /// The bodies are sent plain or gzip until the compressor has made
    /// their brotli form.
    pub fn refresh(&self) -> Result<usize> {
        self.refresh_with(false)
    }

    fn refresh_with(&self, now: bool) -> Result<usize> {
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
            let history = VersionHistory {
                event: slug.clone(),
                versions,
            };
            let history = Arc::new(Encoded::quick(serde_json::to_vec(&history)?)?);
            let served = self.build(row, now, number)?;
            self.compress(&history, now)?;
            self.latest.put(served, history);
            // Older versions' pages name the latest: they are made again.
            self.old.forget(&slug);
            swapped += 1;
        }
        Ok(swapped)
    }

    /// A published version: the latest from memory, an older one from the
    /// cache or the database. Reads the database: call it off the async
    /// workers when `version` is given.
    pub fn version(&self, slug: &str, version: Option<i64>) -> Result<Arc<ServedVersion>> {
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
        let latest = self.latest(slug).map_or(n, |s| s.version);
        self.old.get((slug.to_string(), n), || {
            self.build(super::version(&self.db, slug, Some(n))?, false, latest)
        })
    }

    /// The bytes of old versions held in memory, and how many.
    pub fn old_versions_held(&self) -> (usize, usize) {
        self.old.held()
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

    /// Approves revision `seen_revision` of a changeset
    /// ([`super::changesets::approve`]), then runs the post-publish hook.
    pub fn approve(
        &self,
        ctx: &Context,
        reviewer: &Principal,
        id: i64,
        seen_revision: i64,
        comment: Option<&str>,
    ) -> Result<Publication> {
        let approved =
            super::changesets::approve(self.db, ctx, reviewer, id, seen_revision, comment)?;
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
