//! Tests of the checks on whole datasets: messages, outcomes against brute
//! force, sources that disagree with themselves, the Beslan dataset.

use proptest::prelude::*;

use super::*;
use crate::model::{
    Breakdown, Claim, DeprecationReason, Event, Figure, PartialDate, Rank, Rule, Source,
    SourceKind, Status, Value,
};

fn date(s: &str) -> PartialDate {
    s.parse().unwrap()
}

fn exact(n: i64) -> Value {
    Value::exact(n)
}

fn range(lo: i64, hi: i64) -> Value {
    Value {
        low: Some(lo),
        best: None,
        high: Some(hi),
    }
}

fn at_least(lo: i64) -> Value {
    Value {
        low: Some(lo),
        ..Value::default()
    }
}

fn fig(key: &str, parent: Option<&str>, breakdown: Option<Breakdown>, v: Value) -> Figure {
    Figure {
        key: key.into(),
        label: key.into(),
        unit: "persons".into(),
        parent: parent.map(Into::into),
        breakdown,
        position: 0,
        low: v.low,
        best: v.best,
        high: v.high,
        status: Status::Confirmed,
        notes: String::new(),
    }
}

fn claim(id: &str, figure: &str, source: &str, v: Value, rank: Rank) -> Claim {
    Claim {
        id: id.into(),
        figure: figure.into(),
        source: source.into(),
        low: v.low,
        best: v.best,
        high: v.high,
        qualifier: None,
        as_of: Some(date("2004-09-07")),
        rank,
        deprecation_reason: (rank == Rank::Deprecated).then_some(DeprecationReason::Discredited),
        locator: String::new(),
        quote: String::new(),
        note: String::new(),
    }
}

fn source(key: &str) -> Source {
    Source {
        key: key.into(),
        title: key.into(),
        author: String::new(),
        publisher: String::new(),
        kind: SourceKind::Official,
        published_on: None,
        url: String::new(),
        notes: String::new(),
    }
}

fn rule(id: &str, expression: &str, severity: Severity) -> Rule {
    Rule {
        id: id.into(),
        expression: expression.into(),
        severity,
        note: String::new(),
    }
}

/// A dataset of these figures, each with a preferred claim of its own value
/// from source "s" (figures without value get none).
fn dataset(figures: Vec<Figure>, rules: Vec<Rule>) -> Dataset {
    let claims = figures
        .iter()
        .filter(|f| !f.value().is_empty())
        .map(|f| {
            claim(
                &format!("c-{}", f.key),
                &f.key,
                "s",
                f.value(),
                Rank::Preferred,
            )
        })
        .collect();
    Dataset {
        event: Event {
            slug: "test-event".into(),
            title: "Test".into(),
            location: String::new(),
            started_on: date("2004-09-01"),
            ended_on: date("2004-09-03"),
            timezone: "UTC".into(),
            summary: String::new(),
            approximation: None,
        },
        sources: vec![source("s")],
        figures,
        claims,
        rules,
    }
}

fn find<'r>(report: &'r Report, check: &str, subject: &str) -> &'r CheckResult {
    report
        .results
        .iter()
        .find(|r| r.check == check && r.subject == subject)
        .unwrap_or_else(|| panic!("no {check} result for {subject} in {:#?}", report.results))
}

fn fatalities(total: Value) -> Dataset {
    let parts = [
        ("children", 186),
        ("guests", 112),
        ("staff", 17),
        ("fsb", 10),
        ("civilian_rescuers", 6),
        ("moes", 2),
        ("moia", 1),
    ];
    let mut figures = vec![fig("fatalities", None, Some(Breakdown::Exhaustive), total)];
    for (k, n) in parts {
        figures.push(fig(
            &format!("fatalities.{k}"),
            Some("fatalities"),
            None,
            exact(n),
        ));
    }
    dataset(figures, vec![])
}

#[test]
fn exhaustive_breakdown_messages() {
    let r = run(&fatalities(exact(334)));
    let b = find(&r, "breakdown", "fatalities");
    assert_eq!(b.outcome, Outcome::Holds);
    assert_eq!(b.severity, Severity::Error);
    assert_eq!(b.message, "7 categories add up to 334 = fatalities 334");
    assert_eq!(b.figures.len(), 8);
    assert_eq!(b.figures[..2], ["fatalities", "fatalities.children"]);
    assert_eq!(r.status, Outcome::Holds);

    let r = run(&fatalities(exact(335)));
    let b = find(&r, "breakdown", "fatalities");
    assert_eq!(b.outcome, Outcome::Violated);
    assert_eq!(
        b.message,
        "categories add up to 334 but fatalities is 335 (fatalities.children 186 + \
         fatalities.guests 112 + fatalities.staff 17 + fatalities.fsb 10 + \
         fatalities.civilian_rescuers 6 + fatalities.moes 2 + fatalities.moia 1)"
    );
    assert_eq!(r.status, Outcome::Violated);
    assert_eq!(r.blocking(), vec![b]);

    let r = run(&fatalities(range(334, 335)));
    let b = find(&r, "breakdown", "fatalities");
    assert_eq!(b.outcome, Outcome::Uncertain);
    assert!(
        b.message.starts_with(
            "the categories imply 334; fatalities says 334–335: its high end cannot be reached ("
        ),
        "{}",
        b.message
    );
    assert_eq!(r.status, Outcome::Uncertain);
    assert!(r.blocking().is_empty());
}

