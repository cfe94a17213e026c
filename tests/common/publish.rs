//! Publishes a prepared dataset as the next version of its event the way
//! people do: a curator opens a changeset and imports the data into it, the
//! curator submits it, another person approves it. Tests and benches that
//! need several versions use it; there is no way to publish without review.

use vigil::accounts::{Principal, Role};
use vigil::files::{self, Folder};
use vigil::model::Dataset;
use vigil::service::changesets::{self, Publication};
use vigil::service::{Context, Db};

/// Publishes `ds` (an existing event's data, changed) as its next version.
pub fn publish_reviewed(db: &Db, ds: &Dataset, reason: &str) -> Publication {
    let curator = Principal::user("fixture-curator", &[Role::Curator]);
    let reviewer = Principal::user("fixture-reviewer", &[Role::Reviewer]);
    let as_curator = Context::actor(&curator.actor());
    let id = changesets::open(db, &as_curator, &curator, &ds.event.slug, reason)
        .expect("open a changeset");
    let folder = Folder::from_bytes(files::write(ds).expect("write the dataset as CSV"));
    changesets::import_into(db, &as_curator, &curator, id, &folder, false)
        .expect("import the data into the changeset");
    changesets::submit(db, &as_curator, &curator, id, None).expect("submit");
    let seen = changesets::get(db, &reviewer, id).expect("read").revision;
    changesets::approve(
        db,
        &Context::actor(&reviewer.actor()),
        &reviewer,
        id,
        seen,
        None,
    )
    .expect("approve")
}
