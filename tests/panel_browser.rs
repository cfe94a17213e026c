//! The admin panel in a real headless Chromium, driven over WebDriver: each
//! role's journey (curator, reviewer, auditor, admin); on every page
//! axe-core reports no violation at 1366 and at 390 CSS px, and no page
//! scrolls sideways at 390. Screenshots of each step are saved in
//! `target/screenshots/panel-*.png`. See `tests/common/browser.rs` for what
//! it needs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::{
    add_user, axe_violations, browser, click, el, page_url, screenshot, scroll_width_fits,
    set_width,
};
use thirtyfour::prelude::*;

async fn text(driver: &WebDriver, by: By) -> WebDriverResult<String> {
    el(driver, by).await?.text().await
}

async fn fill(driver: &WebDriver, id: &str, value: &str) -> WebDriverResult<()> {
    let e = el(driver, By::Id(id)).await?;
    e.clear().await?;
    e.send_keys(value).await
}

/// The page now shown, at 1366 and at 390 CSS px: axe-core's violations and
/// sideways scrolling are added to `failures`; a screenshot of each width.
/// The window is left at 1366.
async fn check(driver: &WebDriver, name: &str, failures: &mut Vec<String>) {
    for (width, height) in [(1366, 900), (390, 844)] {
        set_width(driver, width, height).await;
        for v in axe_violations(driver).await {
            failures.push(format!("{name} at {width} px: {v}"));
        }
        if width == 390 && !scroll_width_fits(driver).await {
            failures.push(format!("{name} scrolls sideways at 390 px"));
        }
        screenshot(driver, &format!("panel-{name}-{width}")).await;
    }
    set_width(driver, 1366, 900).await;
}

async fn log_in(driver: &WebDriver, port: u16, name: &str) -> WebDriverResult<()> {
    driver
        .goto(format!("http://127.0.0.1:{port}/admin/login"))
        .await?;
    fill(driver, "username", name).await?;
    fill(driver, "password", "a long quiet evening").await?;
    click(driver, By::Css("form[action='/admin/login'] button")).await?;
    assert_eq!(text(driver, By::Css("h1")).await?, "Dashboard");
    Ok(())
}

async fn log_out(driver: &WebDriver) -> WebDriverResult<()> {
    click(driver, By::Css("form.logout button")).await
}

/// Opens a changeset from the dashboard now shown; its page's address.
async fn open_changeset(driver: &WebDriver, reason: &str) -> WebDriverResult<String> {
    fill(driver, "reason", reason).await?;
    click(driver, By::Css("form[action='/admin/changesets'] button")).await?;
    page_url(driver).await
}

/// The notice the page shows says `what`.
async fn assert_notice(driver: &WebDriver, what: &str) -> WebDriverResult<()> {
    let notice = text(driver, By::Css("p.notice")).await?;
    assert!(
        notice.contains(what),
        "{what:?} not in the notice {notice:?}"
    );
    Ok(())
}

/// Ticks a box or a choice (the page stays).
async fn tick(driver: &WebDriver, by: By) -> WebDriverResult<()> {
    el(driver, by).await?.click().await
}