#[test]
fn uncertain_sum_says_which_end_cannot_be_reached() {
    let ds = dataset(
        vec![
            fig(
                "total",
                None,
                Some(Breakdown::Exhaustive),
                range(30_000, 77_413),
            ),
            fig("total.a", Some("total"), None, range(30_000, 70_000)),
            fig("total.b", Some("total"), None, range(4_900, 7_413)),
        ],
        vec![],
    );
    let b = run(&ds);
    let b = find(&b, "breakdown", "total");
    assert_eq!(b.outcome, Outcome::Uncertain);
    assert_eq!(
        b.message,
        "the categories imply 34,900–77,413; total says 30,000–77,413: its low end cannot be reached \
         (total.a 30,000–70,000 + total.b 4,900–7,413)"
    );
}

#[test]
fn partial_and_overlapping_breakdowns() {
    let ds = dataset(
        vec![
            fig("died", None, Some(Breakdown::Partial), exact(31)),
            fig("died.before", Some("died"), None, at_least(4)),
            fig("died.after", Some("died"), None, exact(20)),
            fig("involved", None, Some(Breakdown::Partial), exact(34)),
            fig("involved.at_large", Some("involved"), None, exact(2)),
            fig("small", None, Some(Breakdown::Partial), exact(3)),
            fig("small.a", Some("small"), None, exact(2)),
            fig("small.b", Some("small"), None, exact(2)),
            fig("hostages", None, Some(Breakdown::Overlapping), exact(354)),
            fig("hostages.children", Some("hostages"), None, exact(777)),
            fig("hostages.women", Some("hostages"), None, at_least(300)),
            fig("hostages.men", Some("hostages"), None, exact(100)),
            fig("injured", None, Some(Breakdown::Overlapping), at_least(800)),
            fig(
                "injured.outpatients",
                Some("injured"),
                None,
                range(700, 753),
            ),
        ],
        vec![],
    );
    let r = run(&ds);
    let b = find(&r, "breakdown", "died");
    assert_eq!(b.outcome, Outcome::Uncertain);
    assert_eq!(
        b.message,
        "the categories imply 24+; died says 31: the categories can add up to more than it \
         (died.before 4+ + died.after 20)"
    );
    let b = find(&r, "breakdown", "involved");
    assert_eq!(
        (b.outcome, b.message.as_str()),
        (
            Outcome::Holds,
            "1 category adds up to 2, within involved 34"
        )
    );
    let b = find(&r, "breakdown", "small");
    assert_eq!(
        (b.outcome, b.message.as_str()),
        (
            Outcome::Violated,
            "2 categories add up to 4, more than small 3 (small.a 2 + small.b 2)"
        )
    );
    let b = find(&r, "breakdown", "hostages");
    assert_eq!(b.outcome, Outcome::Violated);
    assert_eq!(
        b.message,
        "hostages.children 777 is more than hostages 354; hostages.women 300+ can be more than hostages 354"
    );
    let b = find(&r, "breakdown", "injured");
    assert_eq!(
        (b.outcome, b.message.as_str()),
        (Outcome::Holds, "1 category is within injured 800+")
    );
}

#[test]
fn range_checks_figures_and_reports_only_bad_claims() {
    let mut ds = dataset(
        vec![
            fig("a", None, None, exact(5)),
            fig(
                "b",
                None,
                None,
                Value {
                    low: Some(10),
                    best: Some(5),
                    high: Some(3),
                },
            ),
            fig("c", None, None, Value::default()),
        ],
        vec![rule("b-small", "b <= 100", Severity::Error)],
    );
    ds.claims
        .push(claim("neg", "a", "s", exact(-1), Rank::Normal));
    let r = run(&ds);
    // Well-formed values, figures' or claims', get no range result.
    assert!(!r
        .results
        .iter()
        .any(|x| x.check == "range" && ["a", "c", "c-a"].contains(&x.subject.as_str())));
    let b = find(&r, "range", "b");
    assert_eq!(b.outcome, Outcome::Violated);
    assert_eq!(
        b.message,
        "b is 5 (10–3): low 10 is above high 3; best 5 is below low 10; best 5 is above high 3"
    );
    let n = find(&r, "range", "neg");
    assert_eq!(n.claim.as_deref(), Some("neg"));
    assert_eq!(n.sources, ["s"]);
    assert_eq!(
        n.message,
        "claim neg (source s) gives a as -1: best is -1: counts and amounts cannot be negative"
    );
    // Good claims get no range result.
    assert!(!r
        .results
        .iter()
        .any(|x| x.check == "range" && x.subject == "c-a"));
    // A rule over an impossible value is not decided.
    let rb = find(&r, "rule:b-small", "b-small");
    assert_eq!(rb.outcome, Outcome::Uncertain);
    assert_eq!(
        rb.message,
        "cannot be checked: b has an impossible value, low 10 above high 3"
    );
}

