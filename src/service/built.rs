//! A changeset's result, kept in memory: its base version's data with its
//! edits applied, at the changeset's revision. Rebuilding replays every edit
//! (seconds at 50,000 edits); one more edit, a view or a submit starts from
//! the kept result instead, after checking that the changeset is still at
//! that revision.
//!
//! Why that is enough: every write of a changeset's edits raises its
//! revision in the same transaction (`changesets::edited`, `import_into`),
//! and a revision is raised only by a write that checks it did not move. So
//! the result kept for the stored revision is the one a rebuild would give.
//! A result is kept only after its transaction committed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use crate::checks::{self, Report};
use crate::db::{self, Conn, Db};
use crate::error::Result;
use crate::model::{Change, Dataset, Problem};

/// How many changesets' results, and how many versions' data, are kept.
const KEPT: usize = 4;

/// A changeset's result at one revision, and what is worked out from it
/// once: its problems, its checks and its changes.
pub(super) struct Built {
    pub id: i64,
    pub revision: i64,
    /// The version the changeset is based on, as published.
    pub base: Arc<Dataset>,
    /// The base with the changeset's edits applied.
    pub result: Dataset,
    problems: OnceLock<Vec<Problem>>,
    report: OnceLock<Arc<Report>>,
    changes: OnceLock<Arc<Vec<Change>>>,
}

impl Built {
    pub fn new(id: i64, revision: i64, base: Arc<Dataset>, result: Dataset) -> Self {
        Self {
            id,
            revision,
            base,
            result,
            problems: OnceLock::new(),
            report: OnceLock::new(),
            changes: OnceLock::new(),
        }
    }

    /// Why the result does not hold together, if it does not.
    pub fn problems(&self) -> &[Problem] {
        self.problems.get_or_init(|| self.result.validate())
    }

    /// The checks on the result (meaningful when it has no problems),
    /// shared with every view that shows them.
    pub fn report(&self) -> &Arc<Report> {
        self.report
            .get_or_init(|| Arc::new(checks::run(&self.result)))
    }

    /// What the changeset changes against its base version, shared with
    /// every view that shows them.
    pub fn changes(&self) -> Result<&Arc<Vec<Change>>> {
        if let Some(c) = self.changes.get() {
            return Ok(c);
        }
        let c = Arc::new(self.base.changes(&self.result)?);
        Ok(self.changes.get_or_init(|| c))
    }

    /// After its result was changed: its problems, checks and changes to
    /// be worked out again when asked. (Its revision is set once stored.)
    pub fn changed(self) -> Self {
        Self {
            problems: OnceLock::new(),
            report: OnceLock::new(),
            changes: OnceLock::new(),
            ..self
        }
    }
}

/// The kept results and versions of one database ([`Db::memo`]).
#[derive(Default)]
pub(super) struct Kept {
    results: Mutex<VecDeque<Arc<Built>>>,
    versions: Mutex<VecDeque<(String, i64, Arc<Dataset>)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Kept {
    pub fn of(db: &Db) -> Arc<Self> {
        db.memo::<Self>()
    }

    /// The kept result of changeset `id` at `revision`, if there is one.
    pub fn result(&self, id: i64, revision: i64) -> Option<Arc<Built>> {
        lock(&self.results)
            .iter()
            .find(|b| b.id == id && b.revision == revision)
            .cloned()
    }

    /// The kept result of changeset `id` at `revision`, taken out to be
    /// changed: no copy is made unless another request holds it too.
    pub fn take(&self, id: i64, revision: i64) -> Option<Built> {
        let mut kept = lock(&self.results);
        let at = kept
            .iter()
            .position(|b| b.id == id && b.revision == revision)?;
        let b = kept.remove(at)?;
        Some(Arc::try_unwrap(b).unwrap_or_else(|shared| {
            Built::new(
                shared.id,
                shared.revision,
                Arc::clone(&shared.base),
                shared.result.clone(),
            )
        }))
    }

    /// Keeps `b` as its changeset's result, unless a later revision of it
    /// is kept already.
    pub fn keep(&self, b: Arc<Built>) -> Arc<Built> {
        let mut kept = lock(&self.results);
        if let Some(at) = kept.iter().position(|k| k.id == b.id) {
            if kept[at].revision > b.revision {
                return b;
            }
            kept.remove(at);
        }
        kept.push_front(Arc::clone(&b));
        kept.truncate(KEPT);
        b
    }

    /// The data of a published version, parsed once.
    pub fn version(&self, c: &mut Conn, event: &str, number: i64) -> Result<Arc<Dataset>> {
        if let Some((_, _, ds)) = lock(&self.versions)
            .iter()
            .find(|(e, n, _)| e == event && *n == number)
        {
            return Ok(Arc::clone(ds));
        }
        let v = db::version(c, event, number)?.ok_or_else(|| {
            crate::error::Error::Internal(format!(
                "version {number} of {event} is missing, though a changeset is based on it"
            ))
        })?;
        let ds = Arc::new(crate::document::dataset(&v.document)?);
        let mut kept = lock(&self.versions);
        kept.retain(|(e, n, _)| !(e == event && *n == number));
        kept.push_front((event.to_string(), number, Arc::clone(&ds)));
        kept.truncate(KEPT);
        Ok(ds)
    }
}
