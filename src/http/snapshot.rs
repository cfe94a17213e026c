//! Published versions held in memory, ready to send: the JSON document
//! (plain, gzip and brotli), the memorial page and the figures CSV. The
//! latest version of each event is swapped in atomically when it changes.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, RwLock};

use actix_web::web::Bytes;
use askama::Template;

use crate::checks::Report;
use crate::db::VersionRow;
use crate::document;
use crate::error::{Error, Result};
use crate::files;
use crate::model::{Dataset, Table};

use super::pages;

/// A body in the encodings a client may accept.
#[derive(Debug, Clone)]
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
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), level);
        gz.write_all(&body)
            .map_err(|e| Error::Io(format!("gzip: {e}")))?;
        let gzip = gz.finish().map_err(|e| Error::Io(format!("gzip: {e}")))?;
        // The window: the body's size rounded up to a power of two, within
        // brotli's 2^10..2^22. A window larger than the body gains nothing
        // and costs memory: at quality 11 the encoder's match tree takes
        // eight bytes per byte of window (32 MB at 2^22), and these builds
        // run on several threads at once.
        let window = (usize::BITS - body.len().saturating_sub(1).leading_zeros()).clamp(10, 22);
        let mut brotli = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut brotli, 4096, quality, window);
            w.write_all(&body)
                .map_err(|e| Error::Io(format!("brotli: {e}")))?;
        }
        Ok(Self {
            identity: Bytes::from(body),
            gzip: Bytes::from(gzip),
            brotli: Bytes::from(brotli),
        })
    }
}

/// One published version, ready to send.
#[derive(Debug, Clone)]
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
    pub dataset: Arc<Dataset>,
    pub report: Arc<Report>,
}

impl Snapshot {
    /// Builds everything a reader can ask for about this version.
    pub fn build(row: VersionRow) -> Result<Self> {
        let ds = document::dataset(&row.document)?;
        let doc: serde_json::Value = serde_json::from_str(&row.document)?;
        let report: Report = serde_json::from_value(doc["checks"].clone())?;
        let page = pages::event_page(&ds, row.number, &row.published_at, &row.sha256, &report)
            .render()
            .map_err(|e| Error::Io(format!("rendering the page of {}: {e}", row.event)))?;
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
            dataset: Arc::new(ds),
            report: Arc::new(report),
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

/// The latest snapshot of every event, with its version history.
#[derive(Default)]
pub struct Latest {
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
    /// The latest snapshot of an event.
    pub fn get(&self, slug: &str) -> Option<Arc<Snapshot>> {
        self.read(|m| m.get(slug).map(|h| h.snapshot.clone()))
    }

    /// The latest snapshot of an event and its version history.
    pub fn history(&self, slug: &str) -> Option<(Arc<Snapshot>, Arc<Encoded>)> {
        self.read(|m| m.get(slug).map(|h| (h.snapshot.clone(), h.history.clone())))
    }

    /// Every event's latest snapshot, by slug.
    pub fn all(&self) -> Vec<Arc<Snapshot>> {
        let mut v: Vec<_> = self.read(|m| m.values().map(|h| h.snapshot.clone()).collect());
        v.sort_by(|a, b| a.event.cmp(&b.event));
        v
    }

    /// The version number held for each event.
    pub fn versions(&self) -> HashMap<String, i64> {
        self.all()
            .into_iter()
            .map(|s| (s.event.clone(), s.version))
            .collect()
    }

    /// Swaps in a snapshot and its history, unless a newer one is already
    /// held.
    pub fn put(&self, s: Snapshot, history: Encoded) {
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
                    snapshot: Arc::new(s),
                    history: Arc::new(history),
                },
            );
        }
    }

    fn read<T>(&self, f: impl FnOnce(&HashMap<String, Held>) -> T) -> T {
        match self.map.read() {
            Ok(m) => f(&m),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }
}