#[test]
fn cited_and_within_sources() {
    let mut ds = dataset(
        vec![
            fig("covered", None, None, range(334, 335)),
            fig("uncited", None, None, exact(7)),
            fig("outside", None, None, exact(50)),
            fig("wider", None, None, at_least(30)),
            fig("blank", None, None, Value::default()),
        ],
        vec![],
    );
    ds.sources.push(source("town"));
    ds.claims
        .retain(|c| c.figure == "covered" || c.figure == "wider");
    ds.claims[0].best = Some(334);
    ds.claims[0].low = None;
    ds.claims[0].high = None;
    ds.claims.push(claim(
        "town-335",
        "covered",
        "town",
        exact(335),
        Rank::Preferred,
    ));
    ds.claims
        .push(claim("n-7", "uncited", "s", exact(7), Rank::Normal));
    ds.claims
        .push(claim("o-32", "outside", "s", exact(32), Rank::Preferred));
    ds.claims[1].low = Some(30);
    ds.claims[1].high = Some(76);
    let r = run(&ds);

    let c = find(&r, "cited", "covered");
    assert_eq!(c.outcome, Outcome::Holds);
    assert_eq!(
        c.message,
        "covered 334–335 rests on 2 preferred claims from s, town"
    );
    assert_eq!(c.sources, ["s", "town"]);
    let c = find(&r, "cited", "uncited");
    assert_eq!(c.outcome, Outcome::Violated);
    assert_eq!(c.severity, Severity::Error);
    assert_eq!(
        c.message,
        "uncited 7 has no preferred claim (its 1 claim is not preferred): cite a source"
    );
    assert!(!r
        .results
        .iter()
        .any(|x| x.subject == "blank" && x.check != "range"));

    let w = find(&r, "within_sources", "covered");
    assert_eq!(w.outcome, Outcome::Holds);
    assert_eq!(
        w.message,
        "covered 334–335 lies within what its sources (s, town) say 334–335"
    );
    let w = find(&r, "within_sources", "outside");
    assert_eq!(w.outcome, Outcome::Violated);
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(
        w.message,
        "outside 50 lies outside what its sources (s) say 32"
    );
    let w = find(&r, "within_sources", "wider");
    assert_eq!(w.outcome, Outcome::Uncertain);
    assert_eq!(
        w.message,
        "wider 30+ reaches beyond what its sources (s) say 30–76: its high end is not backed by a source"
    );
    assert!(!r
        .results
        .iter()
        .any(|x| x.check == "within_sources" && x.subject == "uncited"));
    // Warnings and an uncited figure: the uncited figure blocks.
    assert_eq!(r.status, Outcome::Violated);
    assert_eq!(r.blocking().len(), 1);
}

#[test]
fn rule_messages_show_both_sides_with_values() {
    let ds = dataset(
        vec![
            fig("hostages.total", None, None, exact(354)),
            fig("hostages.children", None, None, exact(777)),
            fig("militants.died", None, None, exact(31)),
            fig("militants.captured", None, None, exact(1)),
            fig("militants.entered", None, None, range(32, 76)),
            fig("militants.escaped", None, None, Value::default()),
        ],
        vec![
            rule(
                "children-within-total",
                "hostages.children <= hostages.total",
                Severity::Error,
            ),
            rule(
                "official-count",
                "militants.died + militants.captured = militants.entered",
                Severity::Warning,
            ),
            rule(
                "twice",
                "2 * militants.captured + 3 < militants.died - militants.escaped",
                Severity::Warning,
            ),
            rule("count-holds", "militants.died + 1 >= 32", Severity::Warning),
            rule("broken", "militants.died <= nobody", Severity::Error),
        ],
    );
    let r = run(&ds);
    let x = find(&r, "rule:children-within-total", "children-within-total");
    assert_eq!(
        (x.outcome, x.severity),
        (Outcome::Violated, Severity::Error)
    );
    assert_eq!(x.message, "hostages.children 777 > hostages.total 354");
    assert_eq!(x.figures, ["hostages.children", "hostages.total"]);
    let x = find(&r, "rule:official-count", "official-count");
    assert_eq!(x.outcome, Outcome::Uncertain);
    assert_eq!(
        x.message,
        "militants.died 31 + militants.captured 1 (together 32) = militants.entered 32–76 \
         only for some values in these ranges"
    );
    let x = find(&r, "rule:twice", "twice");
    assert_eq!(x.outcome, Outcome::Uncertain);
    assert_eq!(
        x.message,
        "2 × militants.captured 1 + 3 (together 5) < militants.died 31 - militants.escaped unknown \
         (together at most 31) only for some values in these ranges"
    );
    let x = find(&r, "rule:count-holds", "count-holds");
    assert_eq!(
        (x.outcome, x.message.as_str()),
        (Outcome::Holds, "militants.died 31 + 1 (together 32) ≥ 32")
    );
    let x = find(&r, "rule:broken", "broken");
    assert_eq!(x.outcome, Outcome::Uncertain);
    assert_eq!(
        x.message,
        "cannot be checked: the rule names an unknown figure 'nobody'"
    );
    assert_eq!(r.status, Outcome::Violated);
}

#[test]
fn what_if_names_the_claim_its_source_and_the_broken_rule() {
    let mut ds = dataset(
        vec![
            fig("hostages.total", None, None, exact(1128)),
            fig("hostages.children", None, None, exact(777)),
        ],
        vec![rule(
            "hostages-children-within-total",
            "hostages.children <= hostages.total",
            Severity::Error,
        )],
    );
    ds.sources.push(source("officials-2004"));
    ds.sources.push(source("relatives"));
    ds.claims.push(claim(
        "hostages-official-354",
        "hostages.total",
        "officials-2004",
        exact(354),
        Rank::Deprecated,
    ));
    ds.claims.push(claim(
        "hostages-relatives-800",
        "hostages.total",
        "relatives",
        at_least(800),
        Rank::Normal,
    ));
    let r = run(&ds);
    let w: Vec<&CheckResult> = r.results.iter().filter(|x| x.check == "what_if").collect();
    assert_eq!(w.len(), 1, "{w:#?}");
    let w = w[0];
    assert_eq!(w.subject, "hostages-official-354");
    assert_eq!(w.claim.as_deref(), Some("hostages-official-354"));
    assert_eq!(
        (w.outcome, w.severity),
        (Outcome::Violated, Severity::Warning)
    );
    assert_eq!(w.sources, ["officials-2004"]);
    assert_eq!(w.figures, ["hostages.total", "hostages.children"]);
    assert_eq!(
        w.message,
        "if hostages.total were 354 (claim hostages-official-354, source officials-2004): \
         rule hostages-children-within-total fails: hostages.children 777 > hostages.total 354"
    );
    // A warning alone does not block.
    assert_eq!(r.status, Outcome::Uncertain);
    assert!(r.blocking().is_empty());
}

