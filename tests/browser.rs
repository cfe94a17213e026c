//! The public and admin pages in a real headless Chromium, driven over
//! WebDriver (see `tests/common/browser.rs` for what it needs and how it
//! skips). Screenshots are saved in `target/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;

use common::browser::{axe_violations, browser, screenshot, set_width};

use thirtyfour::prelude::*;

#[tokio::test]
async fn the_beslan_page_in_chromium() {
    let Some((driver, _guard)) = browser("the_beslan_page_in_chromium").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = common::serve_demo(dir.path(), &[]);
    let result = check_page(&driver, port).await;
    let _ = driver.quit().await;
    result.unwrap();
}

async fn check_page(driver: &WebDriver, port: u16) -> WebDriverResult<()> {
    set_width(driver, 1366, 768).await;
    driver
        .goto(format!("http://127.0.0.1:{port}/events/beslan-2004"))
        .await?;
    let violations = axe_violations(driver).await;
    assert!(violations.is_empty(), "axe-core: {violations:#?}");
    assert_eq!(driver.title().await?, "Beslan school siege — vigil");

    // The fatality table: the total and its seven categories, adding up to 334.
    let rows = driver.find_all(By::Css("tbody#fatalities tr")).await?;
    assert_eq!(rows.len(), 8, "the total and seven categories");
    let mut sum = 0;
    for row in &rows[1..] {
        let value = row.find(By::Css("td.value")).await?.text().await?;
        sum += value.replace(',', "").parse::<i64>().unwrap();
    }
    assert_eq!(sum, 334);
    let total = rows[0].find(By::Css("td.value")).await?.text().await?;
    assert!(total.contains("334"), "{total}");
    let caption = driver
        .find(By::Css("table.figures caption"))
        .await?
        .text()
        .await?;
    assert!(caption.contains("Beslan school siege"), "{caption}");

    // The chart is drawn, one bar per category, and is labelled.
    let chart = driver.find(By::Css("svg.chart")).await?;
    assert!(chart.is_displayed().await?);
    assert_eq!(
        driver
            .find_all(By::Css("svg.chart rect.chart-bar"))
            .await?
            .len(),
        7
    );
    assert_eq!(chart.attr("role").await?.as_deref(), Some("img"));

    // A disputed figure lists its sources side by side: 334 and 335.
    let dispute = driver.find(By::Css("table#dispute-fatalities")).await?;
    let text = dispute.text().await?;
    assert!(text.contains("334") && text.contains("335"), "{text}");
    assert!(dispute.find_all(By::Css("tbody tr")).await?.len() >= 2);
    // The discredited 354 is shown as such.
    let hostages = driver
        .find(By::Css("table#dispute-hostages\\.total"))
        .await?
        .text()
        .await?;
    assert!(
        hostages.contains("354") && hostages.contains("deprecated: discredited"),
        "{hostages}"
    );

    // Keyboard: the first Tab reaches the skip link.
    driver
        .find(By::Css("body"))
        .await?
        .send_keys(Key::Tab)
        .await?;
    let active = driver.active_element().await?;
    assert_eq!(active.text().await?, "Skip to the content");

    screenshot(driver, "beslan-2004").await;
    Ok(())
}

