//! The text policy: what text vigil accepts, the same at every entry point
//! (JSON bodies, the panel's forms, CSV imports, the command line). Plain
//! Rust: no HTTP, no SQL.
//!
//! - No text may hold the NUL character (U+0000): PostgreSQL cannot store it,
//!   and a deployment must restore from SQLite into PostgreSQL.
//! - Every text field has a length limit, counted in characters (Unicode
//!   scalar values, as JSON Schema's `maxLength` counts): [`limit`].
//! - The text of the dataset (what `figures.csv` and the other import files
//!   hold) may not start with `=`, `+` or `@`, which a spreadsheet takes for
//!   a formula: [`check_data`]. Other CSV meant for spreadsheets (the audit
//!   export) neutralises such cells instead: [`neutralise`].
//! - A source's URL is `http` or `https`: [`check_url`].

use std::borrow::Cow;
use std::fmt;

/// Identifiers: slugs, keys, ids, and the figures and sources they name.
pub const IDENTIFIER: usize = 100;
/// User and token names.
pub const USER_NAME: usize = 64;
/// Passwords (the password policy's upper bound).
pub const PASSWORD: usize = 128;
/// Secrets and tokens sent back by forms: CSRF and setup tokens, ETags.
pub const TOKEN: usize = 128;
/// Words from a closed list (kind, status, rank, roles …) and dates.
pub const WORD: usize = 64;
/// Short text: titles, labels, locations, authors, publishers, locators,
/// units.
pub const SHORT: usize = 500;
/// A source's URL.
pub const URL: usize = 2048;
/// Reasons and comments of changesets, and short quotes.
pub const REASON: usize = 2000;
/// Long text: summaries, notes, rule expressions.
pub const LONG: usize = 10_000;
/// A field the policy does not name.
pub const OTHER: usize = 2000;

/// The most characters the field called `field` may hold. Fields have the
/// same name at every entry point: the JSON field, the form field and the
/// CSV column.
pub fn limit(field: &str) -> usize {
    match field {
        "slug" | "key" | "id" | "figure" | "source" | "parent" | "event" => IDENTIFIER,
        "username" | "name" | "user" | "owner" => USER_NAME,
        "password" => PASSWORD,
        "csrf_token" | "token" | "etag" | "login_token" => TOKEN,
        "kind" | "status" | "rank" | "breakdown" | "severity" | "qualifier" | "state" | "role"
        | "roles" | "started_on" | "ended_on" | "published_on" | "as_of" | "timezone"
        | "position" | "low" | "best" | "high" | "approximation" | "disabled" | "preview" => WORD,
        "title" | "label" | "location" | "author" | "publisher" | "locator" | "unit" => SHORT,
        "url" => URL,
        "reason" | "comment" | "quote" => REASON,
        "summary" | "notes" | "note" | "expression" => LONG,
        _ => OTHER,
    }
}

/// What is wrong with a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// It holds U+0000.
    Nul,
    /// It has more characters than the field allows.
    TooLong { limit: usize, chars: usize },
    /// It starts with a character a spreadsheet takes for a formula.
    Formula(char),
    /// A URL whose scheme is not http or https.
    Scheme,
}

/// A text refused, and the field it was in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    pub field: String,
    pub violation: Violation,
}

/// Why text holding U+0000 is refused.
pub const NUL: &str = "text may not hold the NUL character (U+0000)";

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Nul => f.write_str(NUL),
            Violation::TooLong { limit, chars } => {
                write!(f, "{chars} characters; it may have at most {limit}")
            }
            Violation::Formula(c) => write!(
                f,
                "text may not start with '{c}', which a spreadsheet reads as a formula \
                 (start it with a letter, or put a space or an apostrophe first)"
            ),
            Violation::Scheme => f.write_str("a source's URL must start with http:// or https://"),
        }
    }
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.violation)
    }
}

impl std::error::Error for TextError {}

fn refuse(field: &str, violation: Violation) -> Result<(), TextError> {
    Err(TextError {
        field: field.to_string(),
        violation,
    })
}

/// Checks the text of any field: no NUL, within the field's [`limit`].
pub fn check(field: &str, value: &str) -> Result<(), TextError> {
    check_within(field, value, limit(field))
}