#[test]
fn what_if_covers_breakdowns_and_skips_what_is_already_broken() {
    let mut ds = dataset(
        vec![
            fig("t", None, Some(Breakdown::Exhaustive), exact(10)),
            fig("t.a", Some("t"), None, exact(4)),
            fig("t.b", Some("t"), None, exact(6)),
            fig("x", None, None, exact(5)),
        ],
        vec![rule("x-small", "x <= 1", Severity::Warning)],
    );
    ds.claims
        .push(claim("a-5", "t.a", "s", exact(5), Rank::Normal));
    ds.claims
        .push(claim("a-3-5", "t.a", "s", range(3, 5), Rank::Normal));
    ds.claims
        .push(claim("x-9", "x", "s", exact(9), Rank::Normal));
    let r = run(&ds);
    let w = find(&r, "what_if", "a-5");
    assert_eq!(
        w.message,
        "if t.a were 5 (claim a-5, source s): breakdown of t fails: \
         categories add up to 11 but t is 10 (t.a 5 + t.b 6)"
    );
    assert_eq!(w.figures, ["t.a", "t"]);
    // Uncertain under the claim: not reported.
    assert!(!r.results.iter().any(|x| x.subject == "a-3-5"));
    // x-small is violated already: the claim adds nothing.
    assert!(!r.results.iter().any(|x| x.subject == "x-9"));
}

#[test]
fn a_source_whose_own_table_does_not_add_up_is_caught() {
    let mut ds = dataset(
        vec![
            fig("fatalities", None, Some(Breakdown::Exhaustive), exact(334)),
            fig("fatalities.children", Some("fatalities"), None, exact(186)),
            fig("fatalities.adults", Some("fatalities"), None, exact(148)),
            fig("hostages", None, None, exact(1128)),
        ],
        vec![rule(
            "children-killed-held",
            "fatalities.children <= hostages",
            Severity::Warning,
        )],
    );
    ds.sources.push(source("officials-2004-09-07"));
    ds.sources.push(source("town"));
    // The officials' own table: 156 children + 148 adults, but a total of 334.
    ds.claims.push(claim(
        "off-334",
        "fatalities",
        "officials-2004-09-07",
        exact(334),
        Rank::Normal,
    ));
    ds.claims.push(claim(
        "off-156",
        "fatalities.children",
        "officials-2004-09-07",
        exact(156),
        Rank::Normal,
    ));
    ds.claims.push(claim(
        "off-148",
        "fatalities.adults",
        "officials-2004-09-07",
        exact(148),
        Rank::Normal,
    ));
    // An earlier statement of the same source is revised by the later one.
    let mut early = claim(
        "off-100",
        "fatalities.children",
        "officials-2004-09-07",
        exact(100),
        Rank::Normal,
    );
    early.as_of = Some(date("2004-09-04"));
    ds.claims.push(early);
    // A deprecated claim is not what the source states.
    ds.claims.push(claim(
        "off-9",
        "fatalities.adults",
        "officials-2004-09-07",
        exact(9),
        Rank::Deprecated,
    ));
    // The town states only the total: nothing to check.
    ds.claims.push(claim(
        "town-335",
        "fatalities",
        "town",
        exact(335),
        Rank::Normal,
    ));
    let r = run(&ds);

    let s = find(&r, "source:officials-2004-09-07", "officials-2004-09-07");
    assert_eq!(
        (s.outcome, s.severity),
        (Outcome::Violated, Severity::Warning)
    );
    assert_eq!(
        s.message,
        "officials-2004-09-07 contradicts itself: breakdown of fatalities fails: \
         categories add up to 304 but fatalities is 334 \
         (fatalities.children 156 + fatalities.adults 148)"
    );
    assert_eq!(
        s.figures,
        ["fatalities", "fatalities.children", "fatalities.adults"]
    );
    assert_eq!(s.sources, ["officials-2004-09-07"]);
    // The curated source agrees with itself, on the breakdown and the rule.
    let s = find(&r, "source:s", "s");
    assert_eq!(s.outcome, Outcome::Holds);
    assert_eq!(
        s.message,
        "s agrees with itself: 1 breakdown and 1 rule hold on its own figures"
    );
    assert!(!r.results.iter().any(|x| x.check == "source:town"));
    // A source's disagreement with itself is a warning: it does not block.
    assert_eq!(r.status, Outcome::Uncertain);
}

