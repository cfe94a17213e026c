//! A changeset's rules, without SQL or HTTP: its states and transitions, its
//! writers, its revision, and what a principal may do with it — each action
//! answered with the reason it is refused. The service loads a changeset,
//! asks it, stores what it became and writes the audit entry; the API and
//! the panel show the same answers.
//!
//! The rules:
//! - its *writers* are everyone who ever wrote any part of it (opened it,
//!   edited it, imported into it), counted as people: a token's edits count
//!   as its owner's. The set only grows, whatever later happens to an edit;
//! - no writer approves or rejects it, with any credential;
//! - every edit and transition raises its *revision*; an approval or a
//!   rejection names the revision the reviewer saw, and is refused when it
//!   moved;
//! - an edit to a submitted changeset takes it back to draft.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::accounts::{Permission, Principal};
use crate::words::word_enum;

word_enum! {
    /// Where a changeset stands.
    State {
        /// Being written; takes edits.
        Draft = "draft",
        /// Waiting for review; an edit takes it back to draft.
        Submitted = "submitted",
        /// Approved and published.
        Approved = "approved",
        /// Rejected by a reviewer, with a reason.
        Rejected = "rejected",
        /// Withdrawn by its author.
        Withdrawn = "withdrawn",
    }
}

impl State {
    /// Whether edits are still accepted.
    pub fn open(self) -> bool {
        matches!(self, State::Draft | State::Submitted)
    }
}

word_enum! {
    /// What can be done with a changeset.
    Action {
        /// Change, add or remove an item, or import files into it.
        Edit = "edit",
        /// Send a draft for review.
        Submit = "submit",
        /// Take it back for good (its author).
        Withdraw = "withdraw",
        /// Publish it (a reviewer who wrote none of it).
        Approve = "approve",
        /// Send it back with a reason (a reviewer who wrote none of it).
        Reject = "reject",
    }
}

/// Why an action is refused, by what the caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The caller may never do this (role, writer, author).
    Forbidden,
    /// Not now: the changeset's state or content does not allow it.
    Conflict,
    /// The changeset moved since the caller saw it.
    Moved,
}

/// An action refused, and why, in words for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Refused {
    pub action: Action,
    pub kind: Refusal,
    /// Why, in words for people.
    #[serde(rename = "reason")]
    pub why: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

/// One action and whether the principal may take it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Allowed {
    pub action: Action,
    pub allowed: bool,
    /// Why not, when it is refused.
    // `reason` in the API, as a changeset's own reason is `reason` too.
    #[serde(rename = "reason", skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
}

/// What the changeset's content says about submitting and approving it,
/// as the service computed it (the domain does not run checks itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    /// How many items it changes.
    pub edits: usize,
    /// Problems that keep the result from holding together.
    pub problems: usize,
    /// Edited items that a later published version changed too.
    pub conflicts: usize,
    /// Error-severity checks the result violates.
    pub blocking: usize,
}

impl Readiness {
    fn obstacle(&self, verb: &str) -> Option<String> {
        if self.edits == 0 {
            return Some(format!("it has no edits to {verb}"));
        }
        if self.problems > 0 {
            return Some(format!(
                "its result does not hold together ({} problem(s)); fix them first",
                self.problems
            ));
        }
        if self.conflicts > 0 {
            return Some(format!(
                "{} edited item(s) changed in a later published version; edit them again on top of it",
                self.conflicts
            ));
        }
        if self.blocking > 0 {
            return Some(format!(
                "its result violates {} error check(s)",
                self.blocking
            ));
        }
        None
    }
}

