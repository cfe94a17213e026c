//! The review queue: submitted changesets, each with what a reviewer needs
//! to pick it (items, checks, conflicts, age, authors); a person's own
//! changesets are marked and not offered.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::changesets::{list_row, ListRow, QueueDetail};
use super::{page, Asked, Frame, OnPage, PanelError, T};
use crate::http::auth::Member;
use crate::http::{blocking, AppState};
use crate::service;
use crate::service::changesets::State as CsState;

#[derive(Template)]
#[template(path = "admin_review.html")]
struct Review {
    f: Frame,
    list_caption: String,
    /// Changesets the asker may review.
    rows: Vec<ListRow>,
    /// The asker's own: someone else reviews them.
    own: Vec<ListRow>,
}

pub async fn queue(
    state: web::Data<AppState>,
    who: Asked<Member>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who);
    let p = who.principal.clone();
    let st = state.clone();
    let listed = blocking(move || {
        let mut out = Vec::new();
        for c in service::changesets::list(&st.db, &p, None, Some(CsState::Submitted))? {
            let v = service::changesets::view(&st.db, &p, c.id)?;
            let checks = match &v.checks {
                Some(r) => r.status.as_str(),
                None => "problems",
            };
            out.push((
                c,
                QueueDetail {
                    items: v.changes.len(),
                    checks,
                    conflicts: v.conflicts.len(),
                },
            ));
        }
        Ok(out)
    })
    .await
    .on(&f)?;
    let (me, now) = (who.principal.person(), state.clock.now());
    let (own, rows): (Vec<ListRow>, Vec<ListRow>) = listed
        .into_iter()
        .map(|(c, d)| ListRow {
            detail: Some(d),
            ..list_row(c, &me, now)
        })
        .partition(|r| r.own);
    page(&Review {
        f,
        list_caption: T.queue_caption.into(),
        rows,
        own,
    })
}