#[test]
fn source_checks_use_what_a_partial_source_states() {
    let mut ds = dataset(
        vec![
            fig("injured", None, Some(Breakdown::Partial), at_least(800)),
            fig("injured.hospital", Some("injured"), None, at_least(437)),
            fig(
                "injured.outpatients",
                Some("injured"),
                None,
                range(700, 753),
            ),
        ],
        vec![],
    );
    ds.sources.push(source("report"));
    ds.claims.push(claim(
        "r-500",
        "injured",
        "report",
        exact(500),
        Rank::Normal,
    ));
    ds.claims.push(claim(
        "r-700",
        "injured.outpatients",
        "report",
        exact(700),
        Rank::Normal,
    ));
    let r = run(&ds);
    let s = find(&r, "source:report", "report");
    assert_eq!(s.outcome, Outcome::Violated);
    assert_eq!(
        s.message,
        "report contradicts itself: breakdown of injured fails: \
         1 of 2 categories adds up to 700, more than injured 500 (injured.outpatients 700)"
    );
}

#[test]
fn text_and_json() {
    let r = run(&fatalities(exact(335)));
    let text = r.to_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(lines[0], "Blocks publishing (1):");
    assert!(lines[1].starts_with(
        "violated (error) breakdown fatalities: categories add up to 334 but fatalities is 335"
    ));
    assert_eq!(lines[2], "Needs a curator's attention (1):");
    assert!(
        lines[3].starts_with(
            "violated (warning) source:s: s contradicts itself: breakdown of fatalities fails"
        ),
        "{text}"
    );
    // What holds is counted, not listed; the joint conflict (the breakdown
    // alone with its figures' values) is not repeated.
    assert_eq!(
        lines[4],
        "Confirms consistency: 16 results (not listed); 0 figures with an implied range"
    );
    assert_eq!(
        lines[5],
        "test-event: violated — 18 results: 16 hold, 0 uncertain, 2 violated; 1 blocking"
    );

    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["event"], "test-event");
    assert_eq!(json["status"], "violated");
    let first = &json["results"][0];
    assert_eq!(first["check"], "breakdown");
    assert_eq!(first["subject"], "fatalities");
    assert_eq!(first["outcome"], "violated");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["figures"][1], "fatalities.children");
    assert_eq!(first["class"], "blocks");
    assert!(first.get("sources").is_none() && first.get("claim").is_none());
    let cited = &json["results"][1];
    assert_eq!(cited["check"], "cited");
    assert_eq!(cited["sources"], serde_json::json!(["s"]));
    assert_eq!(cited["class"], "consistent");
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn extreme_numbers_do_not_panic() {
    let big = Value {
        low: Some(i64::MIN),
        best: Some(i64::MAX),
        high: Some(i64::MAX),
    };
    let ds = dataset(
        vec![
            fig("t", None, Some(Breakdown::Exhaustive), exact(i64::MAX)),
            fig("t.a", Some("t"), None, exact(i64::MAX)),
            fig("t.b", Some("t"), None, big),
            fig("u", None, None, at_least(i64::MAX)),
        ],
        vec![
            rule(
                "r1",
                "9223372036854775807 * t.a - 9223372036854775807 * u = 3",
                Severity::Error,
            ),
            rule("r2", "2 * t + 4 * u + 6 * t.b = 1", Severity::Error),
            rule("r3", "t.a + t.b + u > 9223372036854775807", Severity::Error),
        ],
    );
    let r = run(&ds);
    assert_eq!(r.status, Outcome::Violated);
    assert!(find(&r, "range", "t.b")
        .message
        .contains("-9,223,372,036,854,775,808"));
    assert_eq!(find(&r, "rule:r2", "r2").outcome, Outcome::Violated);
    let _ = r.to_text();
}

#[test]
fn the_same_dataset_gives_the_same_report() {
    let ds = beslan();
    assert_eq!(run(&ds), run(&ds));
}

/// The Beslan dataset of `imports/`, read with the csv crate.
pub(super) fn beslan() -> Dataset {
    fn table<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
        csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .unwrap()
    }
    Dataset {
        event: table(include_str!("../../imports/beslan-2004/event.csv")).remove(0),
        sources: table(include_str!("../../imports/beslan-2004/sources.csv")),
        figures: table(include_str!("../../imports/beslan-2004/figures.csv")),
        claims: table(include_str!("../../imports/beslan-2004/claims.csv")),
        rules: table(include_str!("../../imports/beslan-2004/rules.csv")),
    }
}

#[test]
fn the_beslan_dataset_has_nothing_blocking() {
    let ds = beslan();
    assert_eq!(ds.validate(), vec![]);
    let r = run(&ds);
    assert!(r.blocking().is_empty(), "{}", r.to_text());
    assert_eq!(r.status, Outcome::Uncertain);

    let b = find(&r, "breakdown", "fatalities");
    assert_eq!(b.outcome, Outcome::Uncertain);
    assert!(b.message.starts_with(
        "the categories imply 334; fatalities says 334–335: its high end cannot be reached"
    ));
    assert_eq!(
        find(&r, "breakdown", "special_forces.killed").message,
        "2 categories add up to 10 = special_forces.killed 10"
    );
    let m = find(&r, "breakdown", "militants.entered");
    assert_eq!(m.outcome, Outcome::Uncertain);
    assert!(
        m.message.contains("militants.escaped unknown"),
        "{}",
        m.message
    );
    assert_eq!(
        find(
            &r,
            "rule:fsb-dead-are-special-forces",
            "fsb-dead-are-special-forces"
        )
        .outcome,
        Outcome::Holds
    );
    assert_eq!(
        find(&r, "within_sources", "fatalities").outcome,
        Outcome::Holds
    );
    // Wikipedia's open ends ("at least 437 hospitalised") leave its own
    // figures uncertain, not contradictory.
    let s = find(&r, "source:wikipedia-beslan", "wikipedia-beslan");
    assert_eq!(s.outcome, Outcome::Uncertain);
    assert!(
        s.message.starts_with(
            "wikipedia-beslan may contradict itself: breakdown of injured.total is uncertain: \
             injured.hospitalised 437+ can be more than injured.total 800+"
        ),
        "{}",
        s.message
    );

    let w = find(&r, "what_if", "hostages-official-354");
    assert!(
        w.message.starts_with(
            "if hostages.total were 354 (claim hostages-official-354, source officials-2004): \
             rule hostages-children-within-total fails: hostages.children 777 > hostages.total 354"
        ),
        "{}",
        w.message
    );
    let w = find(&r, "what_if", "hostages-official-200-400");
    assert!(
        w.message
            .contains("hostages.children 777 > hostages.total 200–400"),
        "{}",
        w.message
    );
    // The 156 children of 7 September against the table's other categories.
    let w = find(&r, "what_if", "children-killed-officials-156");
    assert!(
        w.message
            .contains("categories add up to 304 but fatalities is 334–335"),
        "{}",
        w.message
    );
}

