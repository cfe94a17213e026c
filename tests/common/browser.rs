//! A real headless Chromium under WebDriver, for the browser tests, and what
//! they measure with it: axe-core's violations, sideways scrolling,
//! screenshots.
//!
//! Needs `chromedriver` and Chromium (Debian: `apt-get install chromium
//! chromium-driver`), found on PATH or through `VIGIL_CHROMEDRIVER` and
//! `VIGIL_CHROMIUM`, and axe-core from the npm registry, pinned in
//! `tests/browser/package-lock.json` (`npm ci --prefix tests/browser`).
//! When any of them is absent a test is skipped with a printed
//! `SKIPPED (browser) …` line, unless `VIGIL_REQUIRE_BROWSER=1` (as
//! `.ci/run` sets), which makes it fail.
//!
//! A browser test file takes it beside the shared test code (it is not in
//! `common/mod.rs`, so that other test binaries do not link WebDriver):
//!
//! ```ignore
//! mod common;
//! #[path = "common/browser.rs"]
//! mod browser;
//! ```
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use thirtyfour::extensions::cdp::ChromeDevTools;
use thirtyfour::prelude::*;
use thirtyfour::ChromiumLikeCapabilities;

use crate::common::{free_port, repo, say, wait_for_port, Killed};

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

/// Where the pinned axe-core is, once `npm ci --prefix tests/browser` ran.
pub fn axe_path() -> PathBuf {
    repo().join("tests/browser/node_modules/axe-core/axe.min.js")
}

fn required() -> bool {
    matches!(
        std::env::var("VIGIL_REQUIRE_BROWSER").as_deref(),
        Ok("1") | Ok("true")
    )
}

/// A headless Chromium under WebDriver, and the guard that stops the
/// driver; or `None` (with the reason printed) when Chromium, chromedriver
/// or axe-core is not installed and the browser is not required.
pub async fn browser(test: &str) -> Option<(WebDriver, Killed)> {
    let driver_bin = find("VIGIL_CHROMEDRIVER", &["chromedriver"]);
    let browser_bin = find(
        "VIGIL_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let reason = match (&driver_bin, &browser_bin) {
        (Some(_), Some(_)) if axe_path().is_file() => None,
        (Some(_), Some(_)) => Some(format!(
            "axe-core is not installed at {} (npm ci --prefix tests/browser)",
            axe_path().display()
        )),
        _ => Some(
            "chromedriver or chromium not found (apt-get install chromium chromium-driver)"
                .to_string(),
        ),
    };
    if let Some(reason) = reason {
        if required() {
            panic!("VIGIL_REQUIRE_BROWSER is set but {reason}");
        }
        say(&format!("SKIPPED (browser) {test}: {reason}"));
        return None;
    }
    let (driver_bin, browser_bin) = (driver_bin?, browser_bin?);
    let driver_port = free_port();
    let guard = Killed(
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
        "--hide-scrollbars",
        "--window-size=1200,2400",
    ] {
        caps.add_arg(arg).unwrap();
    }
    let driver = WebDriver::new(format!("http://127.0.0.1:{driver_port}"), caps)
        .await
        .unwrap();
    Some((driver, guard))
}

/// Makes the viewport exactly `width` × `height` CSS pixels (device scale
/// 1), as a window of that size on a desktop or a phone would have.
pub async fn set_width(driver: &WebDriver, width: u32, height: u32) {
    let _ = driver.set_window_rect(0, 0, width, height).await;
    ChromeDevTools::new(driver.handle.clone())
        .execute_cdp_with_params(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({
                "width": width,
                "height": height,
                "deviceScaleFactor": 1,
                "mobile": false,
            }),
        )
        .await
        .unwrap();
    let inner = driver
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap()
        .convert::<u32>()
        .unwrap();
    assert_eq!(inner, width, "the viewport is {inner} px wide, not {width}");
}

/// axe-core's violations on the page now shown, one line each: the rule,
/// what it asks, and the elements at fault. Empty when there are none.
pub async fn axe_violations(driver: &WebDriver) -> Vec<String> {
    let axe = std::fs::read_to_string(axe_path()).unwrap();
    driver.execute(&axe, vec![]).await.unwrap();
    let ret = driver
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ["violations"] })
  .then(r => done(r.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " at "
      + v.nodes.map(n => n.target.join(" ")).join(", "))))
  .catch(e => done(["axe-core failed: " + e]));"#,
            vec![],
        )
        .await
        .unwrap();
    ret.convert::<Vec<String>>().unwrap()
}

/// Whether the page fits its viewport's width: no sideways scrolling
/// (`document.documentElement.scrollWidth <= clientWidth`).
pub async fn scroll_width_fits(driver: &WebDriver) -> bool {
    driver
        .execute(
            "const d = document.documentElement; return d.scrollWidth <= d.clientWidth;",
            vec![],
        )
        .await
        .unwrap()
        .convert::<bool>()
        .unwrap()
}

/// Saves what the viewport shows as `target/screenshots/NAME.png`.
pub async fn screenshot(driver: &WebDriver, name: &str) {
    let dir = repo().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    driver
        .screenshot(&dir.join(format!("{name}.png")))
        .await
        .unwrap();
}

/// Adds a user through the CLI, the password on standard input.
pub fn add_user(dir: &std::path::Path, name: &str, role: &str) {
    use std::io::Write;
    let mut child = crate::common::vigil(dir)
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
pub async fn el(driver: &WebDriver, by: By) -> WebDriverResult<WebElement> {
    driver.query(by).first().await
}

/// The address of the page now shown, without its query.
pub async fn page_url(driver: &WebDriver) -> WebDriverResult<String> {
    Ok(driver
        .current_url()
        .await?
        .as_str()
        .split('?')
        .next()
        .unwrap()
        .to_string())
}

/// Clicks something that loads a new page, and waits until the old page is
/// gone.
pub async fn click(driver: &WebDriver, by: By) -> WebDriverResult<()> {
    let e = el(driver, by).await?;
    e.click().await?;
    e.wait_until().stale().await
}
