//! The rule expression parser. Whatever the text:
//!
//! * `parse` never panics; an error names a column within the text or just
//!   past its end, and says something;
//! * an expression that parses prints (`Display`) as text that parses to
//!   the same expression, which prints the same again;
//! * its keys are figure keys, its linear form keeps no zero coefficient;
//! * as a rule of the Beslan dataset it can be checked (`checks::run`) and
//!   gets its result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil::model::expr::{self, is_figure_key};
use vigil::model::{Rule, Severity};
use vigil_fuzz::BESLAN_DATASET;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let e = match expr::parse(text) {
        Ok(e) => e,
        Err(err) => {
            let end = text.chars().count() + 1;
            assert!(
                (1..=end).contains(&err.column),
                "{text:?}: column {} outside 1..={end}",
                err.column
            );
            assert!(!err.message.is_empty(), "{text:?}: an empty message");
            return;
        }
    };
    let printed = e.to_string();
    let again = expr::parse(&printed)
        .unwrap_or_else(|err| panic!("{text:?} prints as {printed:?}, which fails: {err}"));
    assert_eq!(
        again, e,
        "{text:?} prints as {printed:?}, which parses otherwise"
    );
    assert_eq!(again.to_string(), printed);
    assert!(e.keys().into_iter().all(is_figure_key));
    assert!(e.linear().terms.values().all(|c| *c != 0));

    let mut ds = BESLAN_DATASET.clone();
    ds.rules.push(Rule {
        id: "fuzz".into(),
        expression: text.into(),
        severity: Severity::Error,
        note: String::new(),
    });
    let report = vigil::checks::run(&ds);
    assert!(
        report.results.iter().any(|r| r.check == "rule:fuzz"),
        "{text:?}: no result for the rule"
    );
});
