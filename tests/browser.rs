//! The memorial page in a real headless Chromium, driven over WebDriver.
//!
//! Needs `chromedriver` and Chromium (Debian: `apt-get install chromium
//! chromium-driver`); found on PATH or through `VIGIL_CHROMEDRIVER` and
//! `VIGIL_CHROMIUM`. Skipped with a printed reason when absent, unless
//! `VIGIL_REQUIRE_BROWSER=1` (as `.ci/run` sets). The screenshot is saved as
//! `target/screenshots/beslan-2004.png`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{free_port, wait_for_port, Killed};

use thirtyfour::prelude::*;
use thirtyfour::ChromiumLikeCapabilities;

fn find(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

#[tokio::test]
async fn the_beslan_page_in_chromium() {
    let driver_bin = find("VIGIL_CHROMEDRIVER", &["chromedriver"]);
    let browser_bin = find(
        "VIGIL_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let (Some(driver_bin), Some(browser_bin)) = (driver_bin, browser_bin) else {
        let reason =
            "chromedriver or chromium not found (apt-get install chromium chromium-driver)";
        if matches!(
            std::env::var("VIGIL_REQUIRE_BROWSER").as_deref(),
            Ok("1") | Ok("true")
        ) {
            panic!("VIGIL_REQUIRE_BROWSER is set but {reason}");
        }
        common::say(&format!(
            "SKIPPED (browser) the_beslan_page_in_chromium: {reason}"
        ));
        return;
    };

    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = common::serve_demo(dir.path(), &[]);
    let driver_port = free_port();
    let _driver = Killed(
        Command::new(&driver_bin)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(driver_port);

    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(browser_bin.to_str().unwrap()).unwrap();
    for arg in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1200,2400",
    ] {
        caps.add_arg(arg).unwrap();
    }
    let driver = WebDriver::new(format!("http://127.0.0.1:{driver_port}"), caps)
        .await
        .unwrap();
    let result = check_page(&driver, port).await;
    let _ = driver.quit().await;
    result.unwrap();
}

async fn check_page(driver: &WebDriver, port: u16) -> WebDriverResult<()> {
    driver
        .goto(format!("http://127.0.0.1:{port}/events/beslan-2004"))
        .await?;
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

    let shots = common::repo().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    driver.screenshot(&shots.join("beslan-2004.png")).await?;
    Ok(())
}