/// A dataset of one breakdown for the property test.
fn breakdown_dataset(kind: Breakdown, parent: Value, children: &[Value]) -> Dataset {
    let mut figures = vec![fig("p", None, Some(kind), parent)];
    for (i, v) in children.iter().enumerate() {
        figures.push(fig(&format!("p.c{i}"), Some("p"), None, *v));
    }
    dataset(figures, vec![])
}

/// Largest value tried for an open end. With bounds below 6, at most three
/// terms, coefficients of at most 3 and constants of at most 6, a relation
/// true (or false) for some values is so for values at most 3·5 + 3·5 + 6 =
/// 36 (a first cap of 30 missed `0 - x0 + 3*x1 + 3*x2 = 0 - 4` with x1 = 4,
/// x2 = 5, x0 = 31), so the capped enumeration sees both kinds exactly when
/// the open intervals have them.
const CAP: i64 = 40;

fn values(v: &Value) -> std::ops::RangeInclusive<i64> {
    let iv = v.interval();
    let lo = i64::try_from(iv.lo).unwrap();
    lo..=iv.hi.map_or(CAP, |h| i64::try_from(h).unwrap())
}

fn brute_breakdown(kind: Breakdown, parent: &Value, children: &[Value]) -> Outcome {
    let mut seen = [false; 2];
    let mut stack = vec![(0usize, Vec::new())];
    while let Some((i, picked)) = stack.pop() {
        if i == children.len() {
            for p in values(parent) {
                let ok = match kind {
                    Breakdown::Exhaustive => picked.iter().sum::<i64>() == p,
                    Breakdown::Partial => picked.iter().sum::<i64>() <= p,
                    Breakdown::Overlapping => picked.iter().all(|c| *c <= p),
                };
                seen[usize::from(ok)] = true;
            }
            continue;
        }
        for x in values(&children[i]) {
            let mut next = picked.clone();
            next.push(x);
            stack.push((i + 1, next));
        }
    }
    match seen {
        [false, true] => Outcome::Holds,
        [true, false] => Outcome::Violated,
        _ => Outcome::Uncertain,
    }
}

