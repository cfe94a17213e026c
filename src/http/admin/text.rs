//! Every word the panel shows, in one catalogue per language (English
//! first). Handlers and templates take their text from here; a new
//! language is one more `Text`.

macro_rules! catalogue {
    ($($name:ident: $en:expr,)+) => {
        /// The panel's words in one language.
        pub struct Text {
            $(pub $name: &'static str,)+
        }

        /// English.
        pub static EN: Text = Text {
            $($name: $en,)+
        };
    };
}

catalogue! {
    // Chrome.
    brand: "vigil admin",
    skip: "Skip to the content",
    nav_label: "Admin",
    nav_dashboard: "Dashboard",
    nav_review: "Review queue",
    nav_accounts: "Accounts",
    nav_audit: "Audit log",
    nav_public: "Public site",
    log_out: "Log out",
    unrenderable: "the page could not be rendered",
    back_to_dashboard: "Back to the dashboard",
    // Error pages.
    forbidden: "your account lacks the role this page needs, or the form is stale (reload it)",
    error_forbidden: "Not allowed",
    error_not_found: "Not found",
    error_not_done: "Not done",
    error_not_accepted: "Not accepted",
    error_too_many: "Too many attempts",
    error_unavailable: "Temporarily unavailable",
    error_other: "Error",
    error_internal: "Something went wrong on the server; nothing you did caused it. Try again later.",
    // Notices after a redirect.
    done_opened: "The draft is open. Find an item below, or add one.",
    done_saved: "Saved in the draft.",
    done_removed: "Removed in the draft.",
    done_submitted: "Submitted for review.",
    done_approved: "Approved: the next version is published.",
    done_rejected: "Rejected.",
    done_withdrawn: "Withdrawn.",
    done_user: "The account is saved.",
    done_password: "The password is set; the account's sessions have ended.",
    done_revoked: "The token is revoked.",
    // Log-in and setup.
    log_in: "Log in",
    user_name: "User name",
    password: "Password",
    no_accounts: "No accounts exist yet.",
    setup_link: "Create the first admin",
    setup_hint: "with the setup token the server printed, or run vigil user add NAME --role admin on the server.",
    login_stale: "the log-in form is stale or came from another site: reload the page and log in again",
    setup_token_wrong: "the setup token is wrong or already spent",
    // Lists of changesets.
    every_changeset: "Every changeset, newest first",
    queue_caption: "Submitted changesets you can review",
    just_now: "just now",
    minutes: "minutes",
    hours: "hours",
    days: "days",
    ago: "ago",
    // Decisions.
    submit: "Submit for review",
    withdraw: "Withdraw",
    approve: "Approve and publish",
    reject: "Reject",
    edit: "Edit",
    refused: "Not done:",
    submit_blocked: "error check(s) violated (see “Can it be published?”): a reviewer cannot approve it until they are fixed.",
    refused_moved: "the changeset changed since you saw it. It is shown as it is now: look at it again and decide again.",
    refused_invalid: "the comment is missing or longer than 2,000 characters.",
    refused_other: "it is not possible now; the page shows the changeset as it is now.",
    no_revision: "the form did not say which revision of the changeset you saw; reload the changeset and decide again",
    // Items.
    figures: "Figures",
    claims: "Claims",
    sources: "Sources",
    rules: "Rules",
    per_source: "per",
    states: "states",
    kept_with_problems: "Kept in the draft, but the item has problems: it cannot be published until they are fixed.",
    kept_with_violations: "Kept in the draft, but it breaks an error check (listed below): the changeset cannot be published until that is fixed.",
    not_saved_fields: "Not saved: some fields need correcting.",
    not_saved: "Not saved:",
    stale_choose: "Not saved. Beside each field you changed is the value it holds now: choose which to keep, then save again.",
    // Audit.
    not_a_date: "is not a date (2026-12-01) or a time (2026-12-01T10:00:00Z)",
    published_as_version: "published as version",
    state_approved: "approved",
    state_rejected: "rejected",
    state_withdrawn: "withdrawn",
    state_submitted: "submitted, waiting for review",
    state_draft: "still a draft",
    no_audit_key: "this server has no audit key",
    // Accounts.
    account_not_added: "The account was not added: see the form below.",
    account_not_changed: "Not changed:",
    password_not_set: "Password not set for",
    token_made: "Token made:",
    token_not_made: "The token was not made: see the form below.",
}

/// The notice a redirect's `done=` code names.
pub fn notice(code: &str) -> Option<&'static str> {
    let t = &EN;
    Some(match code {
        "opened" => t.done_opened,
        "saved" => t.done_saved,
        "removed" => t.done_removed,
        "submitted" => t.done_submitted,
        "approved" => t.done_approved,
        "rejected" => t.done_rejected,
        "withdrawn" => t.done_withdrawn,
        "user" => t.done_user,
        "password" => t.done_password,
        "revoked" => t.done_revoked,
        _ => return None,
    })
}