/// Adds a user through the CLI, the password on standard input.
fn add_user(dir: &std::path::Path, name: &str, role: &str) {
    use std::io::Write;
    let mut child = common::vigil(dir)
        .args(["user", "add", name, "--role", role])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long quiet evening\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The element, once the page has it (waits for a page that is loading).
async fn el(driver: &WebDriver, by: By) -> WebDriverResult<WebElement> {
    driver.query(by).first().await
}

/// Clicks a button that loads a new page, and waits until the old page is gone.
async fn submit(driver: &WebDriver, by: By) -> WebDriverResult<()> {
    let button = el(driver, by).await?;
    button.click().await?;
    button.wait_until().stale().await
}

async fn log_in(driver: &WebDriver, port: u16, name: &str) -> WebDriverResult<()> {
    driver
        .goto(format!("http://127.0.0.1:{port}/admin"))
        .await?;
    assert!(driver
        .current_url()
        .await?
        .as_str()
        .ends_with("/admin/login"));
    driver
        .find(By::Id("username"))
        .await?
        .send_keys(name)
        .await?;
    driver
        .find(By::Id("password"))
        .await?
        .send_keys("a long quiet evening")
        .await?;
    submit(driver, By::Css("form[action='/admin/login'] button")).await?;
    assert_eq!(el(driver, By::Css("h1")).await?.text().await?, "Dashboard");
    Ok(())
}

async fn notice(driver: &WebDriver) -> WebDriverResult<String> {
    el(driver, By::Css("p.notice")).await?.text().await
}

async fn four_eyes(driver: &WebDriver, port: u16, shots: &std::path::Path) -> WebDriverResult<()> {
    // The curator opens a draft, edits a figure, and submits.
    log_in(driver, port, "clara").await?;
    driver
        .find(By::Id("reason"))
        .await?
        .send_keys("Clarify what the count of the injured includes")
        .await?;
    submit(driver, By::Css("form[action='/admin/changesets'] button")).await?;
    assert!(notice(driver).await?.contains("The draft is open"));
    let changeset_url = driver
        .current_url()
        .await?
        .as_str()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    driver
        .find(By::Id("key"))
        .await?
        .send_keys("injured.total")
        .await?;
    submit(driver, By::Css("form[action$='/edit'] button")).await?;
    // A bad number is refused, the message next to its field, nothing stored.
    let low = el(driver, By::Id("f-low")).await?;
    low.clear().await?;
    low.send_keys("1,000").await?;
    submit(driver, By::Id("save")).await?;
    let err = el(driver, By::Id("e-low")).await?.text().await?;
    assert!(err.contains("not a whole number"), "{err}");
    let low = el(driver, By::Id("f-low")).await?;
    assert_eq!(low.attr("aria-invalid").await?.as_deref(), Some("true"));
    low.clear().await?;
    low.send_keys("800").await?;
    let notes = el(driver, By::Id("f-notes")).await?;
    notes.clear().await?;
    notes
        .send_keys("800+ treated in hospital; counts differ by what is counted.")
        .await?;
    submit(driver, By::Id("save")).await?;
    assert!(notice(driver).await?.contains("Saved in the draft"));
    // An upload of the repository's files, previewed: it would undo the edit.
    driver.goto(&changeset_url).await?;
    let paths: Vec<String> = [
        "event.csv",
        "sources.csv",
        "figures.csv",
        "claims.csv",
        "rules.csv",
    ]
    .iter()
    .map(|f| common::beslan_dir().join(f).display().to_string())
    .collect();
    el(driver, By::Id("files"))
        .await?
        .send_keys(paths.join("\n"))
        .await?;
    submit(driver, By::Id("import")).await?;
    let preview = driver.find_all(By::Css("ul#import-changes > li")).await?;
    assert_eq!(preview.len(), 1);
    assert!(preview[0].text().await?.contains("figures/injured.total"));
    assert!(notice(driver).await?.contains("Nothing was stored"));
    driver.goto(&changeset_url).await?;
    let changes = driver.find_all(By::Css("ul#changes > li")).await?;
    assert_eq!(changes.len(), 1);
    assert!(changes[0].text().await?.contains("figures/injured.total"));
    submit(driver, By::Id("submit")).await?;
    assert!(notice(driver).await?.contains("Submitted for review"));
    // The author sees no approve button.
    assert!(driver.find_all(By::Id("approve")).await?.is_empty());
    driver
        .screenshot(&shots.join("admin-changeset-submitted.png"))
        .await?;
    submit(driver, By::Css("form.logout button")).await?;
    assert!(driver
        .current_url()
        .await?
        .as_str()
        .ends_with("/admin/login"));

    // The reviewer finds it in the queue and approves; the public page shows version 2.
    log_in(driver, port, "rafael").await?;
    driver
        .goto(format!("http://127.0.0.1:{port}/admin/review"))
        .await?;
    submit(driver, By::Css("ul.cards li.card h3 a")).await?;
    submit(driver, By::Id("approve")).await?;
    assert!(notice(driver).await?.contains("Approved"));
    driver
        .screenshot(&shots.join("admin-changeset-approved.png"))
        .await?;
    driver
        .goto(format!("http://127.0.0.1:{port}/events/beslan-2004"))
        .await?;
    let page = el(driver, By::Css("main")).await?.text().await?;
    assert!(
        page.contains("counts differ by what is counted"),
        "the new note is public"
    );
    let version = driver
        .find(By::Css("section.version dd"))
        .await?
        .text()
        .await?;
    assert!(version.starts_with("2,"), "{version}");

    // The auditor sees the log verified, and one figure's history.
    driver
        .goto(format!("http://127.0.0.1:{port}/admin"))
        .await?;
    submit(driver, By::Css("form.logout button")).await?;
    log_in(driver, port, "aude").await?;
    driver
        .goto(format!("http://127.0.0.1:{port}/admin/audit"))
        .await?;
    let verified = el(driver, By::Id("verification")).await?.text().await?;
    assert!(verified.contains("The log holds"), "{verified}");
    let log = el(driver, By::Css("ol#entries")).await?.text().await?;
    assert!(
        log.contains("changeset.approve") && log.contains("version.publish"),
        "{log}"
    );
    driver
        .goto(format!(
            "http://127.0.0.1:{port}/admin/audit?entity=figure&entity_id=beslan-2004/injured.total"
        ))
        .await?;
    let rows = driver.find_all(By::Css("ol#entries > li.entry")).await?;
    assert_eq!(rows.len(), 1, "one save; the refused one left no entry");
    let row = rows[0].text().await?;
    assert!(
        row.contains("clara") && row.contains("changeset.edit"),
        "{row}"
    );
    driver.screenshot(&shots.join("admin-audit.png")).await?;
    Ok(())
}

#[tokio::test]
async fn the_four_eyes_flow_in_chromium() {
    let Some((driver, _guard)) = browser("the_four_eyes_flow_in_chromium").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), "clara", "curator");
    add_user(dir.path(), "rafael", "reviewer");
    add_user(dir.path(), "aude", "auditor");
    let (_server, port) = common::serve_demo(dir.path(), &[]);
    let shots = common::repo().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let result = four_eyes(&driver, port, &shots).await;
    if result.is_err() {
        let _ = driver.screenshot(&shots.join("admin-failure.png")).await;
    }
    let _ = driver.quit().await;
    result.unwrap();
}