fn small_value() -> impl Strategy<Value = Value> {
    (0i64..6, 0i64..6, 0u8..4).prop_map(|(a, b, shape)| {
        let (lo, hi) = (a.min(b), a.max(b));
        match shape {
            0 => exact(a),
            1 => range(lo, hi),
            2 => at_least(lo),
            _ => Value {
                low: Some(lo),
                best: Some(lo),
                high: Some(hi),
            },
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn breakdown_outcomes_agree_with_brute_force(
        kind in 0usize..3,
        parent in small_value(),
        children in proptest::collection::vec(small_value(), 1..=3),
    ) {
        let kind = Breakdown::ALL[kind];
        let r = run(&breakdown_dataset(kind, parent, &children));
        let b = find(&r, "breakdown", "p");
        prop_assert_eq!(b.outcome, brute_breakdown(kind, &parent, &children), "{}", b.message);
    }

    #[test]
    fn rule_outcomes_agree_with_brute_force_through_run(
        vals in proptest::collection::vec(small_value(), 3),
        coefs in proptest::collection::vec(-3i64..=3, 3),
        k in -6i64..=6,
        op in 0usize..5,
    ) {
        let op_text = ["=", "<=", ">=", "<", ">"][op];
        let figures = (0..3).map(|i| fig(&format!("x{i}"), None, None, vals[i])).collect();
        // The grammar has no unary minus: start from 0 and subtract.
        let mut lhs = "0".to_string();
        for (i, c) in coefs.iter().enumerate() {
            lhs.push_str(&format!(" {} {} * x{i}", if *c < 0 { '-' } else { '+' }, c.abs()));
        }
        let rhs = if k < 0 { format!("0 - {}", -k) } else { k.to_string() };
        let expression = format!("{lhs} {op_text} {rhs}");
        let ds = dataset(figures, vec![rule("r", &expression, Severity::Error)]);
        prop_assert_eq!(ds.validate(), vec![], "{}", expression);
        let r = run(&ds);
        let got = find(&r, "rule:r", "r").outcome;
        // Brute force over the three values.
        let mut seen = [false; 2];
        for a in values(&vals[0]) {
            for b in values(&vals[1]) {
                for c in values(&vals[2]) {
                    let s = coefs[0] * a + coefs[1] * b + coefs[2] * c;
                    let ok = match op_text {
                        "=" => s == k,
                        "<=" => s <= k,
                        ">=" => s >= k,
                        "<" => s < k,
                        _ => s > k,
                    };
                    seen[usize::from(ok)] = true;
                }
            }
        }
        let want = match seen {
            [false, true] => Outcome::Holds,
            [true, false] => Outcome::Violated,
            _ => Outcome::Uncertain,
        };
        prop_assert_eq!(got, want, "{}", expression);
    }
}

#[test]
fn approximate_claims_are_widened_by_the_events_approximation() {
    use crate::model::Qualifier;
    let mut ds = dataset(vec![fig("fire", None, None, exact(170))], vec![]);
    // "some 160" backs 170 at the default 10% (144–176) …
    ds.claims[0].best = Some(160);
    ds.claims[0].qualifier = Some(Qualifier::Approximate);
    let r = run(&ds);
    assert_eq!(find(&r, "within_sources", "fire").outcome, Outcome::Holds);
    assert_eq!(
        find(&r, "within_sources", "fire").message,
        "fire 170 lies within what its sources (s) say 144–176"
    );
    // … but not at 5% (152–168).
    ds.event.approximation = Some(5);
    let r = run(&ds);
    assert_eq!(
        find(&r, "within_sources", "fire").outcome,
        Outcome::Violated
    );
    // "more than 160" does not back 160 itself.
    ds.figures[0].best = Some(160);
    ds.claims[0].qualifier = Some(Qualifier::MoreThan);
    ds.claims[0].best = None;
    ds.claims[0].low = Some(160);
    let r = run(&ds);
    assert_eq!(
        find(&r, "within_sources", "fire").outcome,
        Outcome::Violated
    );
}

#[test]
fn a_sources_latest_claim_orders_by_date_then_publication_then_file_order() {
    let mut ds = dataset(
        vec![
            fig("total", None, Some(Breakdown::Exhaustive), exact(10)),
            fig("total.a", Some("total"), None, exact(10)),
        ],
        vec![],
    );
    ds.sources.push(source("o"));
    // The source's total: an undated 12, then (in file order) an undated 10.
    let mut c = claim("o-12", "total", "o", exact(12), Rank::Normal);
    c.as_of = None;
    ds.claims.push(c.clone());
    c.id = "o-10".into();
    c.best = Some(10);
    ds.claims.push(c);
    ds.claims
        .push(claim("o-a", "total.a", "o", exact(10), Rank::Normal));
    let outcome = |ds: &Dataset| find(&run(ds), "source:o", "o").outcome;
    // Undated claims of an undated source stand before dated ones; the
    // later in file order wins between the two undated.
    assert_eq!(outcome(&ds), Outcome::Holds);
    ds.claims.swap(2, 3);
    assert_eq!(outcome(&ds), Outcome::Violated);
    // An undated claim stands at the source's publication date: published
    // after 7 September 2004, the undated 12 (last in file order) is the
    // latest; published before, the dated claim of the part is unaffected
    // and the undated totals stay before any dated total.
    ds.sources[1].published_on = Some(date("2005"));
    let mut dated = claim("o-10-dated", "total", "o", exact(10), Rank::Normal);
    dated.as_of = Some(date("2004-09-07"));
    ds.claims.push(dated);
    assert_eq!(outcome(&ds), Outcome::Violated);
    ds.sources[1].published_on = Some(date("2004-09"));
    assert_eq!(outcome(&ds), Outcome::Holds);
}

#[test]
fn constraints_each_uncertain_can_be_impossible_together() {
    // a in 0..=10 and b in 0..=10: "a + b >= 15" and "a <= 3" are each
    // uncertain, and "b <= 10" holds; together the first two cannot hold.
    let ds = dataset(
        vec![
            fig("a", None, None, range(0, 10)),
            fig("b", None, None, range(0, 10)),
        ],
        vec![
            rule("sum", "a + b >= 15", Severity::Error),
            rule("small-a", "a <= 3", Severity::Error),
            rule("b-bound", "b <= 10", Severity::Error),
        ],
    );
    let r = run(&ds);
    assert_eq!(find(&r, "rule:sum", "sum").outcome, Outcome::Uncertain);
    assert_eq!(
        find(&r, "rule:small-a", "small-a").outcome,
        Outcome::Uncertain
    );
    let j = find(&r, "joint", "sum");
    assert_eq!(
        (j.outcome, j.severity, j.class),
        (Outcome::Violated, Severity::Error, Class::Blocks)
    );
    // Minimal: the two rules and b's range (a's is not needed: "a <= 3"
    // bounds it), not the rule that plays no part.
    assert_eq!(
        j.message,
        "these cannot all hold together: rule sum (a + b >= 15); rule small-a (a <= 3); b 0–10"
    );
    assert_eq!(r.status, Outcome::Violated);
    assert!(r.implied.is_empty());
    // As warnings, the same conflict needs attention and blocks nothing.
    let mut soft = ds.clone();
    for rule in &mut soft.rules {
        rule.severity = Severity::Warning;
    }
    let r = run(&soft);
    let j = find(&r, "joint", "sum");
    assert_eq!((j.outcome, j.class), (Outcome::Violated, Class::Attention));
    assert_ne!(r.status, Outcome::Violated);
    // Warnings do not narrow the implied ranges.
    assert_eq!(
        r.implied["a"],
        Implied {
            low: 0,
            high: Some(10)
        }
    );
}

#[test]
fn implied_ranges_in_the_report_and_a_warning_when_curated_is_wider() {
    let mut ds = beslan();
    let r = run(&ds);
    assert_eq!(
        r.implied["fatalities"],
        Implied {
            low: 334,
            high: Some(334)
        }
    );
    let w = find(&r, "implied", "fatalities");
    assert_eq!(
        (w.outcome, w.severity, w.class),
        (Outcome::Uncertain, Severity::Warning, Class::Attention)
    );
    assert_eq!(
        w.message,
        "fatalities is 334–335 but the ranges, breakdowns and rules together allow only 334: the curated range is wider than the sources and rules allow"
    );
    // "800+" injured, with about 700 outpatients and at least 437 admitted.
    let injured = ds
        .figures
        .iter_mut()
        .find(|f| f.key == "injured.total")
        .unwrap();
    injured.low = Some(800);
    let r = run(&ds);
    assert_eq!(
        r.implied["injured.total"],
        Implied {
            low: 1137,
            high: None
        }
    );
    assert!(find(&r, "implied", "injured.total")
        .message
        .contains("allow only 1,137+"));
    // Nothing the checks only confirm is listed in the text.
    let text = r.to_text();
    assert!(!text.contains("holds"), "{text}");
    assert!(text.contains("Confirms consistency: "), "{text}");
}

/// Every assignment of three small figures: whether the error rules and the
/// breakdown hold for some, and each figure's least and greatest value then.
fn brute_joint(ds: &Dataset) -> Option<[(i64, i64); 3]> {
    let iv = |k: &str| {
        let v = ds.figure(k).unwrap().value().interval();
        (v.lo as i64, v.hi.unwrap() as i64)
    };
    let (ra, rb, rc) = (iv("c.a"), iv("c.b"), iv("c"));
    let kind = ds.figure("c").unwrap().breakdown;
    let mut out: Option<[(i64, i64); 3]> = None;
    for a in ra.0..=ra.1 {
        for b in rb.0..=rb.1 {
            for c in rc.0..=rc.1 {
                let ok_breakdown = match kind {
                    Some(Breakdown::Exhaustive) => a + b == c,
                    Some(Breakdown::Partial) => a + b <= c,
                    Some(Breakdown::Overlapping) => a <= c && b <= c,
                    None => true,
                };
                let vals = |k: &str| match k {
                    "c.a" => a,
                    "c.b" => b,
                    _ => c,
                };
                let ok_rules = ds
                    .rules
                    .iter()
                    .filter(|r| r.severity == Severity::Error)
                    .all(|r| {
                        let e = crate::model::expr::parse(&r.expression).unwrap();
                        let lin = e.linear();
                        let s: i128 = lin
                            .terms
                            .iter()
                            .map(|(k, c)| c * i128::from(vals(k)))
                            .sum::<i128>()
                            + lin.constant;
                        e.op.test(s, 0)
                    });
                if ok_breakdown && ok_rules {
                    let o = out.get_or_insert([(a, a), (b, b), (c, c)]);
                    for (i, x) in [a, b, c].into_iter().enumerate() {
                        o[i].0 = o[i].0.min(x);
                        o[i].1 = o[i].1.max(x);
                    }
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn joint_judgement_agrees_with_brute_force(
        vals in proptest::collection::vec((0i64..6, 0i64..6), 3),
        kind in 0usize..4,
        rules in proptest::collection::vec(
            (1i64..=3, 0usize..3, 1i64..=3, 0usize..3, 0usize..5, 0i64..8, any::<bool>()),
            0..=3,
        ),
    ) {
        let keys = ["c.a", "c.b", "c"];
        let kinds = [None, Some(Breakdown::Exhaustive), Some(Breakdown::Partial), Some(Breakdown::Overlapping)];
        let v = |i: usize| range(vals[i].0.min(vals[i].1), vals[i].0.max(vals[i].1));
        let ds = dataset(
            vec![
                fig("c", None, kinds[kind].or(Some(Breakdown::Overlapping)), v(2)),
                fig("c.a", kinds[kind].map(|_| "c"), None, v(0)),
                fig("c.b", kinds[kind].map(|_| "c"), None, v(1)),
            ],
            rules
                .iter()
                .enumerate()
                .map(|(i, &(k1, x, k2, y, op, k, error))| {
                    let op = ["=", "<=", ">=", "<", ">"][op];
                    rule(
                        &format!("r{i}"),
                        &format!("{k1} * {} + {k} {op} {k2} * {}", keys[x], keys[y]),
                        if error { Severity::Error } else { Severity::Warning },
                    )
                })
                .collect(),
        );
        // Without a breakdown kind the figures are not linked by one.
        let mut ds = ds;
        if kinds[kind].is_none() {
            ds.figures[0].breakdown = None;
        }
        let r = run(&ds);
        let blocked = r.results.iter().any(|x| x.blocks());
        match brute_joint(&ds) {
            None => prop_assert!(blocked, "infeasible, yet nothing blocks: {}", r.to_text()),
            Some(b) => {
                prop_assert!(!r.results.iter().any(|x| x.check == "joint" && x.outcome == Outcome::Violated && x.severity == Severity::Error), "{}", r.to_text());
                for (i, k) in keys.iter().enumerate() {
                    let want = Implied { low: b[i].0, high: Some(b[i].1) };
                    prop_assert_eq!(r.implied[*k], want, "{}", k);
                }
            }
        }
    }
}
