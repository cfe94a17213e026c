//! The way through the code runs downwards: HTTP and the CLI call the
//! service, the service calls storage; the domain, the checks and the audit
//! log's tree know nothing of HTTP, SQL or the service. Read off the
//! sources, so a shortcut through a layer fails here with its file and line.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

fn sources(under: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(under);
    if root.is_file() {
        return vec![root];
    }
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every line of code (comments left out) under `under` that names one of
/// `forbidden`, as "file:line: text".
fn offences(under: &[&str], forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in under.iter().flat_map(|u| sources(u)) {
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn http_and_the_cli_reach_storage_only_through_the_service() {
    let found = offences(&["src/http", "src/cli.rs"], &["db::", "diesel"]);
    assert!(
        found.is_empty(),
        "HTTP or the CLI reaches past the service:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_domain_and_the_checks_know_nothing_of_http_sql_or_the_service() {
    let found = offences(
        &[
            "src/model",
            "src/checks",
            "src/audit",
            "src/files.rs",
            "src/text.rs",
        ],
        &[
            "actix",
            "diesel",
            "crate::db",
            "crate::service",
            "crate::http",
            "crate::cli",
        ],
    );
    assert!(
        found.is_empty(),
        "the domain reaches upwards:\n{}",
        found.join("\n")
    );
}

#[test]
fn storage_knows_nothing_of_http_or_the_service() {
    let found = offences(
        &["src/db"],
        &["actix", "crate::service", "crate::http", "crate::cli"],
    );
    assert!(
        found.is_empty(),
        "storage reaches upwards:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_service_knows_nothing_of_http() {
    let found = offences(&["src/service"], &["actix", "crate::http", "crate::cli"]);
    assert!(
        found.is_empty(),
        "the service reaches upwards:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_error_type_depends_on_no_layer_above_the_domain() {
    let found = offences(
        &["src/error.rs"],
        &[
            "actix",
            "crate::db",
            "crate::service",
            "crate::http",
            // What only HTTP refuses is HTTP's own error (http::problem::HttpError).
            "TooLarge",
            "UnsupportedMediaType",
            "PreconditionRequired",
        ],
    );
    assert!(
        found.is_empty(),
        "the error type reaches upwards:\n{}",
        found.join("\n")
    );
}