/// [`check`] with an explicit limit, for text whose bound is not its name's
/// (a whole file sent in a JSON body).
pub fn check_within(field: &str, value: &str, limit: usize) -> Result<(), TextError> {
    if value.len() > limit {
        // Bytes are at least as many as characters: count only then.
        let chars = value.chars().count();
        if chars > limit {
            return refuse(field, Violation::TooLong { limit, chars });
        }
    }
    if value.contains('\0') {
        return refuse(field, Violation::Nul);
    }
    Ok(())
}

/// The characters a dataset's text may not start with: a spreadsheet opening
/// an export would run it as a formula.
pub const FORMULA_STARTS: [char; 3] = ['=', '+', '@'];

/// Checks a text field of the dataset (an event, a source, a figure, a
/// claim, a rule): [`check`], and no formula start; a URL must be http(s).
pub fn check_data(field: &str, value: &str) -> Result<(), TextError> {
    check(field, value)?;
    if let Some(c) = value.chars().next().filter(|c| FORMULA_STARTS.contains(c)) {
        return refuse(field, Violation::Formula(c));
    }
    if field == "url" {
        check_url(field, value)?;
    }
    Ok(())
}

/// A source's URL: empty, or `http://…` or `https://…` (the scheme in any
/// case), so that no `javascript:` or `data:` link reaches a page.
pub fn check_url(field: &str, value: &str) -> Result<(), TextError> {
    if value.is_empty() {
        return Ok(());
    }
    match value.split_once("://") {
        Some((scheme, rest))
            if !rest.is_empty()
                && (scheme.eq_ignore_ascii_case("http")
                    || scheme.eq_ignore_ascii_case("https")) =>
        {
            Ok(())
        }
        _ => refuse(field, Violation::Scheme),
    }
}

/// The characters that start a formula in a spreadsheet cell, after OWASP's
/// advice on CSV injection.
pub const SPREADSHEET_FORMULA: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell of CSV meant for spreadsheets: one that a spreadsheet would read
/// as a formula is prefixed with a single quote, which shows it as text.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if SPREADSHEET_FORMULA.contains(&c) => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_length_are_refused_naming_the_field() {
        assert_eq!(check("notes", "fine"), Ok(()));
        let e = check("username", "x\0y").unwrap_err();
        assert_eq!(e.violation, Violation::Nul);
        assert_eq!(e.to_string(), format!("username: {NUL}"));
        let long = "é".repeat(USER_NAME + 1);
        let e = check("username", &long).unwrap_err();
        assert_eq!(
            e.violation,
            Violation::TooLong {
                limit: USER_NAME,
                chars: USER_NAME + 1
            }
        );
        // Characters are counted, not bytes.
        assert_eq!(check("username", &"é".repeat(USER_NAME)), Ok(()));
        assert_eq!(check("unheard_of", &"a".repeat(OTHER)), Ok(()));
        assert!(check("unheard_of", &"a".repeat(OTHER + 1)).is_err());
    }

    #[test]
    fn dataset_text_may_not_start_a_formula() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "@SUM(A1)"] {
            let e = check_data("notes", bad).unwrap_err();
            assert!(matches!(e.violation, Violation::Formula(_)), "{bad}");
        }
        for good in ["-", "- a list", "a = b", " =1", "'=1", ""] {
            assert_eq!(check_data("notes", good), Ok(()), "{good}");
        }
    }

    #[test]
    fn urls_are_http_or_https() {
        for good in ["", "https://example.org/a", "HTTP://example.org"] {
            assert_eq!(check_data("url", good), Ok(()), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript://%0aalert(1)",
            "data:text/html,x",
            "ftp://example.org",
            "https://",
            "example.org",
            "//example.org",
        ] {
            let e = check_data("url", bad).unwrap_err();
            assert_eq!(e.violation, Violation::Scheme, "{bad}");
        }
    }

    #[test]
    fn spreadsheet_cells_are_neutralised() {
        for (cell, want) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@A1", "'@A1"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("plain", "plain"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), want);
        }
    }
}