/// A changeset: a draft of edits against a published version, with the
/// people who wrote it and its place in review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Changeset {
    pub id: i64,
    pub event: String,
    pub base_version: i64,
    /// The person who opened it.
    pub author: String,
    /// What it changes and why, as its author stated it on opening it.
    pub reason: String,
    pub state: State,
    /// Raised by every edit and transition.
    pub revision: i64,
    /// Everyone who ever wrote any part of it, as people.
    pub writers: BTreeSet<String>,
    /// Who approved or rejected it.
    pub reviewer: Option<String>,
    /// The latest transition's comment.
    pub comment: Option<String>,
    #[serde(with = "crate::time::secs::serde")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time::secs::serde")]
    #[schema(value_type = String)]
    pub updated_at: DateTime<Utc>,
}

type Outcome = std::result::Result<(), Refused>;

fn refuse(action: Action, kind: Refusal, why: String) -> Outcome {
    Err(Refused { action, kind, why })
}

impl Changeset {
    /// A new draft, written so far by its author.
    pub fn open(
        event: &str,
        base_version: i64,
        author: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: 0,
            event: event.to_string(),
            base_version,
            author: author.to_string(),
            reason: reason.to_string(),
            state: State::Draft,
            revision: 1,
            writers: BTreeSet::from([author.to_string()]),
            reviewer: None,
            comment: None,
            created_at: at,
            updated_at: at,
        }
    }

    /// A changeset the operator imported at the command line: written by
    /// them alone and submitted at once, for a reviewer to approve.
    pub fn imported(
        event: &str,
        base_version: i64,
        operator: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            state: State::Submitted,
            ..Self::open(event, base_version, operator, reason, at)
        }
    }

    /// Whether `who` wrote any part of it, with any credential.
    pub fn written_by(&self, who: &Principal) -> bool {
        self.writers.contains(&who.person())
    }

    /// May `who` take `action` now? `seen_revision` is the revision the
    /// caller saw (approval and rejection need it; `None` skips that
    /// question, as when a page asks what to offer).
    pub fn may(
        &self,
        action: Action,
        who: &Principal,
        ready: &Readiness,
        seen_revision: Option<i64>,
    ) -> Outcome {
        let id = self.id;
        let needs = match action {
            Action::Edit | Action::Submit | Action::Withdraw => Permission::EditChangesets,
            Action::Approve | Action::Reject => Permission::Review,
        };
        if !who.may(needs) {
            return refuse(
                action,
                Refusal::Forbidden,
                format!("only {} may {action} a changeset", needs.holders()),
            );
        }
        match action {
            Action::Edit => {
                if !self.state.open() {
                    return refuse(
                        action,
                        Refusal::Conflict,
                        format!(
                            "changeset {id} is {}: it takes no more edits; open a new one",
                            self.state
                        ),
                    );
                }
            }
            Action::Submit => {
                if self.state != State::Draft {
                    return refuse(
                        action,
                        Refusal::Conflict,
                        format!(
                            "changeset {id} is {}; only a draft can be submitted",
                            self.state
                        ),
                    );
                }
                // What approval would refuse is refused here already: a
                // result that does not hold together, a conflict with a
                // later published version, a violated error check.
                if let Some(why) = ready.obstacle("submit") {
                    return refuse(
                        action,
                        Refusal::Conflict,
                        format!("changeset {id} cannot be submitted: {why}"),
                    );
                }
            }
            Action::Withdraw => {
                if self.author != who.person() {
                    return refuse(
                        action,
                        Refusal::Forbidden,
                        format!(
                            "only the author of changeset {id} ({}) may withdraw it",
                            self.author
                        ),
                    );
                }
                if !self.state.open() {
                    return refuse(
                        action,
                        Refusal::Conflict,
                        format!("changeset {id} is already {}", self.state),
                    );
                }
            }
            Action::Approve | Action::Reject => {
                if self.written_by(who) {
                    return refuse(
                        action,
                        Refusal::Forbidden,
                        format!(
                            "you wrote part of changeset {id}; a reviewer who wrote none of it must {action} it"
                        ),
                    );
                }
                if self.state != State::Submitted {
                    return refuse(
                        action,
                        Refusal::Conflict,
                        format!(
                            "changeset {id} is {}; only a submitted changeset can be reviewed{}",
                            self.state,
                            if self.state == State::Draft {
                                " (it was edited after submission, or never submitted)"
                            } else {
                                ""
                            }
                        ),
                    );
                }
                if let Some(seen_revision) = seen_revision {
                    if seen_revision != self.revision {
                        return refuse(
                            action,
                            Refusal::Moved,
                            format!(
                                "changeset {id} changed since you saw it (you saw revision {seen_revision}, \
                                 it is at revision {}); look at it again before you {action} it",
                                self.revision
                            ),
                        );
                    }
                }
                if action == Action::Approve {
                    if let Some(why) = ready.obstacle("approve") {
                        return refuse(
                            action,
                            Refusal::Conflict,
                            format!("changeset {id} cannot be approved: {why}"),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Every action, with whether `who` may take it now and why not.
    pub fn allowed_actions(&self, who: &Principal, ready: &Readiness) -> Vec<Allowed> {
        Action::ALL
            .iter()
            .map(|&action| match self.may(action, who, ready, None) {
                Ok(()) => Allowed {
                    action,
                    allowed: true,
                    why_not: None,
                },
                Err(r) => Allowed {
                    action,
                    allowed: false,
                    why_not: Some(r.why),
                },
            })
            .collect()
    }

    fn step(&mut self, at: DateTime<Utc>) {
        self.revision += 1;
        self.updated_at = at;
    }

    /// Records an edit by `who`: they become a writer, the revision moves,
    /// and a submitted changeset goes back to draft (true when it did).
    pub fn edit(
        &mut self,
        who: &Principal,
        at: DateTime<Utc>,
    ) -> std::result::Result<bool, Refused> {
        self.may(Action::Edit, who, &Readiness::default(), None)?;
        self.writers.insert(who.person());
        let reopened = self.state == State::Submitted;
        if reopened {
            self.state = State::Draft;
        }
        self.step(at);
        Ok(reopened)
    }

    /// Sends a draft for review.
    pub fn submit(
        &mut self,
        who: &Principal,
        ready: &Readiness,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Outcome {
        self.may(Action::Submit, who, ready, None)?;
        self.move_to(State::Submitted, None, comment, at);
        Ok(())
    }

    /// Withdraws it for good.
    pub fn withdraw(
        &mut self,
        who: &Principal,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Outcome {
        self.may(Action::Withdraw, who, &Readiness::default(), None)?;
        self.move_to(State::Withdrawn, None, comment, at);
        Ok(())
    }

    /// Approves exactly the revision `seen_revision`.
    pub fn approve(
        &mut self,
        who: &Principal,
        ready: &Readiness,
        seen_revision: i64,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Outcome {
        self.may(Action::Approve, who, ready, Some(seen_revision))?;
        self.move_to(State::Approved, Some(who.person()), comment, at);
        Ok(())
    }

    /// Rejects exactly the revision `seen_revision`, with a reason.
    pub fn reject(
        &mut self,
        who: &Principal,
        seen_revision: i64,
        comment: &str,
        at: DateTime<Utc>,
    ) -> Outcome {
        self.may(
            Action::Reject,
            who,
            &Readiness::default(),
            Some(seen_revision),
        )?;
        self.move_to(State::Rejected, Some(who.person()), Some(comment), at);
        Ok(())
    }

    fn move_to(
        &mut self,
        to: State,
        reviewer: Option<String>,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) {
        self.state = to;
        self.reviewer = reviewer;
        self.comment = comment.map(str::to_string);
        self.step(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;
    use proptest::prelude::*;

    /// A time `n` seconds into the epoch.
    fn t(n: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(n)
    }

    fn user(name: &str, roles: &[Role]) -> Principal {
        Principal::user(name, roles)
    }

    fn ready() -> Readiness {
        Readiness {
            edits: 1,
            ..Readiness::default()
        }
    }

    fn submitted_by(author: &Principal) -> Changeset {
        let mut cs = Changeset::open("e", 1, &author.person(), "why", t(0));
        cs.edit(author, t(1)).unwrap();
        cs.submit(author, &ready(), None, t(2)).unwrap();
        cs
    }

    #[test]
    fn a_later_edit_keeps_earlier_writers() {
        let alice = user("alice", &[Role::Curator]);
        let rc = user("rc", &[Role::Curator, Role::Reviewer]);
        let mut cs = Changeset::open("e", 1, &alice.person(), "why", t(0));
        cs.edit(&rc, t(1)).unwrap();
        cs.edit(&alice, t(2)).unwrap();
        cs.submit(&alice, &ready(), None, t(3)).unwrap();
        let err = cs
            .approve(&rc, &ready(), cs.revision, None, t(4))
            .unwrap_err();
        assert_eq!(err.kind, Refusal::Forbidden);
        assert!(err.why.contains("you wrote part of changeset"));
    }

    #[test]
    fn a_token_counts_as_its_owner() {
        let admin = user("ada", &[Role::Admin, Role::Curator, Role::Reviewer]);
        let curator_token = Principal::token("ada-curates", &[Role::Curator], Some("ada"));
        let reviewer_token = Principal::token("ada-reviews", &[Role::Reviewer], Some("ada"));
        let cs = submitted_by(&curator_token);
        assert!(cs.written_by(&admin));
        let mut again = cs.clone();
        let err = again
            .approve(&reviewer_token, &ready(), cs.revision, None, t(9))
            .unwrap_err();
        assert_eq!(err.kind, Refusal::Forbidden);
        assert_eq!(again, cs, "a refused approval changes nothing");
    }

    #[test]
    fn an_approval_names_the_revision_it_saw() {
        let alice = user("alice", &[Role::Curator]);
        let bob = user("bob", &[Role::Reviewer]);
        let mut cs = submitted_by(&alice);
        let seen = cs.revision;
        assert!(cs.edit(&alice, t(3)).unwrap(), "back to draft");
        cs.submit(&alice, &ready(), None, t(4)).unwrap();
        let err = cs.approve(&bob, &ready(), seen, None, t(5)).unwrap_err();
        assert_eq!(err.kind, Refusal::Moved);
        cs.approve(&bob, &ready(), cs.revision, None, t(5)).unwrap();
        assert_eq!(cs.state, State::Approved);
        assert_eq!(cs.reviewer.as_deref(), Some("user:bob"));
    }

    #[test]
    fn allowed_actions_say_why_not() {
        let alice = user("alice", &[Role::Curator, Role::Reviewer]);
        let cs = submitted_by(&alice);
        let blocked = Readiness {
            edits: 1,
            blocking: 1,
            ..Readiness::default()
        };
        let by_action = |who: &Principal, r: &Readiness| {
            cs.allowed_actions(who, r)
                .into_iter()
                .map(|a| (a.action, a))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let mine = by_action(&alice, &ready());
        assert!(!mine[&Action::Approve].allowed);
        assert!(mine[&Action::Approve]
            .why_not
            .as_deref()
            .unwrap()
            .contains("you wrote part"));
        assert!(mine[&Action::Withdraw].allowed);
        assert!(!mine[&Action::Submit].allowed, "already submitted");
        let bob = user("bob", &[Role::Reviewer]);
        let theirs = by_action(&bob, &blocked);
        assert!(!theirs[&Action::Approve].allowed);
        assert!(theirs[&Action::Approve]
            .why_not
            .as_deref()
            .unwrap()
            .contains("violates 1 error check"));
        assert!(theirs[&Action::Reject].allowed);
        assert!(!theirs[&Action::Edit].allowed, "bob is no curator");
        // A draft whose result breaks an error check, or that a later
        // version conflicts with, is not offered for review.
        let draft = Changeset::open("e", 1, "user:alice", "r", t(1));
        for (r, says) in [
            (blocked.clone(), "violates 1 error check"),
            (
                Readiness {
                    edits: 1,
                    conflicts: 2,
                    ..Readiness::default()
                },
                "2 edited item(s) changed in a later published version",
            ),
        ] {
            let submit = &by_action_of(&draft, &alice, &r)[&Action::Submit];
            assert!(!submit.allowed);
            assert!(
                submit.why_not.as_deref().unwrap().contains(says),
                "{submit:?}"
            );
        }
    }

    fn by_action_of(
        cs: &Changeset,
        who: &Principal,
        r: &Readiness,
    ) -> std::collections::BTreeMap<Action, Allowed> {
        cs.allowed_actions(who, r)
            .into_iter()
            .map(|a| (a.action, a))
            .collect()
    }

    #[derive(Debug, Clone)]
    enum Step {
        Edit(usize),
        Submit(usize),
        Withdraw(usize),
        Approve(usize, bool),
        Reject(usize, bool),
    }

    fn step() -> impl Strategy<Value = Step> {
        let who = 0usize..5;
        prop_oneof![
            who.clone().prop_map(Step::Edit),
            who.clone().prop_map(Step::Submit),
            who.clone().prop_map(Step::Withdraw),
            (who.clone(), any::<bool>()).prop_map(|(w, fresh)| Step::Approve(w, fresh)),
            (who, any::<bool>()).prop_map(|(w, fresh)| Step::Reject(w, fresh)),
        ]
    }

    fn people() -> Vec<Principal> {
        let all = [Role::Curator, Role::Reviewer];
        vec![
            user("alice", &all),
            user("bob", &all),
            Principal::token("alice-bot", &all, Some("alice")),
            user("carol", &[Role::Reviewer]),
            Principal::token("ci", &all, None),
        ]
    }

    proptest! {
        /// Random edits and transitions by random people: no writer ever
        /// approves or rejects, an approval is always of the revision it
        /// names, writers only grow, and the revision rises with every
        /// change and only then.
        #[test]
        fn no_writer_ever_reviews(steps in proptest::collection::vec(step(), 1..40)) {
            let people = people();
            let mut cs = Changeset::open("e", 1, &people[0].person(), "why", t(0));
            // Who edited, as the test itself keeps it.
            let mut edited: BTreeSet<String> = BTreeSet::from([people[0].person()]);
            // What the reviewers saw: the revision after the last edit.
            let mut last_edit_revision = cs.revision;
            for s in steps {
                let before = cs.clone();
                let result = match s {
                    Step::Edit(w) => cs.edit(&people[w], t(0)).map(|_| {
                        edited.insert(people[w].person());
                        last_edit_revision = cs.revision;
                    }),
                    Step::Submit(w) => cs.submit(&people[w], &ready(), None, t(0)),
                    Step::Withdraw(w) => cs.withdraw(&people[w], None, t(0)),
                    Step::Approve(w, fresh) => {
                        let seen = if fresh { cs.revision } else { cs.revision - 1 };
                        let r = cs.approve(&people[w], &ready(), seen, None, t(0));
                        if r.is_ok() {
                            prop_assert!(!edited.contains(&people[w].person()));
                            prop_assert_eq!(seen, before.revision);
                            prop_assert!(last_edit_revision <= seen);
                        }
                        r
                    }
                    Step::Reject(w, fresh) => {
                        let seen = if fresh { cs.revision } else { cs.revision - 1 };
                        let r = cs.reject(&people[w], seen, "no", t(0));
                        if r.is_ok() {
                            prop_assert!(!edited.contains(&people[w].person()));
                            prop_assert_eq!(seen, before.revision);
                        }
                        r
                    }
                };
                prop_assert!(before.writers.is_subset(&cs.writers));
                prop_assert_eq!(&cs.writers, &edited);
                match result {
                    Ok(()) => prop_assert_eq!(cs.revision, before.revision + 1),
                    Err(_) => prop_assert_eq!(&cs, &before),
                }
            }
        }
    }
}