async fn journeys(driver: &WebDriver, port: u16, f: &mut Vec<String>) -> WebDriverResult<()> {
    let base = format!("http://127.0.0.1:{port}");
    driver.goto(format!("{base}/admin/login")).await?;
    check(driver, "login", f).await;
    // The first admin's page, as the setup token's holder sees it.
    driver.goto(format!("{base}/admin/setup")).await?;
    assert!(text(driver, By::Css("h1")).await?.contains("first admin"));
    check(driver, "setup", f).await;

    // The curator: find an item, edit it, see the error on its field and
    // the check it breaks, fix it, submit.
    log_in(driver, port, "clara").await?;
    check(driver, "dashboard", f).await;
    let changeset = open_changeset(driver, "Say what the count of the injured includes").await?;
    check(driver, "changeset-draft", f).await;
    click(driver, By::Id("browse")).await?;
    fill(driver, "q", "injured").await?;
    click(driver, By::Css("form[role='search'] button")).await?;
    check(driver, "items", f).await;
    click(driver, By::LinkText("Injured")).await?;
    assert!(driver
        .current_url()
        .await?
        .as_str()
        .ends_with("/figures/injured.total"));
    // The heading is the figure's label; its key is secondary.
    let heading = text(driver, By::Css("h1")).await?;
    assert!(heading.starts_with("Injured"), "{heading}");
    assert_eq!(
        text(driver, By::Id("item-key")).await?,
        "figures/injured.total"
    );
    check(driver, "item", f).await;
    fill(driver, "f-low", "1,137").await?;
    click(driver, By::Id("save")).await?;
    // The error is on its field, and the summary has the focus.
    let err = text(driver, By::Id("e-low")).await?;
    assert!(err.contains("not a whole number"), "{err}");
    let focused = driver.active_element().await?;
    assert_eq!(focused.id().await?.as_deref(), Some("error-summary"));
    check(driver, "item-error", f).await;
    fill(driver, "f-low", "300").await?;
    fill(driver, "f-high", "400").await?;
    click(driver, By::Id("save")).await?;
    let broken = text(driver, By::Id("violations")).await?;
    assert!(broken.contains("Blocks publishing"), "{broken}");
    assert!(
        driver.find_all(By::Css("p.notice")).await?.is_empty(),
        "never 'Saved'"
    );
    check(driver, "item-violation", f).await;
    driver.goto(&changeset).await?;
    let blocked = text(driver, By::Id("publishing")).await?;
    assert!(
        blocked.contains("introduced by this changeset"),
        "{blocked}"
    );
    // Submit is refused at the button, with the reason.
    let submit = el(driver, By::Id("submit")).await?;
    assert!(!submit.is_enabled().await?, "Submit is disabled");
    let why = text(driver, By::Id("submit-why")).await?;
    assert!(why.contains("error check"), "{why}");
    check(driver, "changeset-blocked", f).await;
    // An import previewed: nothing stored, what would change shown.
    let folder = common::repo().join("imports/beslan-2004");
    let files: Vec<String> = ["event", "sources", "figures", "claims", "rules"]
        .iter()
        .map(|n| folder.join(format!("{n}.csv")).display().to_string())
        .collect();
    el(driver, By::Id("files"))
        .await?
        .send_keys(files.join("\n"))
        .await?;
    click(driver, By::Id("import")).await?;
    assert!(text(driver, By::Css("h1")).await?.contains("Preview"));
    check(driver, "import-preview", f).await;
    // Error pages, with the panel around them.
    driver
        .goto(format!("{base}/admin/changesets/999999"))
        .await?;
    assert_eq!(text(driver, By::Css("h1")).await?, "Not found");
    check(driver, "error-not-found", f).await;
    driver.goto(format!("{base}/admin/users")).await?;
    assert_eq!(text(driver, By::Css("h1")).await?, "Not allowed");
    check(driver, "error-forbidden", f).await;
    driver
        .goto(format!("{changeset}/figures/injured.total"))
        .await?;
    fill(driver, "f-low", "1137").await?;
    fill(driver, "f-high", "").await?;
    fill(
        driver,
        "f-notes",
        "At least 1,137; counts differ by what is counted.",
    )
    .await?;
    click(driver, By::Id("save")).await?;
    assert_notice(driver, "Saved in the draft").await?;
    // Two tabs: the other saves first; this one's save is refused, keeps
    // what was typed, shows the value saved meanwhile, and asks a choice.
    let this_tab = driver.window().await?;
    let other_tab = driver.new_tab().await?;
    driver.switch_to_window(other_tab).await?;
    driver
        .goto(format!("{changeset}/figures/injured.total"))
        .await?;
    fill(driver, "f-notes", "Written in the other tab.").await?;
    click(driver, By::Id("save")).await?;
    driver.close_window().await?;
    driver.switch_to_window(this_tab).await?;
    fill(
        driver,
        "f-notes",
        "At least 1,137; counts differ by what is counted.",
    )
    .await?;
    click(driver, By::Id("save")).await?;
    assert!(text(driver, By::Id("error"))
        .await?
        .contains("saved meanwhile"));
    let notes = el(driver, By::Id("f-notes")).await?.prop("value").await?;
    assert_eq!(
        notes.as_deref(),
        Some("At least 1,137; counts differ by what is counted.")
    );
    assert!(text(driver, By::Id("e-notes"))
        .await?
        .contains("Written in the other tab."));
    let focused = driver.active_element().await?;
    assert_eq!(focused.id().await?.as_deref(), Some("error-summary"));
    check(driver, "item-stale", f).await;
    tick(driver, By::Css("input[name='choose.notes'][value='mine']")).await?;
    click(driver, By::Id("save")).await?;
    assert_notice(driver, "Saved in the draft").await?;
    // A second draft words the same note otherwise; the first will be
    // published over it.
    driver.goto(format!("{base}/admin")).await?;
    let second = open_changeset(driver, "Word the note on the injured otherwise").await?;
    driver
        .goto(format!("{second}/figures/injured.total"))
        .await?;
    fill(driver, "f-notes", "A second wording of the note.").await?;
    click(driver, By::Id("save")).await?;
    driver.goto(&changeset).await?;
    click(driver, By::Id("submit")).await?;
    assert_notice(driver, "Submitted").await?;
    log_out(driver).await?;

    // The reviewer: the queue, the field diff, approve.
    log_in(driver, port, "rafael").await?;
    driver.goto(format!("{base}/admin/review")).await?;
    check(driver, "review-queue", f).await;
    click(driver, By::Css("ul.cards li.card h3 a")).await?;
    let diff = text(driver, By::Id("changes")).await?;
    assert!(
        diff.contains("notes") && diff.contains("counts differ by what is counted"),
        "{diff}"
    );
    check(driver, "changeset-submitted", f).await;
    fill(driver, "approve-comment", "Checked against the article.").await?;
    click(driver, By::Id("approve")).await?;
    assert_notice(driver, "Approved").await?;
    let thread = text(driver, By::Id("thread")).await?;
    assert!(thread.contains("Checked against the article."), "{thread}");
    log_out(driver).await?;

    // The curator's second draft now conflicts: the editor shows the
    // published value beside the draft's, and takes the latest with the
    // choice made for the field both changed.
    log_in(driver, port, "clara").await?;
    driver.goto(&second).await?;
    let submit = el(driver, By::Id("submit")).await?;
    assert!(!submit.is_enabled().await?, "Submit is disabled");
    assert!(text(driver, By::Id("submit-why"))
        .await?
        .contains("later published version"));
    driver
        .goto(format!("{second}/figures/injured.total"))
        .await?;
    let conflict = text(driver, By::Id("conflict")).await?;
    assert!(
        conflict.contains("A second wording of the note.")
            && conflict.contains("counts differ by what is counted"),
        "{conflict}"
    );
    check(driver, "item-conflict", f).await;
    tick(driver, By::Css("input[name='choose.notes'][value='mine']")).await?;
    click(driver, By::Id("rebase")).await?;
    assert_notice(driver, "latest published version").await?;
    assert!(driver.find_all(By::Id("conflict")).await?.is_empty());
    log_out(driver).await?;

    // The auditor: newest entries first, a date as the filter, a history.
    log_in(driver, port, "aude").await?;
    driver.goto(format!("{base}/admin/audit")).await?;
    // Newest first: the log-in just made heads the page, the publication
    // is on it.
    let entries = driver.find_all(By::Css("ol#entries > li.entry")).await?;
    let first = entries[0].text().await?;
    assert!(
        first.contains("session.login") && first.contains("aude"),
        "{first}"
    );
    let mut seqs = Vec::new();
    for e in &entries {
        let id = e.id().await?.unwrap_or_default();
        seqs.push(id.trim_start_matches("entry-").parse::<i64>().unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    assert!(text(driver, By::Id("entries"))
        .await?
        .contains("version.publish"));
    check(driver, "audit", f).await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    fill(driver, "since", &today).await?;
    click(driver, By::Id("filter")).await?;
    assert!(text(driver, By::Id("page-count"))
        .await?
        .starts_with("Page 1 of"));
    assert!(!driver
        .find_all(By::Css("ol#entries > li.entry"))
        .await?
        .is_empty());
    fill(driver, "since", "yesterday").await?;
    click(driver, By::Id("filter")).await?;
    assert!(text(driver, By::Id("since-error"))
        .await?
        .contains("not a date"));
    check(driver, "audit-error", f).await;
    driver
        .goto(format!(
            "{base}/admin/audit?entity=figure&entity_id=injured.total"
        ))
        .await?;
    let history = text(driver, By::Id("entries")).await?;
    assert!(history.contains("published as version 2"), "{history}");
    check(driver, "audit-history", f).await;
    log_out(driver).await?;

    // The admin: an account with checkboxes; the last admin refused.
    log_in(driver, port, "ada").await?;
    driver.goto(format!("{base}/admin/users")).await?;
    check(driver, "users", f).await;
    fill(driver, "new-name", "erin").await?;
    tick(driver, By::Id("new-role-curator")).await?;
    tick(driver, By::Id("new-role-reviewer")).await?;
    fill(driver, "new-password", "another long quiet evening").await?;
    click(driver, By::Id("add")).await?;
    assert_notice(driver, "The account is saved").await?;
    let erin = text(driver, By::Id("user-erin")).await?;
    assert!(erin.contains("curator reviewer"), "{erin}");
    let ada = el(driver, By::Id("user-ada")).await?;
    ada.find(By::Css("input[name='role_admin']"))
        .await?
        .click()
        .await?;
    ada.find(By::Css("input[name='role_auditor']"))
        .await?
        .click()
        .await?;
    let save = ada.find(By::Css("button")).await?;
    save.click().await?;
    save.wait_until().stale().await?;
    let refused = text(driver, By::Id("user-ada-error")).await?;
    assert!(refused.contains("admin"), "{refused}");
    check(driver, "users-refused", f).await;
    Ok(())
}

#[tokio::test]
async fn each_roles_journey_in_chromium() {
    let Some((driver, _guard)) = browser("each_roles_journey_in_chromium").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), "ada", "admin");
    add_user(dir.path(), "clara", "curator");
    add_user(dir.path(), "rafael", "reviewer");
    add_user(dir.path(), "aude", "auditor");
    let (_server, port) = common::serve_demo(dir.path(), &[]);
    let mut failures = Vec::new();
    let result = journeys(&driver, port, &mut failures).await;
    if result.is_err() {
        screenshot(&driver, "panel-failure").await;
    }
    let _ = driver.quit().await;
    result.unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
